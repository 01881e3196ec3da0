package usbtest

import (
	"fmt"
	"strings"
	"testing"
)

// simpleIOBytes replays usbtest's simple_io loop for tests 3 and 4: the
// first transfer is length bytes, then the size steps by vary modulo length.
func simpleIOBytes(iterations, length, vary int) uint64 {
	var sum uint64
	max, l := length, length
	for i := 0; i < iterations; i++ {
		sum += uint64(l)
		l += vary
		l %= max
		if l == 0 {
			if vary < max {
				l = vary
			} else {
				l = max
			}
		}
	}
	return sum
}

// sglistBytes replays alloc_sglist's entry sizes for tests 7 and 8, times
// the iterations.
func sglistBytes(iterations, sglen, length, vary int) uint64 {
	var per uint64
	size := length
	for i := 0; i < sglen; i++ {
		per += uint64(size)
		size += vary
		size %= length
		if size == 0 {
			if vary < length {
				size = vary
			} else {
				size = length
			}
		}
	}
	return per * uint64(iterations)
}

func TestBytesVariedMatchesKernelLoops(t *testing.T) {
	for length := 1; length <= 40; length++ {
		for vary := 1; vary <= 90; vary += 3 {
			for _, n := range []int{1, 2, 3, 7, 64, 129, 1000} {
				p := Params{Test: 3, Iterations: uint32(n), Length: uint32(length), Vary: uint32(vary)}
				got, ok := p.Bytes()
				if want := simpleIOBytes(n, length, vary); !ok || got != want {
					t.Fatalf("test 3 length %d vary %d iterations %d: %d (ok %v), want %d", length, vary, n, got, ok, want)
				}
				if n > MaxSGLen {
					continue
				}
				p = Params{Test: 8, Iterations: 5, Length: uint32(length), Vary: uint32(vary), SGLen: uint32(n)}
				got, ok = p.Bytes()
				if want := sglistBytes(5, n, length, vary); !ok || got != want {
					t.Fatalf("test 8 length %d vary %d sglen %d: %d (ok %v), want %d", length, vary, n, got, ok, want)
				}
			}
		}
	}
}

// Many periods of a long sequence: the period shortcut must agree with
// walking every transfer.
func TestBytesVariedLong(t *testing.T) {
	for _, c := range []struct{ n, length, vary int }{
		{3_000_001, 4096, 512},
		{2_000_000, 65536, 1000},
		{1_000_003, 512, 513},
		{1_000_000, 1000, 3000},
	} {
		p := Params{Test: 4, Iterations: uint32(c.n), Length: uint32(c.length), Vary: uint32(c.vary)}
		got, ok := p.Bytes()
		if want := simpleIOBytes(c.n, c.length, c.vary); !ok || got != want {
			t.Errorf("%+v: %d (ok %v), want %d", c, got, ok, want)
		}
	}
}

func TestBytesFixed(t *testing.T) {
	for _, c := range []struct {
		p    Params
		want uint64
		ok   bool
	}{
		{Params{Test: 1, Iterations: 1000, Length: 512}, 512_000, true},
		{Params{Test: 20, Iterations: 10, Length: 4097}, 40_970, true},
		{Params{Test: 27, Iterations: 100, Length: 65536, SGLen: 8}, 52_428_800, true},
		{Params{Test: 6, Iterations: 3, Length: 100, SGLen: 32}, 9_600, true},
		{Params{Test: 9, Iterations: 10, Length: 512}, 0, false},                       // control: no bulk payload
		{Params{Test: 3, Iterations: 10, Length: 512}, 0, false},                       // vary 0: usbtest refuses
		{Params{Test: 29, Iterations: 10, Length: 512}, 0, false},                      // size depends on wMaxPacketSize
		{Params{Test: 28, Iterations: 1 << 31, Length: 1 << 31, SGLen: 128}, 0, false}, // overflows
	} {
		got, ok := c.p.Bytes()
		if got != c.want || ok != c.ok {
			t.Errorf("%+v: Bytes() = %d, %v; want %d, %v", c.p, got, ok, c.want, c.ok)
		}
	}
}

func TestParamsCheck(t *testing.T) {
	for _, c := range []struct {
		p     Params
		field string
	}{
		{Params{Test: -1, Iterations: 1}, "test: -1 "},
		{Params{Test: 30, Iterations: 1}, "test: 30 "},
		{Params{Test: 1}, "iterations: "},
		{Params{Test: 5, Iterations: 1, SGLen: 129}, "sglen: 129 "},
		{Params{Test: 3, Iterations: 1, Vary: 5}, "length: must be"},
		{Params{Test: 14, Iterations: 1, Length: 0x10000}, "length: 65536 "},
		{Params{Test: 14, Iterations: 1, Length: 512, Vary: 512}, "vary: 512 must be less than length 512"},
	} {
		err := c.p.Check()
		if err == nil || !strings.HasPrefix(err.Error(), c.field) {
			t.Errorf("%+v: error %v, want one starting %q", c.p, err, c.field)
		}
	}
	for _, p := range []Params{DefaultParams(), {Test: 14, Iterations: 1, Length: 512, Vary: 511}, {Test: 29, Iterations: 1}} {
		if err := p.Check(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

func TestTestsTable(t *testing.T) {
	for i, info := range Tests {
		if info.Num != i || info.Name == "" {
			t.Errorf("Tests[%d] = %+v", i, info)
		}
	}
}

// testusb -a with its defaults runs every test but the two control write
// tests, which usbtest refuses because vary is not less than length.
func TestAllTestsDefaults(t *testing.T) {
	tests, skipped := AllTests(DefaultParams())
	if len(tests)+len(skipped) != NumTests {
		t.Fatalf("%d tests and %d skipped, want %d in all", len(tests), len(skipped), NumTests)
	}
	for i, n := range []int{14, 21} {
		if want := fmt.Sprintf("vary: 512 must be less than length 512 (test %d)", n); i >= len(skipped) || skipped[i].Error() != want {
			t.Errorf("skipped %v, want %q among them", skipped, want)
		}
	}
	next := 0
	for _, p := range tests {
		for next == 14 || next == 21 {
			next++
		}
		if want := (Params{Test: next, Iterations: 1000, Length: 512, Vary: 512, SGLen: 32}); p != want {
			t.Errorf("got %+v, want %+v", p, want)
		}
		next++
	}
	if next != NumTests || len(skipped) != 2 {
		t.Errorf("ran up to test %d with %d skipped, want %d and 2", next-1, len(skipped), NumTests-1)
	}
	if tests, skipped := AllTests(Params{Iterations: 1, Length: 64, Vary: 1, SGLen: 4}); len(tests) != NumTests || skipped != nil {
		t.Errorf("with vary < length: %d tests, skipped %v", len(tests), skipped)
	}
}
