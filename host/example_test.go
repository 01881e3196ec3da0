//go:build cgo

package host_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gadgetkit/gadgetkit/host"
)

// Find a loopback gadget by serial number, wait for it, and round-trip
// data through it, checking every byte.
func Example_loopback() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := host.Open(ctx, host.Options{Selector: host.Selector{Serial: "0001"}})
	if err != nil {
		log.Fatal(err) // errors.Is(err, host.ErrNotFound) after 30s
	}
	defer d.Close()
	p, err := d.Claim(0, 0)
	if err != nil {
		log.Fatal(err)
	}
	rounds, err := host.Loopback(ctx, p.Out, p.In, host.LoopbackOptions{
		Sizes:     host.DefaultLoopbackSizes(p.MaxPacket, 4096),
		MaxPacket: p.MaxPacket,
		Pattern:   host.Pattern{Kind: host.PatternRandom, Seed: 1},
	})
	if err != nil {
		log.Fatal(d.Classify(err)) // errors.Is(err, host.ErrGone) if it left
	}
	fmt.Println(len(rounds), "sizes looped back")
}

// Compare what the host sees with an earlier snapshot, ignoring the
// kernel-version bcdDevice.
func Example_verify() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := host.Open(ctx, host.Options{Selector: host.Selector{Vendor: 0x1d6b, Product: 0x0104}})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	got, err := d.Snapshot()
	if err != nil {
		log.Fatal(err)
	}
	var want host.Snapshot // e.g. decoded from `hosttest dump` output
	for _, diff := range host.Compare(&want, got, "device.bcdDevice") {
		fmt.Println(diff)
	}
}
