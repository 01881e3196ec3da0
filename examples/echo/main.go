// Command echo is a minimal custom USB function: a vendor interface echoing
// bulk OUT to bulk IN, with one vendor request. Mount functionfs
// (mount -t functionfs echo /run/ffs/echo), run echo, then bind the gadget.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	ctx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- f.Run(ctx); cancel() }() // an ep0 failure stops the echo too
	// One pass per connection: wait for ENABLE (WaitState fails once Run
	// has returned), echo until cut.
	for ctx.Err() == nil && f.WaitState(ctx, ffs.StateEnabled) == nil {
		in, out := f.EP("ep2").NewWriter(ctx), f.EP("ep1").NewReader(ctx)
		_, err := io.Copy(in, out) // ends with ffs.ErrShutdown when the host goes
		log.Printf("echo stopped: %v", err)
		in.Close()
		out.Close()
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		return fmt.Errorf("ep0: %w", err)
	}
	return nil // stopped by a signal
}

func main() {
	dir := flag.String("dir", "/run/ffs/echo", "FunctionFS mount point")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dir); err != nil {
		log.Fatal(err) // exit status 1
	}
}
