//go:build cgo

package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"

	"github.com/gadgetkit/gadgetkit/usb"
)

// Controller issues control transfers (*gousb.Device satisfies it).
// rType is bmRequestType; the data stage direction comes from its bit 7.
type Controller interface {
	Control(rType, request uint8, val, idx uint16, data []byte) (int, error)
}

// Snapshot is every descriptor the host can read from a device, as a tree.
// `hosttest dump` prints one as JSON and `verify --expect` compares with one.
type Snapshot struct {
	Device  usb.DeviceDescriptor
	Configs []Configuration
	// Strings holds, per language of string descriptor 0, every string
	// index that a descriptor refers to.
	Strings map[usb.LangID]map[uint8]string `json:",omitempty"`
	// MissingStrings lists, per language, the indices the device stalled:
	// kernel functions (acm, ncm, ...) have their strings in en-US only, so
	// a composite gadget with a second language has holes there.
	MissingStrings map[usb.LangID][]uint8 `json:",omitempty"`
	// BOS holds the device capabilities (bcdUSB >= 2.01 only).
	BOS []usb.RawDescriptor `json:",omitempty"`
	// MSOS1 is the Microsoft OS 1.0 descriptor (string 0xEE and the
	// extended compat ID it points to), when the device has one.
	MSOS1 *MSOS1 `json:",omitempty"`
	// MSOS20 is the Microsoft OS 2.0 descriptor set that a BOS platform
	// capability announces, raw.
	MSOS20 []byte `json:",omitempty"`
}

// Configuration is a configuration descriptor and everything after it.
type Configuration struct {
	usb.ConfigDescriptor
	Associations []usb.InterfaceAssociationDescriptor `json:",omitempty"`
	Interfaces   []AltSetting                         // in descriptor order
	Extra        []usb.RawDescriptor                  `json:",omitempty"` // before the first interface
}

// AltSetting is one interface descriptor (one alternate setting) with its
// class-specific descriptors and endpoints.
type AltSetting struct {
	usb.InterfaceDescriptor
	Extra     []usb.RawDescriptor `json:",omitempty"`
	Endpoints []Endpoint          `json:",omitempty"`
}

// Endpoint is an endpoint descriptor with its companion and class-specific
// descriptors.
type Endpoint struct {
	usb.EndpointDescriptor
	Companion *usb.SSEndpointCompanionDescriptor `json:",omitempty"`
	Extra     []usb.RawDescriptor                `json:",omitempty"`
}

// MSOS1 is a Microsoft OS 1.0 descriptor.
type MSOS1 struct {
	VendorCode uint8
	CompatIDs  []MSCompatID `json:",omitempty"`
}

// MSCompatID is one function section of an extended compat ID descriptor.
type MSCompatID struct {
	FirstInterface uint8
	CompatibleID   string
	SubCompatible  string
}

// Standard requests and the MS OS descriptor indices used to read a device.
const (
	reqGetDescriptor = 0x06
	msOS1StringIndex = 0xee
	msOS1CompatID    = 0x0004 // wIndex of the extended compat ID request
	msOS20Descriptor = 0x0007 // wIndex of the MS OS 2.0 descriptor set request
	rtStandardIn     = 0x80   // device-to-host, standard, device
	rtVendorIn       = 0xc0   // device-to-host, vendor, device
)

// msOS20UUID is the MS OS 2.0 platform capability UUID
// {D8DD60DF-4589-4CC7-9CD2-659D9E648A9F} in its wire byte order.
var msOS20UUID = []byte{0xdf, 0x60, 0xdd, 0xd8, 0x89, 0x45, 0xc7, 0x4c, 0x9c, 0xd2, 0x65, 0x9d, 0x9e, 0x64, 0x8a, 0x9f}

func getDescriptor(c Controller, t usb.DescriptorType, index uint8, lang uint16, size int) ([]byte, error) {
	buf := make([]byte, size)
	n, err := c.Control(rtStandardIn, reqGetDescriptor, uint16(t)<<8|uint16(index), lang, buf)
	if err != nil {
		return nil, fmt.Errorf("GET_DESCRIPTOR %s %d: %w", t, index, err)
	}
	return buf[:n], nil
}

