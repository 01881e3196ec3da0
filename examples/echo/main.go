// Command echo is a minimal custom USB function: a vendor interface echoing
// bulk OUT to bulk IN, with one vendor request. Mount functionfs
// (mount -t functionfs echo /run/ffs/echo), run echo, then bind the gadget.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"os/signal"
	"syscall"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/usb"
)

func run(ctx context.Context, dir string) error {
	f, err := ffs.Open(dir, ffs.Config{
		Descriptors: &ffs.Descriptors{Interfaces: []ffs.Interface{{
			Class: usb.ClassVendorSpecific, Name: 1,
			Endpoints: []ffs.Endpoint{
				{Address: usb.Address(1, usb.Out), Type: usb.Bulk},
				{Address: usb.Address(2, usb.In), Type: usb.Bulk},
			},
		}}},
		Strings: &ffs.Strings{Languages: []ffs.Language{{ID: usb.LangEnglishUS, Strings: []string{"echo"}}}},
		OnControl: func(c *ffs.Control) error { // vendor IN request 1: the version
			if c.RequestType != 0xc1 || c.Request != 1 || c.Length < 2 {
				return c.Stall()
			}
			return c.Write([]byte{1, 0})
		},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	go f.Run(ctx)
	for ctx.Err() == nil { // one pass per connection: wait for ENABLE, echo until cut
		if err := f.WaitState(ctx, ffs.StateEnabled); err != nil {
			return err
		}
		in, out := f.EP("ep2").NewWriter(ctx), f.EP("ep1").NewReader(ctx)
		_, err := io.Copy(in, out) // ends with ffs.ErrShutdown when the host goes
		log.Printf("echo stopped: %v", err)
		in.Close()
		out.Close()
	}
	return ctx.Err()
}

func main() {
	dir := flag.String("dir", "/run/ffs/echo", "FunctionFS mount point")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Fatal(run(ctx, *dir))
}
