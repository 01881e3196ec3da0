//go:build cgo

package host

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// ControlRequest is one control transfer. For IN requests Length is
// wLength; for OUT requests wLength is len(Data).
type ControlRequest struct {
	RequestType uint8 // bmRequestType
	Request     uint8 // bRequest
	Value       uint16
	Index       uint16
	Length      int    // IN only
	Data        []byte // OUT only
}

// In reports whether the data stage goes device-to-host.
func (r ControlRequest) In() bool { return r.RequestType&0x80 != 0 }

// RequestType builds bmRequestType from names: typ is standard, class or
// vendor; recipient is device, interface, endpoint or other; dir is in or
// out.
func RequestType(typ, recipient, dir string) (uint8, error) {
	var rt uint8
	switch strings.ToLower(dir) {
	case "in":
		rt = 0x80
	case "out":
	default:
		return 0, fmt.Errorf("direction %q: want in or out", dir)
	}
	switch strings.ToLower(typ) {
	case "standard":
	case "class":
		rt |= 1 << 5
	case "vendor":
		rt |= 2 << 5
	default:
		return 0, fmt.Errorf("type %q: want standard, class or vendor", typ)
	}
	switch strings.ToLower(recipient) {
	case "device":
	case "interface":
		rt |= 1
	case "endpoint":
		rt |= 2
	case "other":
		rt |= 3
	default:
		return 0, fmt.Errorf("recipient %q: want device, interface, endpoint or other", recipient)
	}
	return rt, nil
}

// ParseNumber parses a decimal or 0x-prefixed hexadecimal number of at
// most bits bits; field names it in the error.
func ParseNumber(field, s string, bits int) (uint64, error) {
	n, err := strconv.ParseUint(s, 0, bits)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a number below %d, decimal or 0x-hexadecimal", field, s, uint64(1)<<bits)
	}
	return n, nil
}

// ParseHex parses data bytes written as hexadecimal, with optional spaces,
// commas, colons and 0x prefixes: "5b 00 ff", "0x5b,0x0", "5b00ff". A
// single digit is one byte; a longer odd run of digits is an error.
func ParseHex(s string) ([]byte, error) {
	var digits strings.Builder
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == ':' || r == '\t' || r == '\n' }) {
		f = strings.TrimPrefix(strings.ToLower(f), "0x")
		if len(f) == 1 {
			f = "0" + f // "0x0", "f"
		}
		digits.WriteString(f)
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		return nil, fmt.Errorf("data %q: not hexadecimal bytes: %w", s, err)
	}
	return b, nil
}

// Do issues r on d and returns the data stage's bytes (IN) or nil (OUT).
func (d *Device) Do(r ControlRequest) ([]byte, error) {
	if r.In() {
		if r.Length < 0 || r.Length > 0xffff {
			return nil, fmt.Errorf("wLength %d: must be 0..65535", r.Length)
		}
		buf := make([]byte, r.Length)
		n, err := d.Control(r.RequestType, r.Request, r.Value, r.Index, buf)
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	if len(r.Data) > 0xffff {
		return nil, fmt.Errorf("data of %d bytes: wLength must be 0..65535", len(r.Data))
	}
	_, err := d.Control(r.RequestType, r.Request, r.Value, r.Index, r.Data)
	return nil, err
}
