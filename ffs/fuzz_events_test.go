package ffs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// FuzzEvents: an ep0 read of any bytes either decodes to exactly one event
// per 12 bytes, each carrying the type byte and (for SETUP only) the
// little-endian SETUP fields, or is refused; what was in dst is kept; the
// state machine accepts any decoded sequence and never leaves the known
// states. Seeds are in testdata/fuzz/FuzzEvents.
func FuzzEvents(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		prev := Event{Type: EventResume, Setup: Setup{Request: 9}}
		got, err := DecodeEvents([]Event{prev}, b)
		if len(got) == 0 || got[0] != prev {
			t.Fatalf("dst's first event became %v", got)
		}
		evs := got[1:]
		valid := len(b)%eventSize == 0
		for i := 8; valid && i < len(b); i += eventSize {
			valid = b[i] <= byte(EventResume)
		}
		if !valid {
			if err == nil {
				t.Fatalf("% x decoded to %v without error", b, evs)
			}
			return
		}
		if err != nil {
			t.Fatalf("% x: %v", b, err)
		}
		if len(evs) != len(b)/eventSize {
			t.Fatalf("%d bytes decoded to %d events", len(b), len(evs))
		}
		s := StateUnbound
		for i, ev := range evs {
			raw := b[i*eventSize:]
			if ev.Type != EventType(raw[8]) {
				t.Fatalf("event %d type %v, raw byte %d", i, ev.Type, raw[8])
			}
			var want Setup
			if ev.Type == EventSetup {
				want = Setup{raw[0], raw[1], binary.LittleEndian.Uint16(raw[2:]),
					binary.LittleEndian.Uint16(raw[4:]), binary.LittleEndian.Uint16(raw[6:])}
			}
			if ev.Setup != want {
				t.Fatalf("event %d (%v) setup %v, want %v", i, ev.Type, ev.Setup, want)
			}
			if ev.Type == EventSetup && ev.Setup.IsIn() != (raw[0]&0x80 != 0) {
				t.Fatalf("event %d: IsIn %v for bmRequestType %#x", i, ev.Setup.IsIn(), raw[0])
			}
			s = s.next(ev.Type)
			if s < StateUnbound || s > StateSuspended {
				t.Fatalf("state %v after %v", s, ev.Type)
			}
		}
	})
}

// FuzzRun feeds Run a sequence of ep0 reads (each is a length byte, capped
// at f_fs's 4 events, and that many bytes) through a socketpair and checks
// that Run hands every event to OnEvent or OnControl in order, tracks the
// state the state machine gives, and stops with an error at the first read
// that does not decode, and only there. The handler answers every request
// without reading ep0 (IN: an empty Write; OUT: Ack or a stall, which f_fs
// takes as a write), so the fake ep0's queued reads stay in order. Seeds
// are in testdata/fuzz/FuzzRun.
func FuzzRun(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var reads [][]byte
		// At most 64 reads: all are queued in the socket before Run starts,
		// and more small records than its buffer holds would fail the
		// write (EAGAIN), a limit of the fake, not of Run.
		for i := 0; i < len(b) && len(reads) < 64; {
			n := min(int(b[i]), 4*eventSize, len(b)-i-1)
			reads = append(reads, b[i+1:i+1+n])
			i += 1 + n
		}
		// The model: the events of each read until the first bad one.
		var want []Event
		bad := false
		for _, r := range reads {
			evs, err := DecodeEvents(nil, r)
			if err != nil {
				bad = true
				break
			}
			want = append(want, evs...)
		}
		// A last read carries a marker SETUP that stops Run when it arrives.
		marker := Event{Type: EventSetup, Setup: Setup{RequestType: 0xc0, Request: 0xee}}
		if !bad {
			reads = append(reads, []byte{0xc0, 0xee, 0, 0, 0, 0, 0, 0, byte(EventSetup), 0, 0, 0})
		}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fn, peer := runnable(t)
		var got []Event
		state := StateUnbound
		fn.cfg.OnEvent = func(ev Event) {
			got = append(got, ev)
			state = state.next(ev.Type)
			if fn.State() != state {
				t.Fatalf("after %v the Function is %v, the state machine says %v", ev.Type, fn.State(), state)
			}
		}
		fn.cfg.OnControl = func(c *Control) error {
			ev := Event{Type: EventSetup, Setup: c.Setup}
			if len(got) == len(want) && ev == marker {
				cancel()
			} else {
				got = append(got, ev)
			}
			switch {
			case c.IsIn():
				return c.Write(nil)
			case c.Length == 0:
				return c.Ack()
			}
			return errors.New("OUT data stage: stalled")
		}
		for _, r := range reads {
			if _, err := unix.Write(peer, r); err != nil {
				t.Fatal(err)
			}
		}
		err := fn.Run(ctx)
		if bad {
			if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run returned %v, want the decode error of a bad read", err)
			}
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v after every read decoded", err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Run delivered %v, want %v", got, want)
		}
	})
}

// runnable is a Function that Run can serve without a kernel: its ep0 is
// one end of a SOCK_SEQPACKET pair, each record written to peer one read.
func runnable(t *testing.T) (fn *Function, peer int) {
	fn = &Function{changed: make(chan struct{}), eng: &engine{closing: make(chan struct{})}}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fn.ep0 = os.NewFile(uintptr(fds[0]), "fake-ep0")
	t.Cleanup(func() { fn.ep0.Close(); unix.Close(fds[1]) })
	if fn.ep0raw, err = fn.ep0.SyscallConn(); err != nil {
		t.Fatal(err)
	}
	return fn, fds[1]
}
