// Package pattern is the one home of the data patterns both ends of a
// test stream agree on: gadget zero's (all zeros, and mod63) and a seeded
// pseudo-random one. The gadget side (gadget's sourcesink and abort
// personalities) and the host side (host, hosttest) both fill and
// check through it; it is pure Go.
package pattern

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Kind names a data pattern.
type Kind int

// The patterns. Each byte is a pure function of its position in the stream,
// so any slice of a transfer can be filled or checked on its own.
const (
	// Zero is all zero bytes: gadget zero's pattern 0.
	Zero Kind = iota
	// Mod63 is position%63; with a Period of wMaxPacketSize it is gadget
	// zero's pattern 1 (see GadgetZero). 63 shares no factor with 2, so a
	// shift by a short packet shows.
	Mod63
	// Random is a seeded pseudo-random stream (splitmix64 of the
	// position's 8-byte word), which catches reordering anywhere.
	Random
)

// Pattern describes the bytes expected at each stream position.
type Pattern struct {
	Kind Kind
	// Period restarts the pattern every Period bytes (0: never).
	Period int
	Seed   uint64 // Random only
}

// Gadget zero's pattern parameter: f_sourcesink's "pattern" attribute and
// usbtest's "pattern" module parameter take these numbers.
const (
	ParamZeros = 0 // Zero
	ParamMod63 = 1 // GadgetZero(wMaxPacketSize)
	ParamNone  = 2 // f_sourcesink only: nothing written, nothing checked
)

// GadgetZero is gadget zero's mod63 pattern for endpoints of wMaxPacketSize
// mp: byte i of every transfer, counted from its start, is (i % mp) % 63
// (f_sourcesink.c reinit_write_data and check_read_data, usbtest.c
// simple_fill_buf and simple_check_buf). Fill and Check it at offset 0 of
// each transfer, or at stream offsets when every transfer is a multiple of
// mp long.
func GadgetZero(mp int) Pattern { return Pattern{Kind: Mod63, Period: mp} }

// Parse parses "zero", "mod63", "random" with an optional
// "/PERIOD" and, for random, ":SEED": "mod63/4096", "random:7".
func Parse(s string) (Pattern, error) {
	var p Pattern
	rest, period, hasPeriod := strings.Cut(s, "/")
	if hasPeriod {
		n, err := strconv.Atoi(period)
		if err != nil || n <= 0 {
			return p, fmt.Errorf("pattern %q: period %q is not a positive integer", s, period)
		}
		p.Period = n
	}
	name, seed, hasSeed := strings.Cut(rest, ":")
	switch name {
	case "zero":
		p.Kind = Zero
	case "mod63":
		p.Kind = Mod63
	case "random":
		p.Kind = Random
		p.Seed = 1
	default:
		return p, fmt.Errorf("pattern %q: unknown name %q (want zero, mod63 or random)", s, name)
	}
	if hasSeed {
		if p.Kind != Random {
			return p, fmt.Errorf("pattern %q: only random takes a seed", s)
		}
		n, err := strconv.ParseUint(seed, 0, 64)
		if err != nil {
			return p, fmt.Errorf("pattern %q: seed %q is not an unsigned integer", s, seed)
		}
		p.Seed = n
	}
	return p, nil
}

func (p Pattern) String() string {
	s := [...]string{"zero", "mod63", "random"}[p.Kind]
	if p.Kind == Random {
		s += ":" + strconv.FormatUint(p.Seed, 10)
	}
	if p.Period > 0 {
		s += "/" + strconv.Itoa(p.Period)
	}
	return s
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Fill writes the pattern for stream positions off, off+1, ... into buf.
func (p Pattern) Fill(buf []byte, off int64) {
	if p.Kind == Zero {
		clear(buf)
		return
	}
	// Walk the buffer in runs that do not cross a period boundary, with
	// counters instead of a division per byte: this runs for every byte a
	// test moves, and the guest's CPU is emulated.
	pos := off
	if p.Period > 0 {
		pos %= int64(p.Period)
	}
	for len(buf) > 0 {
		run := len(buf)
		if p.Period > 0 {
			run = min(run, int(int64(p.Period)-pos))
		}
		switch p.Kind {
		case Mod63:
			v := byte(pos % 63)
			for i := range buf[:run] {
				buf[i] = v
				if v++; v == 63 {
					v = 0
				}
			}
		case Random:
			i := 0
			for ; i < run && (pos+int64(i))%8 != 0; i++ {
				q := pos + int64(i)
				buf[i] = byte(splitmix64(p.Seed^uint64(q/8)) >> (8 * (q % 8)))
			}
			for ; i+8 <= run; i += 8 {
				binary.LittleEndian.PutUint64(buf[i:], splitmix64(p.Seed^uint64((pos+int64(i))/8)))
			}
			for ; i < run; i++ {
				q := pos + int64(i)
				buf[i] = byte(splitmix64(p.Seed^uint64(q/8)) >> (8 * (q % 8)))
			}
		}
		buf = buf[run:]
		pos += int64(run)
		if p.Period > 0 && pos == int64(p.Period) {
			pos = 0
		}
	}
}

// MismatchError reports the first byte that differs from the pattern.
type MismatchError struct {
	Offset    int64 // stream position
	Want, Got byte
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("data mismatch at byte %d: want 0x%02x, got 0x%02x", e.Offset, e.Want, e.Got)
}

// Check compares buf with the pattern for stream positions off, off+1, ...
// and returns a *MismatchError for the first difference.
func (p Pattern) Check(buf []byte, off int64) error {
	var want [4096]byte
	for start := 0; start < len(buf); start += len(want) {
		got := buf[start:min(start+len(want), len(buf))]
		exp := want[:len(got)]
		p.Fill(exp, off+int64(start))
		if bytes.Equal(got, exp) {
			continue
		}
		for i := range got {
			if got[i] != exp[i] {
				return &MismatchError{Offset: off + int64(start+i), Want: exp[i], Got: got[i]}
			}
		}
	}
	return nil
}
