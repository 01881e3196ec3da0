//go:build cgo

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/host"
)

func newBench(g *globals) *cobra.Command {
	var (
		pf       pipeFlags
		dir      string
		size     string
		inFlight int
		duration time.Duration
		total    string
		pattern  string
		check    bool
		asJSON   bool
		progress bool
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure bulk IN, OUT or both: MB/s, transfers/s, latency percentiles",
		Long: `bench keeps --in-flight transfers of --size bytes in flight in each
selected direction for --duration (or until --bytes per direction) and
reports throughput and per-transfer latency (submission to completion;
p50/p90/p99 by nearest rank). OUT data is --pattern, each transfer from the
pattern's start (mod63/512 is SourceSink's pattern=1 at high speed); --check
verifies IN data the same way. --json prints one object documented in
README.md. A progress line goes to stderr when it is a terminal.`,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := pf.check(); err != nil {
				return err
			}
			if dir != "in" && dir != "out" && dir != "both" {
				return usagef("--dir %q: want in, out or both", dir)
			}
			reqSize, err := parseSize(size)
			if err != nil || reqSize == 0 {
				return usagef("--size %q: want a positive byte count", size)
			}
			var limit int
			if total != "" {
				if limit, err = parseSize(total); err != nil {
					return usagef("--bytes: %v", err)
				}
			}
			if inFlight < 1 || inFlight > 1024 {
				return usagef("--in-flight %d: must be 1..1024", inFlight)
			}
			if duration < 0 || duration >= g.timeout {
				return usagef("--duration %v: must be below --timeout %v", duration, g.timeout)
			}
			if duration == 0 && limit == 0 {
				return usagef("--duration 0 needs --bytes")
			}
			pat, err := host.ParsePattern(pattern)
			if err != nil {
				return usagef("--pattern: %v", err)
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
			o := host.BenchOptions{RequestSize: reqSize, InFlight: inFlight, Duration: duration, Bytes: int64(limit), Pattern: pat, CheckIn: check}
			if dir != "out" {
				o.In = p.In
			}
			if dir != "in" {
				o.Out = p.Out
			}
			stderr := c.ErrOrStderr()
			if progress && isTerminal(stderr) {
				o.Progress = func(in, out int64, el time.Duration) {
					inMB, _ := host.Rate(in, 0, el)
					outMB, _ := host.Rate(out, 0, el)
					fmt.Fprintf(stderr, "\r%6.1fs  in %8.2f MB/s  out %8.2f MB/s ", el.Seconds(), inMB, outMB)
				}
				defer fmt.Fprintln(stderr)
			}
			r, err := host.Bench(ctx, o)
			if err != nil {
				return d.Classify(err)
			}
			if asJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			printBench(c.OutOrStdout(), r)
			return nil
		},
	}
	pf.add(c)
	f := c.Flags()
	f.StringVar(&dir, "dir", "in", "direction: in, out or both")
	f.StringVar(&size, "size", "64K", "bytes per transfer, optionally with K or M")
	f.IntVar(&inFlight, "in-flight", 4, "transfers in flight per direction")
	f.DurationVar(&duration, "duration", 5*time.Second, "how long to run")
	f.StringVar(&total, "bytes", "", "stop each direction after this many bytes")
	f.StringVar(&pattern, "pattern", "zero", "OUT data (and IN data with --check): zero, mod63/512, random[:SEED]")
	f.BoolVar(&check, "check", false, "check IN data against --pattern")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON (see README.md)")
	f.BoolVar(&progress, "progress", true, "show progress on stderr when it is a terminal")
	return c
}

func printBench(w io.Writer, r *host.BenchResult) {
	fmt.Fprintf(w, "%d-byte transfers, %d in flight, %.2fs\n", r.RequestSize, r.InFlight, r.Seconds)
	for _, d := range []struct {
		name string
		r    *host.DirResult
	}{{"in", r.In}, {"out", r.Out}} {
		if d.r == nil {
			continue
		}
		l := d.r.Latency
		fmt.Fprintf(w, "%-3s %10.2f MB/s %10.1f transfers/s  latency us: p50 %.0f  p90 %.0f  p99 %.0f  max %.0f  (%d transfers, %d bytes)\n",
			d.name, d.r.MBPerSec, d.r.TransfersSec, l.P50, l.P90, l.P99, l.Max, d.r.Transfers, d.r.Bytes)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
