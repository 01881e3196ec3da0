//go:build cgo

package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/host"
)

// pipeFlags select the interface whose bulk pair a command uses.
type pipeFlags struct {
	iface, alt int
}

func (p *pipeFlags) add(c *cobra.Command) {
	c.Flags().IntVar(&p.iface, "interface", 0, "interface number whose first bulk IN and OUT endpoints to use")
	c.Flags().IntVar(&p.alt, "alt", 0, "alternate setting of --interface")
}

func (p *pipeFlags) check() error {
	if p.iface < 0 || p.iface > 255 {
		return usagef("--interface %d: must be 0..255", p.iface)
	}
	if p.alt < 0 || p.alt > 255 {
		return usagef("--alt %d: must be 0..255", p.alt)
	}
	return nil
}

// parseSizes parses a comma-separated list of byte counts with optional
// K/M suffixes (binary): "0,1,512,4K,1M".
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := parseSize(f)
		if err != nil {
			return nil, err
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func parseSize(f string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(f, "K"), strings.HasSuffix(f, "k"):
		mult, f = 1<<10, f[:len(f)-1]
	case strings.HasSuffix(f, "M"), strings.HasSuffix(f, "m"):
		mult, f = 1<<20, f[:len(f)-1]
	}
	n, err := strconv.Atoi(f)
	if err != nil || n < 0 || n > (1<<30)/mult {
		return 0, fmt.Errorf("size %q: want a byte count up to 1G, optionally with K or M", f)
	}
	return n * mult, nil
}

func newLoopback(g *globals) *cobra.Command {
	var (
		pf      pipeFlags
		sizes   string
		pattern string
		bufLen  int
		chunk   string
	)
	c := &cobra.Command{
		Use:   "loopback",
		Short: "Write data OUT, read it back IN and check every byte (a loopback function)",
		Long: `loopback writes each size to the bulk OUT endpoint and reads it back from
bulk IN, checking every byte against a pattern that runs on across sizes.
Writes and reads overlap, since a loopback function buffers little. A write
that is a multiple of wMaxPacketSize (0 included) ends with a zero-length
packet, or the gadget's larger request would wait for more. The default
sizes cover 0, 1, one packet and its neighbours, one --buflen request and
its neighbours, and up to 4 MiB.`,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := pf.check(); err != nil {
				return err
			}
			pat, err := host.ParsePattern(pattern)
			if err != nil {
				return usagef("--pattern: %v", err)
			}
			chunkBytes, err := parseSize(chunk)
			if err != nil {
				return usagef("--chunk: %v", err)
			}
			var list []int
			if sizes != "" {
				if list, err = parseSizes(sizes); err != nil {
					return usagef("--sizes: %v", err)
				}
			}
			if bufLen <= 0 {
				return usagef("--buflen %d: must be positive", bufLen)
			}
			ctx, done, d, err := g.open(c)
			if err != nil {
				return err
			}
			defer done()
			p, err := d.Claim(pf.iface, pf.alt)
			if err != nil {
				return err
			}
			if list == nil {
				list = host.DefaultLoopbackSizes(p.MaxPacket, bufLen)
			}
			if chunkBytes < p.MaxPacket {
				return usagef("--chunk %d: smaller than wMaxPacketSize %d", chunkBytes, p.MaxPacket)
			}
			// An earlier command (bench, a cancelled loopback) may have left
			// data in the gadget: end any partial request and drain IN.
			if err := (&host.LoopbackChecker{}).Resync(ctx, p); err != nil {
				return d.Classify(err)
			}
			start := time.Now()
			rounds, err := host.Loopback(ctx, p.Out, p.In, host.LoopbackOptions{Sizes: list, MaxPacket: p.MaxPacket, Chunk: chunkBytes, Pattern: pat})
			out := c.OutOrStdout()
			var total int64
			for _, r := range rounds {
				zlp := ""
				if r.ZLP {
					zlp = " +ZLP"
				}
				fmt.Fprintf(out, "ok %9d bytes%s in %v\n", r.Size, zlp, r.Duration.Round(time.Microsecond))
				total += int64(r.Size)
			}
			if err != nil {
				return d.Classify(err)
			}
			el := time.Since(start)
			mb, _ := host.Rate(total, 0, el)
			fmt.Fprintf(out, "ok: %d sizes, %d bytes each way in %v (%.2f MB/s), pattern %v\n", len(rounds), total, el.Round(time.Millisecond), mb, pat)
			return nil
		},
	}
	pf.add(c)
	f := c.Flags()
	f.StringVar(&sizes, "sizes", "", "comma-separated byte counts with optional K/M, e.g. 0,1,511,512,4K,1M (default: boundary set)")
	f.StringVar(&pattern, "pattern", "random", "data pattern: zero, mod63, random[:SEED], each with optional /PERIOD")
	f.IntVar(&bufLen, "buflen", 4096, "the gadget's request size (Loopback's bulk_buflen), for the default sizes")
	f.StringVar(&chunk, "chunk", "64K", "largest single transfer")
	return c
}
