package gadget

import (
	"errors"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/ffs"
)

func TestPatternMod63RestartsEveryPacket(t *testing.T) {
	for _, mp := range []int{64, 512, 1024} {
		buf := make([]byte, 4096)
		fillPattern(buf, config.PatternMod63, mp)
		for i, b := range buf {
			// f_sourcesink: (i % max_packet_size) % 63 within each request.
			if want := byte(i % mp % 63); b != want {
				t.Fatalf("mp %d: byte %d is %d, want %d", mp, i, b, want)
			}
		}
		want := make([]byte, mp)
		fillPattern(want, config.PatternMod63, mp)
		if err := checkPattern(buf, config.PatternMod63, want); err != nil {
			t.Errorf("mp %d: own pattern refused: %v", mp, err)
		}
		// A short transfer is the beginning of a packet.
		if err := checkPattern(buf[:mp+mp/2], config.PatternMod63, want); err != nil {
			t.Errorf("mp %d: short transfer refused: %v", mp, err)
		}
		buf[mp+3]++
		err := checkPattern(buf, config.PatternMod63, want)
		if !errors.Is(err, errPattern) || !strings.Contains(err.Error(), "byte "+strconv.Itoa(mp+3)+" ") {
			t.Errorf("mp %d: a changed byte %d gave %v", mp, mp+3, err)
		}
	}
}

func TestPatternZerosAndNone(t *testing.T) {
	buf := []byte{9, 9, 9}
	fillPattern(buf, config.PatternZeros, 512)
	zeros := make([]byte, 512)
	if err := checkPattern(buf, config.PatternZeros, zeros); err != nil || buf[2] != 0 {
		t.Fatalf("zeros: %v % x", err, buf)
	}
	buf[1] = 1
	if err := checkPattern(buf, config.PatternZeros, zeros); !errors.Is(err, errPattern) {
		t.Errorf("zeros accepted a 1: %v", err)
	}
	if err := checkPattern([]byte{1, 2, 3}, config.PatternNone, zeros); err != nil {
		t.Errorf("pattern none checks data: %v", err)
	}
}

func TestEPStats(t *testing.T) {
	var reported []string
	inFlight := 3
	s := &epStats{name: "ep2", errs: map[string]uint64{}, inFlight: func() int { return inFlight },
		onError: func(ep string, err error) { reported = append(reported, ep) }}
	s.done(100, nil)
	s.done(0, &ffs.TransferError{Endpoint: "ep2", Op: "read", Kind: ffs.ErrCancelled, Errno: syscall.ECONNRESET})
	shut := &ffs.TransferError{Endpoint: "ep2", Op: "read", Kind: ffs.ErrShutdown, Errno: syscall.ESHUTDOWN}
	s.done(0, shut)
	s.fail("pattern", errPattern)
	inFlight = 1
	st := s.status()
	if st.InFlight != 1 || st.Bytes != 100 || st.Completions != 1 || st.Cancellations != 1 {
		t.Errorf("counters %+v", st)
	}
	if st.Errors["shutdown"] != 1 || st.Errors["pattern"] != 1 || len(st.Errors) != 2 {
		t.Errorf("errors by kind %v, want shutdown 1 and pattern 1", st.Errors)
	}
	if st.LastError != errPattern.Error() || st.LastErrorAt == nil {
		t.Errorf("last error %q at %v", st.LastError, st.LastErrorAt)
	}
	if len(reported) != 2 {
		t.Errorf("%d errors reported, want 2 (a cancellation is not one)", len(reported))
	}
	if k := errorKind(errors.New("x")); k != "other" {
		t.Errorf("kind of a plain error: %q", k)
	}
}
