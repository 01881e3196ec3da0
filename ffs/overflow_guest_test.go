package ffs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"
)

// TestHostSendsMoreThanRead has the host send more OUT data than the
// gadget's read asked for: in one short packet, in one full packet, in a
// transfer of several packets, and (with the rounding to wMaxPacketSize
// turned off) into a request shorter than the packet. Each time the gadget
// gets what fits with the documented error, nothing of the excess shows up
// in a later transfer except the rest of a multi-packet host transfer, and
// the next transfer arrives intact.
func TestHostSendsMoreThanRead(t *testing.T) {
	r := newRig(t, Config{QueueDepth: 2, RequestSize: 16384})
	mp := r.out.MaxPacketSize()
	if mp != 512 {
		t.Fatalf("wMaxPacketSize %d at high speed, want 512", mp)
	}
	seed := byte(0)
	pattern := func(n int) []byte {
		seed++
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7) ^ seed
		}
		return p
	}
	type sent struct {
		n   int
		err error
	}
	// send writes p from the host in one bulk transfer, which completes
	// only once the gadget has taken it.
	send := func(p []byte) <-chan sent {
		done := make(chan sent, 1)
		go func() {
			n, err := r.hostWrite(p)
			done <- sent{n, err}
		}()
		return done
	}
	hostDone := func(what string, ch <-chan sent, want int) {
		t.Helper()
		select {
		case s := <-ch:
			if s.err != nil || s.n != want {
				t.Fatalf("%s: the host's write returned %d, %v; want %d bytes", what, s.n, s.err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the host's write did not complete", what)
		}
	}
	read := func(size int) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		buf := make([]byte, size)
		n, err := r.out.Read(ctx, buf)
		return buf[:n], err
	}
	// next checks that a transfer after the excess arrives whole and alone.
	next := func(what string) {
		t.Helper()
		p := pattern(700) // a full packet and a short one
		h := send(p)
		got, err := read(4096)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("after %s: the next transfer read %d bytes (%v), want its %d: stale data of the excess?", what, len(got), err, len(p))
		}
		hostDone(what+": next transfer", h, len(p))
	}

	// A short packet longer than the read: the read is rounded up to a
	// packet, so the kernel takes all of it; Read keeps what fits.
	p := pattern(300)
	h := send(p)
	got, err := read(100)
	if !errors.Is(err, io.ErrShortBuffer) || !bytes.Equal(got, p[:100]) {
		t.Fatalf("300 bytes into a read of 100: %d bytes, %v; want the first 100 and io.ErrShortBuffer", len(got), err)
	}
	hostDone("300 bytes into 100", h, 300)
	next("300 bytes into 100")

	// A full packet into a read of 100: the same.
	p = pattern(mp)
	h = send(p)
	got, err = read(100)
	if !errors.Is(err, io.ErrShortBuffer) || !bytes.Equal(got, p[:100]) {
		t.Fatalf("a full packet into a read of 100: %d bytes, %v; want the first 100 and io.ErrShortBuffer", len(got), err)
	}
	hostDone("a full packet into 100", h, mp)
	next("a full packet into 100")

	// A host transfer of three packets and a short one into a read of
	// 100: the read's request holds one packet, so the rest of the host's
	// transfer is the next read's, up to its short packet. Bulk data has
	// no boundaries but short packets; what Read drops is the rest of the
	// one packet it cut.
	p = pattern(3*mp + 100)
	h = send(p)
	got, err = read(100)
	if !errors.Is(err, io.ErrShortBuffer) || !bytes.Equal(got, p[:100]) {
		t.Fatalf("%d bytes into a read of 100: %d bytes, %v; want the first 100 and io.ErrShortBuffer", len(p), len(got), err)
	}
	got, err = read(4096)
	if err != nil || !bytes.Equal(got, p[mp:]) {
		t.Fatalf("the read after a cut multi-packet transfer: %d bytes (%v), want the transfer's last %d from its second packet on", len(got), err, len(p)-mp)
	}
	hostDone("a multi-packet transfer into 100", h, len(p))
	next("a multi-packet transfer into 100")

	// Without the rounding (as when wMaxPacketSize is not known) the
	// request is as short as the read, and a longer packet overflows it.
	// On Linux 6.1's dummy_hcd the gadget's request completes with
	// -EOVERFLOW and no data, while the host's transfer ends as if the
	// gadget had taken the 100 bytes that fit: the rest of the packet is
	// lost on both sides, and nothing of it reaches a later transfer.
	r.out.maxPacket.Store(0)
	p = pattern(300)
	h = send(p)
	got, err = read(100)
	r.out.maxPacket.Store(uint32(mp))
	if !errors.Is(err, ErrOverflow) || !errors.Is(err, syscall.EOVERFLOW) || len(got) != 0 {
		t.Fatalf("300 bytes into a request of 100: %d bytes, %v; want none and ErrOverflow", len(got), err)
	}
	hostDone("300 bytes into a request of 100", h, 100)
	next("300 bytes into a request of 100")
}
