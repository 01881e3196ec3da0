package ffs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gadgetkit/gadgetkit/usb"
)

// Property is a Microsoft OS extended property of an interface, such as
// DeviceInterfaceGUIDs.
//
// FunctionFS takes the name and the string data as UTF-8 and converts them
// to UTF-16 when the host asks, so Data of the string types is UTF-8 with
// its terminating NUL (see StringProperty). Linux (6.1) reports REG_SZ,
// REG_EXPAND_SZ, REG_LINK and REG_BINARY to the host; f_fs accepts the
// DWORD types and REG_MULTI_SZ too, but the host's request for them stalls,
// so Validate rejects them.
type Property struct {
	Name string
	Type PropertyType
	Data []byte
}

// PropertyType is dwPropertyDataType of an extended property.
type PropertyType uint32

// Extended property types (Windows registry value types).
const (
	PropString            PropertyType = 1 // REG_SZ
	PropExpandString      PropertyType = 2 // REG_EXPAND_SZ
	PropBinary            PropertyType = 3 // REG_BINARY
	PropDWordLittleEndian PropertyType = 4 // REG_DWORD_LITTLE_ENDIAN
	PropDWordBigEndian    PropertyType = 5 // REG_DWORD_BIG_ENDIAN
	PropLink              PropertyType = 6 // REG_LINK
	PropMultiString       PropertyType = 7 // REG_MULTI_SZ
)

var propTypeNames = []string{"", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD_LITTLE_ENDIAN",
	"REG_DWORD_BIG_ENDIAN", "REG_LINK", "REG_MULTI_SZ"}

func (t PropertyType) String() string {
	if t >= 1 && int(t) < len(propTypeNames) {
		return propTypeNames[t]
	}
	return fmt.Sprintf("property-type(%d)", uint32(t))
}

// StringProperty returns a REG_SZ property, e.g.
// StringProperty("DeviceInterfaceGUID", "{...}") for WinUSB.
func StringProperty(name, value string) Property {
	return Property{Name: name, Type: PropString, Data: []byte(value + "\x00")}
}

// OS descriptor layout constants (linux/usb/functionfs.h, f_fs.c).
const (
	osHeaderSize       = 11 // interface, dwLength, bcdVersion, wIndex, bCount+Reserved / wCount
	extCompatSize      = 24 // bFirstInterfaceNumber, Reserved1, CompatibleID[8], SubCompatibleID[8], Reserved2[6]
	extPropFixedSize   = 14 // dwSize, dwPropertyDataType, wPropertyNameLength, dwPropertyDataLength
	osIndexExtCompat   = 4
	osIndexExtProp     = 5
	osBCDVersion       = 0x0001 // the spec says 0x0100, but f_fs before 6.2 or so accepts only 1 (Debian's 6.1 does)
	maxExtPropSize     = 255    // f_fs stores dwSize in a u8 while checking it
	maxCompatIDLength  = 8
	extCompatReserved1 = 1 // the spec's value; f_fs forces it
)

// OSDescriptor is one Microsoft OS descriptor of a blob: a header naming
// the interface, then extended compat IDs (wIndex 4) or extended properties
// (wIndex 5).
type OSDescriptor struct {
	Interface  uint8
	Length     uint32  // dwLength as written; f_fs only checks it fits the blob
	BCDVersion usb.BCD // 0x0001: Linux 6.1 rejects anything else; later kernels also take the spec's 0x0100
	Index      uint16  // wIndex: 4 extended compat ID, 5 extended properties
	Compat     []CompatID
	Properties []ExtProp
}

// CompatID is one function section of an extended compat ID descriptor,
// byte for byte.
type CompatID struct {
	FirstInterface  uint8
	Reserved1       uint8 // 1 by the spec
	CompatibleID    [8]byte
	SubCompatibleID [8]byte
	Reserved2       [6]byte // f_fs requires zeros
}

// ExtProp is one extended property section, byte for byte: Name and Data
// exactly as in the blob (UTF-8 with their NULs for FunctionFS).
type ExtProp struct {
	Type PropertyType
	Name []byte
	Data []byte
}

