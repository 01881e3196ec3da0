//go:build cgo

package host

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestPatternFill(t *testing.T) {
	buf := make([]byte, 130)
	Pattern{Kind: PatternMod63}.Fill(buf, 0)
	for i, b := range buf {
		if b != byte(i%63) {
			t.Fatalf("mod63 byte %d = %d", i, b)
		}
	}
	// SourceSink restarts every request: position 4096 is 0 again.
	buf = make([]byte, 8)
	Pattern{Kind: PatternMod63, Period: 4096}.Fill(buf, 4094)
	want := []byte{4094 % 63, 4095 % 63, 0, 1, 2, 3, 4, 5}
	if string(buf) != string(want) {
		t.Errorf("mod63/4096 at 4094 = %v, want %v", buf, want)
	}
}

func TestPatternRandomAddressable(t *testing.T) {
	p := Pattern{Kind: PatternRandom, Seed: 42}
	whole := make([]byte, 1000)
	p.Fill(whole, 0)
	// Filling from an odd offset yields the same bytes as the whole stream.
	part := make([]byte, 101)
	p.Fill(part, 333)
	if string(part) != string(whole[333:434]) {
		t.Error("random pattern filled at offset 333 differs from the whole stream")
	}
	other := make([]byte, 1000)
	Pattern{Kind: PatternRandom, Seed: 43}.Fill(other, 0)
	if string(other) == string(whole) {
		t.Error("seeds 42 and 43 give the same stream")
	}
	zeros := 0
	for _, b := range whole {
		if b == 0 {
			zeros++
		}
	}
	if zeros > 20 {
		t.Errorf("%d zero bytes in 1000 random ones", zeros)
	}
}

func TestPatternCheck(t *testing.T) {
	for _, p := range []Pattern{{Kind: PatternZero}, {Kind: PatternMod63, Period: 512}, {Kind: PatternRandom, Seed: 9}} {
		buf := make([]byte, 10000)
		p.Fill(buf, 77)
		if err := p.Check(buf, 77); err != nil {
			t.Errorf("%v: Check of its own fill: %v", p, err)
		}
		buf[5000] ^= 0x10
		var me *MismatchError
		if err := p.Check(buf, 77); !errors.As(err, &me) || me.Offset != 5077 || me.Got != me.Want^0x10 {
			t.Errorf("%v: Check after corrupting byte 5000 = %v, want mismatch at 5077", p, err)
		}
		// A stream shifted by a 64-byte packet is caught (mod63 and random).
		if p.Kind != PatternZero {
			if err := p.Check(buf[:4000], 77+64); err == nil {
				t.Errorf("%v: Check at a shifted offset passed", p)
			}
		}
	}
}

func TestParsePattern(t *testing.T) {
	good := map[string]Pattern{
		"zero":         {Kind: PatternZero},
		"mod63/4096":   {Kind: PatternMod63, Period: 4096},
		"random":       {Kind: PatternRandom, Seed: 1},
		"random:7/512": {Kind: PatternRandom, Seed: 7, Period: 512},
		"random:0x10":  {Kind: PatternRandom, Seed: 16},
	}
	for in, want := range good {
		got, err := ParsePattern(in)
		if err != nil || got != want {
			t.Errorf("ParsePattern(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, err := ParsePattern(got.String()); err != nil || again != got {
			t.Errorf("ParsePattern(%q.String()=%q) = %+v, %v", in, got.String(), again, err)
		}
	}
	for _, in := range []string{"", "ones", "mod63/0", "mod63/x", "zero:3", "random:x"} {
		if _, err := ParsePattern(in); err == nil {
			t.Errorf("ParsePattern(%q) succeeded", in)
		}
	}
}

// Fill's fast paths agree with the definition byte by byte, at every
// alignment and across period boundaries.
func TestPatternFillDefinition(t *testing.T) {
	def := func(p Pattern, pos int64) byte {
		if p.Period > 0 {
			pos %= int64(p.Period)
		}
		switch p.Kind {
		case PatternMod63:
			return byte(pos % 63)
		case PatternRandom:
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], splitmix64(p.Seed^uint64(pos/8)))
			return w[pos%8]
		}
		return 0
	}
	for _, p := range []Pattern{{Kind: PatternMod63}, {Kind: PatternMod63, Period: 512}, {Kind: PatternRandom, Seed: 4}, {Kind: PatternRandom, Seed: 4, Period: 100}, {Kind: PatternZero, Period: 7}} {
		for _, off := range []int64{0, 1, 7, 8, 99, 511, 512, 1000003} {
			buf := make([]byte, 1500)
			for i := range buf {
				buf[i] = 0xaa
			}
			p.Fill(buf, off)
			for i, b := range buf {
				if want := def(p, off+int64(i)); b != want {
					t.Fatalf("%v at offset %d: byte %d = %#x, want %#x", p, off, i, b, want)
				}
			}
		}
	}
}

func BenchmarkPatternFill(b *testing.B) {
	buf := make([]byte, 1<<20)
	for _, p := range []Pattern{{Kind: PatternMod63, Period: 512}, {Kind: PatternRandom, Seed: 1}} {
		b.Run(p.String(), func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				p.Fill(buf, 0)
			}
		})
	}
}
