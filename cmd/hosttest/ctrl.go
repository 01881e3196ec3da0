//go:build cgo

package main

import (
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/host"
)

func newCtrl(g *globals) *cobra.Command {
	var (
		typ, recipient, dir string
		request, value      string
		index, length, data string
	)
	c := &cobra.Command{
		Use:   "ctrl",
		Short: "Issue one control transfer and print what came back",
		Long: `ctrl sends one control request. IN requests read up to --length bytes and
print them in hex; OUT requests send --data (hex bytes). Numbers are decimal
or 0x-hexadecimal. Example, gadget zero's test buffer:
  hosttest ctrl --type vendor --dir out --request 0x5b --data "01 02 03"
  hosttest ctrl --type vendor --dir in --request 0x5c --length 3
A stall exits with status 5 and names it.`,
		RunE: func(c *cobra.Command, _ []string) error {
			if request == "" {
				return usagef("ctrl needs --request")
			}
			rt, err := host.RequestType(typ, recipient, dir)
			if err != nil {
				return usageError{err}
			}
			r := host.ControlRequest{RequestType: rt}
			num := func(flag, s string, bits int) uint64 {
				n, perr := host.ParseNumber(flag, s, bits)
				if perr != nil && err == nil {
					err = usageError{perr}
				}
				return n
			}
			r.Request = uint8(num("--request", request, 8))
			r.Value = uint16(num("--value", value, 16))
			r.Index = uint16(num("--index", index, 16))
			if r.In() {
				r.Length = int(num("--length", length, 16))
				if data != "" && err == nil {
					err = usagef("--data goes with --dir out; IN requests take --length")
				}
			} else {
				var herr error
				r.Data, herr = host.ParseHex(data)
				switch {
				case err != nil:
				case c.Flags().Changed("length"):
					err = usagef("--length goes with --dir in; OUT requests send --data")
				case herr != nil:
					err = usageError{herr}
				}
			}
			if err != nil {
				return err
			}
			_, done, d, err := g.open(c)
			if err != nil {
				return err
			}
			defer done()
			got, err := d.Do(r)
			if err != nil {
				return fmt.Errorf("control request bmRequestType %#02x bRequest %#02x wValue %#04x wIndex %#04x: %w", r.RequestType, r.Request, r.Value, r.Index, err)
			}
			if r.In() {
				fmt.Fprintf(c.OutOrStdout(), "%d bytes: %s\n", len(got), hex.EncodeToString(got))
			} else {
				fmt.Fprintf(c.OutOrStdout(), "ok: sent %d bytes\n", len(r.Data))
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&typ, "type", "vendor", "request type: standard, class or vendor")
	f.StringVar(&recipient, "recipient", "device", "recipient: device, interface, endpoint or other")
	f.StringVar(&dir, "dir", "in", "data direction: in or out")
	f.StringVar(&request, "request", "", "bRequest (required)")
	f.StringVar(&value, "value", "0", "wValue")
	f.StringVar(&index, "index", "0", "wIndex")
	f.StringVar(&length, "length", "0", "wLength of an IN request")
	f.StringVar(&data, "data", "", "hex bytes of an OUT request's data stage")
	return c
}
