//go:build cgo

package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/usb"
)

func newDump(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "dump",
		Short: "Print every descriptor the host reads from the device, as JSON (verify --expect reads it back)",
		RunE: func(c *cobra.Command, _ []string) error {
			_, done, d, err := g.open(c)
			if err != nil {
				return err
			}
			defer done()
			s, err := d.Snapshot()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(s)
		},
	}
}

func newVerify(g *globals) *cobra.Command {
	var configFile, expectFile string
	var ignore []string
	c := &cobra.Command{
		Use:   "verify",
		Short: "Compare the descriptors the host sees with a gadget config file (-c) or a dump (--expect)",
		Long: `verify reads every descriptor the host sees (device, configurations,
interfaces, endpoints, SuperSpeed companions, strings in every language, BOS,
Microsoft OS descriptors) and prints each field that differs from the
expectation as PATH: want X, got Y. Exit status 1 when anything differs.

With -c, the expectation is what the gadget config file determines; fields
the file leaves to the kernel (bcdDevice when not set, string indices,
endpoint numbers FunctionFS assigns) are taken as seen.`,
		RunE: func(c *cobra.Command, _ []string) error {
			if (configFile == "") == (expectFile == "") {
				return usagef("verify needs exactly one of -c FILE and --expect FILE")
			}
			var want *host.Snapshot
			var cfg func(got *host.Snapshot, speed usb.Speed) (*host.Snapshot, error)
			if expectFile != "" {
				b, err := os.ReadFile(expectFile)
				if err != nil {
					return usagef("--expect: %v", err)
				}
				want = &host.Snapshot{}
				if err := json.Unmarshal(b, want); err != nil {
					return usagef("--expect %s: not a hosttest dump: %v", expectFile, err)
				}
			} else {
				f, err := os.Open(configFile)
				if err != nil {
					return usagef("-c: %v", err)
				}
				cfg, err = expectFromConfig(configFile, f)
				f.Close()
				if err != nil {
					return usageError{err}
				}
			}
			_, done, d, err := g.open(c)
			if err != nil {
				return err
			}
			defer done()
			got, err := d.Snapshot()
			if err != nil {
				return err
			}
			if cfg != nil {
				if want, err = cfg(got, d.Speed()); err != nil {
					return err
				}
			}
			diffs := host.Compare(want, got, ignore...)
			out := c.OutOrStdout()
			for _, df := range diffs {
				fmt.Fprintln(out, df)
			}
			if len(diffs) > 0 {
				return checkError{fmt.Errorf("%d descriptor fields differ", len(diffs))}
			}
			fmt.Fprintf(out, "ok: %s matches (%d configuration(s))\n", d.Info, len(got.Configs))
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&configFile, "config", "c", "", "gadget config file (YAML) the device was made from")
	f.StringVar(&expectFile, "expect", "", "JSON written by hosttest dump")
	f.StringSliceVar(&ignore, "ignore", nil, "field paths to skip, as path.Match patterns (e.g. device.bcdDevice, strings*)")
	return c
}