// readTotal reads a descriptor with a wTotalLength at bytes 2..3 (config,
// BOS): its header first, then all of it.
func readTotal(c Controller, t usb.DescriptorType, index uint8, headerSize int) ([]byte, error) {
	h, err := getDescriptor(c, t, index, 0, headerSize)
	if err != nil {
		return nil, err
	}
	if len(h) < 4 {
		return nil, fmt.Errorf("GET_DESCRIPTOR %s %d: %d bytes, want at least 4", t, index, len(h))
	}
	total := int(binary.LittleEndian.Uint16(h[2:]))
	b, err := getDescriptor(c, t, index, 0, total)
	if err != nil {
		return nil, err
	}
	if len(b) != total {
		return nil, fmt.Errorf("GET_DESCRIPTOR %s %d: %d bytes, wTotalLength says %d", t, index, len(b), total)
	}
	return b, nil
}

// ReadSnapshot reads every descriptor from c: device, each configuration,
// string 0 and every referenced string in every language, the BOS, and the
// MS OS descriptors. A device that stalls the optional ones (string 0xEE,
// MS OS vendor requests) simply has none.
func ReadSnapshot(c Controller) (*Snapshot, error) {
	b, err := getDescriptor(c, usb.TypeDevice, 0, 0, usb.DeviceDescriptorSize)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{}
	if err := s.Device.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	for i := range s.Device.NumConfigurations {
		b, err := readTotal(c, usb.TypeConfig, i, usb.ConfigDescriptorSize)
		if err != nil {
			return nil, err
		}
		cfg, err := ParseConfiguration(b)
		if err != nil {
			return nil, fmt.Errorf("configuration index %d: %w", i, err)
		}
		s.Configs = append(s.Configs, *cfg)
	}
	if err := s.readStrings(c); err != nil {
		return nil, err
	}
	if s.Device.USB >= 0x0201 {
		b, err := readTotal(c, usb.TypeBOS, 0, usb.BOSDescriptorSize)
		if err != nil {
			return nil, err
		}
		ds, err := usb.ParseDescriptors(b[usb.BOSDescriptorSize:])
		if err != nil {
			return nil, fmt.Errorf("BOS: %w", err)
		}
		for _, d := range ds {
			if raw, ok := d.(usb.RawDescriptor); ok {
				s.BOS = append(s.BOS, raw)
			}
		}
		if s.MSOS20, err = readMSOS20(c, s.BOS); err != nil {
			return nil, err
		}
	}
	s.MSOS1 = readMSOS1(c)
	return s, nil
}

