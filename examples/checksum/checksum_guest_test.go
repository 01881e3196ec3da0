//go:build cgo

// The host side needs libusb (cgo); the function itself builds without it.

package checksum

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// The function as the host sees it: through dummy_hcd and libusb, in the
// vmtest guest, with gadgetkit's public guest and host packages only.
func TestChecksumFromHost(t *testing.T) {
	guest.Require(t) // in the guest: configfs, usb_f_fs and dummy_hcd are there
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{"ffs.sum"}})
	f, err := Open(g.FFS("sum"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard only
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- f.Serve(ctx) }()
	// Registered after NewGadget's, so it runs first on every path: the
	// function lets go of ep0 and its endpoint files before the gadget is
	// unbound and functionfs unmounted.
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve after its context was cancelled: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := g.Bind(); err != nil { // Open wrote the descriptors
		t.Fatal(err)
	}

	d, err := host.Open(ctx, host.Options{Selector: host.Selector{Serial: g.Serial}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, err := d.Claim(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Sizes around the packet size: a short packet ends each transfer; a
	// multiple of it needs a zero-length packet after it.
	sizes := []int{1, 100, p.MaxPacket - 1, p.MaxPacket + 1, 3000, MaxTransfer - 1}
	pat := host.Pattern{Kind: host.PatternRandom, Seed: 7}
	for i, n := range sizes {
		data := make([]byte, n)
		pat.Fill(data, 0)
		if _, err := p.Out.WriteContext(ctx, data); err != nil {
			t.Fatalf("OUT %d bytes: %v", n, d.Classify(err))
		}
		sum := make([]byte, p.MaxPacket)
		got, err := p.In.ReadContext(ctx, sum)
		if err != nil {
			t.Fatalf("IN after %d bytes: %v", n, d.Classify(err))
		}
		if want := crc32.ChecksumIEEE(data); got != 4 || binary.LittleEndian.Uint32(sum) != want {
			t.Fatalf("transfer %d (%d bytes): the function answered % x, want %08x", i, n, sum[:got], want)
		}
	}

	count := make([]byte, 4)
	if n, err := d.Control(RequestTypeCount, RequestCount, 0, 0, count); err != nil || n != 4 {
		t.Fatalf("count request: %d bytes, %v", n, err)
	}
	if got := binary.LittleEndian.Uint32(count); got != uint32(len(sizes)) {
		t.Fatalf("count request answered %d, want %d", got, len(sizes))
	}
	if _, err := d.Control(RequestTypeCount, 9, 0, 0, count); !errors.Is(d.Classify(err), host.ErrStall) {
		t.Fatalf("an unknown vendor request answered %v, want a stall", err)
	}

}