func parseOSDescriptor(r *reader) (OSDescriptor, error) {
	start := r.off
	o := OSDescriptor{
		Interface:  r.u8("OS descriptor interface"),
		Length:     r.u32("dwLength"),
		BCDVersion: usb.BCD(r.u16("bcdVersion")),
		Index:      r.u16("wIndex"),
	}
	count := r.u16("wCount")
	if r.err != nil {
		return o, r.err
	}
	if int64(o.Length) > int64(len(r.b)-start) {
		return o, fmt.Errorf("dwLength %d exceeds the %d bytes left", o.Length, len(r.b)-start)
	}
	switch o.Index {
	case osIndexExtCompat:
		for range count {
			p := r.take(extCompatSize, "extended compat ID")
			if p == nil {
				return o, r.err
			}
			c := CompatID{FirstInterface: p[0], Reserved1: p[1]}
			copy(c.CompatibleID[:], p[2:10])
			copy(c.SubCompatibleID[:], p[10:18])
			copy(c.Reserved2[:], p[18:24])
			o.Compat = append(o.Compat, c)
		}
	case osIndexExtProp:
		for range count {
			at := r.off
			size := r.u32("dwSize")
			typ := PropertyType(r.u32("dwPropertyDataType"))
			name := r.take(int(r.u16("wPropertyNameLength")), "property name")
			data := r.take(int(r.u32("dwPropertyDataLength")), "property data")
			if r.err != nil {
				return o, r.err
			}
			if want := r.off - at; int64(size) != int64(want) {
				return o, fmt.Errorf("extended property at offset %d: dwSize %d, its fields take %d", at, size, want)
			}
			o.Properties = append(o.Properties, ExtProp{Type: typ, Name: name, Data: data})
		}
	default:
		return o, fmt.Errorf("wIndex %d, want 4 (extended compat ID) or 5 (extended properties)", o.Index)
	}
	return o, nil
}

func (o *OSDescriptor) marshal() ([]byte, error) {
	var count int
	switch o.Index {
	case osIndexExtCompat:
		count = len(o.Compat)
		if len(o.Properties) > 0 {
			return nil, fmt.Errorf("wIndex 4 (extended compat ID) with %d properties", len(o.Properties))
		}
	case osIndexExtProp:
		count = len(o.Properties)
		if len(o.Compat) > 0 {
			return nil, fmt.Errorf("wIndex 5 (extended properties) with %d compat IDs", len(o.Compat))
		}
	default:
		return nil, fmt.Errorf("wIndex %d, want 4 (extended compat ID) or 5 (extended properties)", o.Index)
	}
	if count > 0xffff {
		return nil, fmt.Errorf("%d sections, at most 65535", count)
	}
	b := []byte{o.Interface}
	b = binary.LittleEndian.AppendUint32(b, o.Length)
	b = binary.LittleEndian.AppendUint16(b, uint16(o.BCDVersion))
	b = binary.LittleEndian.AppendUint16(b, o.Index)
	b = binary.LittleEndian.AppendUint16(b, uint16(count))
	for _, c := range o.Compat {
		b = append(b, c.FirstInterface, c.Reserved1)
		b = append(b, c.CompatibleID[:]...)
		b = append(b, c.SubCompatibleID[:]...)
		b = append(b, c.Reserved2[:]...)
	}
	for _, p := range o.Properties {
		if len(p.Name) > 0xffff {
			return nil, fmt.Errorf("property name of %d bytes, at most 65535", len(p.Name))
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(extPropFixedSize+len(p.Name)+len(p.Data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.Type))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Name)))
		b = append(b, p.Name...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Data)))
		b = append(b, p.Data...)
	}
	return b, nil
}

// validCompatID reports whether s fits the 8-byte ASCII field of an
// extended compat ID, with the characters Windows uses (e.g. "WINUSB").
func validCompatID(s string) error {
	if len(s) > maxCompatIDLength {
		return fmt.Errorf("%q is %d bytes, at most %d", s, len(s), maxCompatIDLength)
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%q: only A-Z, 0-9 and _", s)
		}
	}
	return nil
}

func validateOS(at place, in *Interface) error {
	if err := validCompatID(in.CompatibleID); err != nil {
		return at.invalid("CompatibleID", "%s", err)
	}
	if err := validCompatID(in.SubCompatibleID); err != nil {
		return at.invalid("SubCompatibleID", "%s", err)
	}
	if in.SubCompatibleID != "" && in.CompatibleID == "" {
		return at.invalid("SubCompatibleID", "set without CompatibleID")
	}
	for k, p := range in.Properties {
		field := fmt.Sprintf("Properties[%d]", k)
		if p.Name == "" {
			return at.invalid(field, "empty Name")
		}
		if !utf8.ValidString(p.Name) || strings.ContainsRune(p.Name, 0) {
			return at.invalid(field, "Name %q is not UTF-8 text without NULs", p.Name)
		}
		switch p.Type {
		case PropString, PropExpandString, PropLink:
			if len(p.Data) == 0 || p.Data[len(p.Data)-1] != 0 {
				return at.invalid(field, "%s data must end with a NUL", p.Type)
			}
			if !utf8.Valid(p.Data) {
				return at.invalid(field, "%s data is not UTF-8", p.Type)
			}
		case PropBinary:
		case PropDWordLittleEndian, PropDWordBigEndian, PropMultiString:
			return at.invalid(field, "Type %s: f_fs takes it but Linux stalls the host's request for it; use REG_SZ or REG_BINARY", p.Type)
		default:
			return at.invalid(field, "Type %d, want 1 (REG_SZ), 2 (REG_EXPAND_SZ), 3 (REG_BINARY) or 6 (REG_LINK)", uint32(p.Type))
		}
		if size := extPropFixedSize + len(p.Name) + 1 + len(p.Data); size > maxExtPropSize {
			return at.invalid(field, "%d bytes encoded; f_fs handles at most %d per property", size, maxExtPropSize)
		}
	}
	return nil
}

