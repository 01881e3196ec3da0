package pattern

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestPatternFill(t *testing.T) {
	buf := make([]byte, 130)
	Pattern{Kind: Mod63}.Fill(buf, 0)
	for i, b := range buf {
		if b != byte(i%63) {
			t.Fatalf("mod63 byte %d = %d", i, b)
		}
	}
	// SourceSink restarts every request: position 4096 is 0 again.
	buf = make([]byte, 8)
	Pattern{Kind: Mod63, Period: 4096}.Fill(buf, 4094)
	want := []byte{4094 % 63, 4095 % 63, 0, 1, 2, 3, 4, 5}
	if string(buf) != string(want) {
		t.Errorf("mod63/4096 at 4094 = %v, want %v", buf, want)
	}
}

func TestRandomAddressable(t *testing.T) {
	p := Pattern{Kind: Random, Seed: 42}
	whole := make([]byte, 1000)
	p.Fill(whole, 0)
	// Filling from an odd offset yields the same bytes as the whole stream.
	part := make([]byte, 101)
	p.Fill(part, 333)
	if string(part) != string(whole[333:434]) {
		t.Error("random pattern filled at offset 333 differs from the whole stream")
	}
	other := make([]byte, 1000)
	Pattern{Kind: Random, Seed: 43}.Fill(other, 0)
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
	for _, p := range []Pattern{{Kind: Zero}, {Kind: Mod63, Period: 512}, {Kind: Random, Seed: 9}} {
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
		if p.Kind != Zero {
			if err := p.Check(buf[:4000], 77+64); err == nil {
				t.Errorf("%v: Check at a shifted offset passed", p)
			}
		}
	}
}

func TestParse(t *testing.T) {
	good := map[string]Pattern{
		"zero":         {Kind: Zero},
		"mod63/4096":   {Kind: Mod63, Period: 4096},
		"random":       {Kind: Random, Seed: 1},
		"random:7/512": {Kind: Random, Seed: 7, Period: 512},
		"random:0x10":  {Kind: Random, Seed: 16},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, err := Parse(got.String()); err != nil || again != got {
			t.Errorf("Parse(%q.String()=%q) = %+v, %v", in, got.String(), again, err)
		}
	}
	for _, in := range []string{"", "ones", "mod63/0", "mod63/x", "zero:3", "random:x"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
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
		case Mod63:
			return byte(pos % 63)
		case Random:
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], splitmix64(p.Seed^uint64(pos/8)))
			return w[pos%8]
		}
		return 0
	}
	for _, p := range []Pattern{{Kind: Mod63}, {Kind: Mod63, Period: 512}, {Kind: Random, Seed: 4}, {Kind: Random, Seed: 4, Period: 100}, {Kind: Zero, Period: 7}} {
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
	for _, p := range []Pattern{{Kind: Mod63, Period: 512}, {Kind: Random, Seed: 1}} {
		b.Run(p.String(), func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				p.Fill(buf, 0)
			}
		})
	}
}

// GadgetZero is the kernel's mod63, transcribed from f_sourcesink.c's
// reinit_write_data (and usbtest.c's simple_fill_buf, the same loop):
//
//	for (i = 0; i < req->length; i++)
//		*buf++ = (u8) ((i % max_packet_size) % 63);
//
// for every packet size gadget zero meets, transfers of whole and partial
// packets, and usbtest's scatter-gather fill, which carries i on across
// the buffers of one transfer ((j + n_size) % maxpacket) % 63.
func TestGadgetZeroIsTheKernels(t *testing.T) {
	kernel := func(length, maxPacket int) []byte {
		buf := make([]byte, length)
		for i := range buf {
			buf[i] = byte((i % maxPacket) % 63)
		}
		return buf
	}
	for _, mp := range []int{8, 16, 64, 512, 1023, 1024} {
		for _, n := range []int{1, 62, 63, 64, mp - 1, mp, mp + 1, 3*mp + 5, 16384} {
			want := kernel(n, mp)
			got := make([]byte, n)
			GadgetZero(mp).Fill(got, 0)
			if !bytes.Equal(got, want) {
				t.Fatalf("GadgetZero(%d) over %d bytes differs from the kernel's", mp, n)
			}
			if err := GadgetZero(mp).Check(want, 0); err != nil {
				t.Fatalf("GadgetZero(%d) refuses the kernel's %d bytes: %v", mp, n, err)
			}
		}
		// Scatter-gather: three buffers of one transfer, filled at the
		// offsets where each starts.
		whole := kernel(3*4096, mp)
		for off := 0; off < len(whole); off += 4096 {
			part := make([]byte, 4096)
			GadgetZero(mp).Fill(part, int64(off))
			if !bytes.Equal(part, whole[off:off+4096]) {
				t.Fatalf("GadgetZero(%d) at offset %d differs from the kernel's sg fill", mp, off)
			}
		}
	}
	// Golden bytes at high speed around the first wrap of 63 and the
	// first packet boundary.
	buf := make([]byte, 520)
	GadgetZero(512).Fill(buf, 0)
	if got, want := buf[60:67], []byte{60, 61, 62, 0, 1, 2, 3}; !bytes.Equal(got, want) {
		t.Errorf("bytes 60..66 = %v, want %v", got, want)
	}
	if got, want := buf[508:516], []byte{508 % 63, 509 % 63, 510 % 63, 511 % 63, 0, 1, 2, 3}; !bytes.Equal(got, want) {
		t.Errorf("bytes 508..515 = %v, want %v", got, want)
	}
	if ParamZeros != 0 || ParamMod63 != 1 || ParamNone != 2 {
		t.Errorf("pattern parameters %d %d %d, want f_sourcesink's 0 1 2", ParamZeros, ParamMod63, ParamNone)
	}
}