// stringIndices lists every string index the descriptors refer to.
func (s *Snapshot) stringIndices() []uint8 {
	idx := []uint8{s.Device.ManufacturerIndex, s.Device.ProductIndex, s.Device.SerialIndex}
	for _, c := range s.Configs {
		idx = append(idx, c.ConfigurationIndex)
		for _, a := range c.Associations {
			idx = append(idx, a.FunctionIndex)
		}
		for _, i := range c.Interfaces {
			idx = append(idx, i.InterfaceIndex)
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	return slices.DeleteFunc(idx, func(i uint8) bool { return i == 0 })
}

func (s *Snapshot) readStrings(c Controller) error {
	idx := s.stringIndices()
	if len(idx) == 0 {
		return nil
	}
	b, err := getDescriptor(c, usb.TypeString, 0, 0, 255)
	if err != nil {
		return fmt.Errorf("language IDs: %w", err)
	}
	if len(b) < 2 || int(b[0]) != len(b) || len(b)%2 != 0 {
		return fmt.Errorf("string descriptor 0: %d bytes with bLength %d", len(b), b[0])
	}
	s.Strings = map[usb.LangID]map[uint8]string{}
	for off := 2; off < len(b); off += 2 {
		lang := usb.LangID(binary.LittleEndian.Uint16(b[off:]))
		m := map[uint8]string{}
		for _, i := range idx {
			d, err := getDescriptor(c, usb.TypeString, i, uint16(lang), 255)
			if errors.Is(err, ErrStall) {
				if s.MissingStrings == nil {
					s.MissingStrings = map[usb.LangID][]uint8{}
				}
				s.MissingStrings[lang] = append(s.MissingStrings[lang], i)
				continue
			}
			if err != nil {
				return fmt.Errorf("language %#04x: %w", uint16(lang), err)
			}
			str, err := DecodeString(d)
			if err != nil {
				return fmt.Errorf("string %d language %#04x: %w", i, uint16(lang), err)
			}
			m[i] = str
		}
		s.Strings[lang] = m
	}
	return nil
}

// DecodeString decodes a string descriptor (UTF-16LE after the header).
func DecodeString(b []byte) (string, error) {
	if len(b) < 2 || int(b[0]) != len(b) || b[1] != byte(usb.TypeString) || len(b)%2 != 0 {
		return "", errors.New("not a well-formed string descriptor")
	}
	u := make([]uint16, 0, len(b)/2-1)
	for off := 2; off < len(b); off += 2 {
		u = append(u, binary.LittleEndian.Uint16(b[off:]))
	}
	return string(utf16.Decode(u)), nil
}

func readMSOS1(c Controller) *MSOS1 {
	b, err := getDescriptor(c, usb.TypeString, msOS1StringIndex, 0, 255)
	if err != nil || len(b) != 18 {
		return nil
	}
	sig, err := DecodeString(b[:16])
	if err != nil || sig != "MSFT100" {
		return nil
	}
	m := &MSOS1{VendorCode: b[16]}
	buf := make([]byte, 4096)
	n, err := c.Control(rtVendorIn, m.VendorCode, 0, msOS1CompatID, buf)
	if err != nil || n < 16 {
		return m
	}
	buf = buf[:n]
	count := int(buf[8])
	for i := range count {
		f := buf[16+24*i:]
		if len(f) < 24 {
			break
		}
		m.CompatIDs = append(m.CompatIDs, MSCompatID{
			FirstInterface: f[0],
			CompatibleID:   cString(f[2:10]),
			SubCompatible:  cString(f[10:18]),
		})
	}
	return m
}

func cString(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// readMSOS20 fetches the MS OS 2.0 descriptor set if a platform capability
// in bos announces one.
func readMSOS20(c Controller, bos []usb.RawDescriptor) ([]byte, error) {
	const platformCap = 0x05
	for _, d := range bos {
		// Data: bDevCapabilityType, bReserved, UUID[16], dwWindowsVersion,
		// wMSOSDescriptorSetTotalLength, bMS_VendorCode, bAltEnumCode.
		if d.Type != usb.TypeDeviceCapability || len(d.Data) < 26 || d.Data[0] != platformCap || !slices.Equal(d.Data[2:18], msOS20UUID) {
			continue
		}
		total := binary.LittleEndian.Uint16(d.Data[22:])
		buf := make([]byte, total)
		n, err := c.Control(rtVendorIn, d.Data[24], 0, msOS20Descriptor, buf)
		if err != nil {
			return nil, fmt.Errorf("MS OS 2.0 descriptor set (vendor code %#02x): %w", d.Data[24], err)
		}
		return buf[:n], nil
	}
	return nil, nil
}

// ParseConfiguration decodes a configuration's full wTotalLength bytes into a tree:
// interface association and interface descriptors in order, endpoints under
// their interface, companions and class-specific descriptors under what
// they follow.
func ParseConfiguration(b []byte) (*Configuration, error) {
	ds, err := usb.ParseDescriptors(b)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, errors.New("empty configuration")
	}
	cd, ok := ds[0].(usb.ConfigDescriptor)
	if !ok {
		return nil, fmt.Errorf("starts with a %s descriptor, not a configuration", ds[0].DescriptorType())
	}
	if int(cd.TotalLength) != len(b) {
		return nil, fmt.Errorf("wTotalLength %d, %d bytes read", cd.TotalLength, len(b))
	}
	c := &Configuration{ConfigDescriptor: cd}
	var alt *AltSetting
	var ep *Endpoint
	for i, d := range ds[1:] {
		switch d := d.(type) {
		case usb.InterfaceAssociationDescriptor:
			c.Associations = append(c.Associations, d)
		case usb.InterfaceDescriptor:
			c.Interfaces = append(c.Interfaces, AltSetting{InterfaceDescriptor: d})
			alt, ep = &c.Interfaces[len(c.Interfaces)-1], nil
		case usb.EndpointDescriptor:
			if alt == nil {
				return nil, fmt.Errorf("descriptor %d: endpoint %s before any interface", i+1, d.Address)
			}
			alt.Endpoints = append(alt.Endpoints, Endpoint{EndpointDescriptor: d})
			ep = &alt.Endpoints[len(alt.Endpoints)-1]
		case usb.SSEndpointCompanionDescriptor:
			if ep == nil {
				return nil, fmt.Errorf("descriptor %d: SuperSpeed endpoint companion not after an endpoint", i+1)
			}
			ep.Companion = &d
		case usb.RawDescriptor:
			switch {
			case ep != nil:
				ep.Extra = append(ep.Extra, d)
			case alt != nil:
				alt.Extra = append(alt.Extra, d)
			default:
				c.Extra = append(c.Extra, d)
			}
		default:
			return nil, fmt.Errorf("descriptor %d: unexpected %s descriptor inside a configuration", i+1, d.DescriptorType())
		}
	}
	return c, nil
}
