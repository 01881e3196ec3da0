//go:build cgo

package host

import (
	"bytes"
	"strings"
	"testing"
)

func TestRequestType(t *testing.T) {
	tests := []struct {
		typ, rcpt, dir string
		want           uint8
	}{
		{"standard", "device", "in", 0x80},    // GET_DESCRIPTOR
		{"standard", "endpoint", "out", 0x02}, // CLEAR_FEATURE(ENDPOINT_HALT)
		{"vendor", "device", "in", 0xc0},      // gadget zero 0x5c
		{"vendor", "device", "out", 0x40},     // gadget zero 0x5b
		{"Class", "Interface", "OUT", 0x21},   // HID SET_REPORT
		{"class", "other", "in", 0xa3},        // hub GET_PORT_STATUS
	}
	for _, tt := range tests {
		got, err := RequestType(tt.typ, tt.rcpt, tt.dir)
		if err != nil || got != tt.want {
			t.Errorf("RequestType(%s, %s, %s) = %#02x, %v; want %#02x", tt.typ, tt.rcpt, tt.dir, got, err, tt.want)
		}
	}
	for _, bad := range [][3]string{{"reserved", "device", "in"}, {"vendor", "hub", "in"}, {"vendor", "device", "both"}} {
		_, err := RequestType(bad[0], bad[1], bad[2])
		if err == nil {
			t.Errorf("RequestType(%v) succeeded", bad)
		}
	}
	if _, err := RequestType("vendor", "hub", "in"); !strings.Contains(err.Error(), `recipient "hub"`) {
		t.Errorf("error does not name the recipient: %v", err)
	}
}

func TestParseHex(t *testing.T) {
	good := map[string][]byte{
		"5b 00 ff":      {0x5b, 0x00, 0xff},
		"0x5b,0x0,0xFF": {0x5b, 0x00, 0xff},
		"5b00ff":        {0x5b, 0x00, 0xff},
		"de:ad:be:ef":   {0xde, 0xad, 0xbe, 0xef},
		"":              {},
	}
	for in, want := range good {
		got, err := ParseHex(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ParseHex(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, bad := range []string{"zz", "5b0"} {
		if _, err := ParseHex(bad); err == nil {
			t.Errorf("ParseHex(%q) succeeded", bad)
		}
	}
}

func TestParseNumber(t *testing.T) {
	if n, err := ParseNumber("wValue", "0x5b", 16); err != nil || n != 0x5b {
		t.Errorf("0x5b = %d, %v", n, err)
	}
	if n, err := ParseNumber("wValue", "65535", 16); err != nil || n != 65535 {
		t.Errorf("65535 = %d, %v", n, err)
	}
	_, err := ParseNumber("bRequest", "256", 8)
	if err == nil || !strings.Contains(err.Error(), "bRequest") {
		t.Errorf("256 as 8 bits: %v", err)
	}
}
