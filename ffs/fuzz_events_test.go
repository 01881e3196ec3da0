package ffs

import (
	"encoding/binary"
	"testing"
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
