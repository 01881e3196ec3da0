package ffs

import (
	"bytes"
	"testing"
)

// FuzzParseStrings: decoding never panics, and a decoded blob that follows
// the encoder's rules encodes back to the same bytes. Seeds are in
// testdata/fuzz/FuzzParseStrings.
func FuzzParseStrings(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStrings(b)
		if err != nil || s.Validate() != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip changed the bytes:\n got % x\nwant % x", again, b)
		}
	})
}
