package ffs

import (
	"bytes"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/google/go-cmp/cmp"
)

// FuzzParseDescriptorBlob: decoding never panics, and whatever decodes
// encodes back to the same bytes and decodes to the same value. Seeds are in
// testdata/fuzz/FuzzParseDescriptorBlob.
func FuzzParseDescriptorBlob(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		blob, err := ParseDescriptorBlob(b)
		if err != nil {
			return
		}
		_ = blob.Check() // must not panic on anything that decodes
		again, err := blob.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encoding a decoded blob: %v\n%s", err, blob)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip changed the bytes:\n got % x\nwant % x", again, b)
		}
		back, err := ParseDescriptorBlob(again)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(blob, back); diff != "" {
			t.Fatalf("decode(encode(x)) != x (-x +got):\n%s", diff)
		}
	})
}

// FuzzDescriptorsRoundTrip builds a typed description from the input; when
// it validates, its encoding decodes to exactly its expansion, every speed
// lists the same endpoints in EndpointFiles order, and SuperSpeed gives each
// a companion.
func FuzzDescriptorsRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d := describe(b)
		if d.Validate() != nil {
			return
		}
		want, err := d.Blob()
		if err != nil {
			t.Fatal(err)
		}
		enc, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseDescriptorBlob(enc)
		if err != nil {
			t.Fatalf("decoding our own blob: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("decode(encode(x)) != x (-x +got):\n%s", diff)
		}
		if err := got.Check(); err != nil {
			t.Fatalf("Validate accepts what Check rejects: %v", err)
		}
		files := d.EndpointFiles()
		for i, set := range [][]usb.Descriptor{got.FullSpeed, got.HighSpeed, got.SuperSpeed} {
			if got.Flags&(1<<i) == 0 {
				continue
			}
			var eps []usb.EndpointAddress
			for k, x := range set {
				if e, ok := x.(usb.EndpointDescriptor); ok {
					eps = append(eps, e.Address)
					if i == 2 {
						if k+1 == len(set) || set[k+1].DescriptorType() != usb.TypeSSEndpointCompanion {
							t.Fatalf("SuperSpeed %s has no companion", e.Address)
						}
					}
				}
			}
			if len(eps) != len(files) {
				t.Fatalf("%s: %d endpoints, %d files", speedName[i], len(eps), len(files))
			}
			for k := range eps {
				if eps[k] != files[k].Address {
					t.Fatalf("%s endpoint %d is %s, file %s is %s", speedName[i], k, eps[k], files[k].Name, files[k].Address)
				}
			}
		}
	})
}

// describe turns fuzz input into a description, a byte per choice.
func describe(b []byte) *Descriptors {
	next := func() byte {
		if len(b) == 0 {
			return 0
		}
		c := b[0]
		b = b[1:]
		return c
	}
	d := &Descriptors{Speeds: []usb.Speed{}}
	m := next()
	for i, s := range []usb.Speed{usb.SpeedFull, usb.SpeedHigh, usb.SpeedSuper} {
		if m&(1<<i) != 0 {
			d.Speeds = append(d.Speeds, s)
		}
	}
	if m&0x80 != 0 {
		d.Flags |= FlagVirtualAddr
	}
	n := int(next()%4) + 1
	for range n {
		in := Interface{Class: usb.Class(next()), Name: next() % 4}
		if next()&1 != 0 {
			in.CompatibleID = "WINUSB"
			in.Properties = []Property{StringProperty("Label", "x")}
		}
		for range next() % 4 {
			e := Endpoint{Address: usb.EndpointAddress(next() & 0x8f), Type: usb.TransferType(next()%3 + 1)}
			if e.Type == usb.Bulk {
				e.MaxPacketSize = 8 << (next() % 4)
				e.MaxBurst, e.MaxStreams = next()%16, next()%17
			} else {
				e.MaxPacketSize = uint16(next())<<2 + uint16(next()%4) + 1
				e.Interval = 125 * time.Microsecond << (next() % 16)
				e.Transactions = next() % 4
				e.MaxBurst = next() % 16
				if e.Type == usb.Isochronous {
					e.Mult = next() % 3
				}
			}
			in.Endpoints = append(in.Endpoints, e)
		}
		d.Interfaces = append(d.Interfaces, in)
	}
	if next()&1 != 0 {
		d.Associations = []Association{{FirstInterface: 0, InterfaceCount: uint8(n), Name: 1}}
	}
	return d
}