// osDescriptors builds the OS descriptors of d: an extended compat ID
// descriptor with a section for every interface (empty IDs included), then
// one extended properties descriptor per interface that has properties.
//
// The section per interface matters: f_fs learns an interface's number in
// the configuration only from an OS descriptor naming it, and the composite
// layer reports every interface it did not learn as interface 0, where an
// empty ID would sit beside (and shadow) interface 0's real one.
func (d *Descriptors) osDescriptors() []OSDescriptor {
	wanted := false
	for _, in := range d.Interfaces {
		wanted = wanted || in.CompatibleID != "" || len(in.Properties) > 0
	}
	if !wanted {
		return nil
	}
	compat := OSDescriptor{BCDVersion: osBCDVersion, Index: osIndexExtCompat}
	for i, in := range d.Interfaces {
		c := CompatID{FirstInterface: uint8(i), Reserved1: extCompatReserved1}
		copy(c.CompatibleID[:], in.CompatibleID)
		copy(c.SubCompatibleID[:], in.SubCompatibleID)
		compat.Compat = append(compat.Compat, c)
	}
	compat.Length = uint32(osHeaderSize + extCompatSize*len(compat.Compat))
	out := []OSDescriptor{compat}
	for i, in := range d.Interfaces {
		if len(in.Properties) == 0 {
			continue
		}
		o := OSDescriptor{Interface: uint8(i), BCDVersion: osBCDVersion, Index: osIndexExtProp, Length: osHeaderSize}
		for _, p := range in.Properties {
			e := ExtProp{Type: p.Type, Name: []byte(p.Name + "\x00"), Data: p.Data}
			o.Length += uint32(extPropFixedSize + len(e.Name) + len(e.Data))
			o.Properties = append(o.Properties, e)
		}
		out = append(out, o)
	}
	return out
}

// describe prints o for DescriptorBlob.String: IDs and names as text, data
// quoted.
func (o *OSDescriptor) describe(sb *strings.Builder, k int) {
	fmt.Fprintf(sb, "os descriptor %d: interface %d wIndex %d bcdVersion %s dwLength %d\n", k, o.Interface, o.Index, o.BCDVersion, o.Length)
	for _, c := range o.Compat {
		fmt.Fprintf(sb, "  compat interface %d: %q %q reserved1 %d reserved2 % x\n", c.FirstInterface,
			bytes.TrimRight(c.CompatibleID[:], "\x00"), bytes.TrimRight(c.SubCompatibleID[:], "\x00"), c.Reserved1, c.Reserved2[:])
	}
	for _, p := range o.Properties {
		fmt.Fprintf(sb, "  property %q %s: %q\n", p.Name, p.Type, p.Data)
	}
}

// check applies __ffs_data_do_os_desc's rules, given the function's
// interface count.
func (o *OSDescriptor) check(where string, interfaces int) error {
	if o.BCDVersion != osBCDVersion {
		return invalid(where, "bcdVersion", "%s: Linux 6.1 accepts only 0x0001 (later kernels also 0x0100)", o.BCDVersion)
	}
	if o.Index == osIndexExtCompat && len(o.Compat) > 255 {
		return invalid(where, "bCount", "%d compat sections, at most 255", len(o.Compat))
	}
	for k, c := range o.Compat {
		if int(c.FirstInterface) >= interfaces {
			return invalid(where, fmt.Sprintf("compat %d", k), "bFirstInterfaceNumber %d, but the function has %d interfaces", c.FirstInterface, interfaces)
		}
		if c.Reserved2 != [6]byte{} {
			return invalid(where, fmt.Sprintf("compat %d", k), "Reserved2 % x must be zero", c.Reserved2[:])
		}
	}
	if len(o.Properties) > 0 && int(o.Interface) >= interfaces {
		return invalid(where, "interface", "%d, but the function has %d interfaces", o.Interface, interfaces)
	}
	for k, p := range o.Properties {
		if p.Type < PropString || p.Type > PropMultiString {
			return invalid(where, fmt.Sprintf("property %d", k), "dwPropertyDataType %d, f_fs accepts 1..7", uint32(p.Type))
		}
		if size := extPropFixedSize + len(p.Name) + len(p.Data); size > maxExtPropSize {
			return invalid(where, fmt.Sprintf("property %d", k), "dwSize %d: f_fs keeps it in a byte, so at most %d", size, maxExtPropSize)
		}
	}
	return nil
}
