package usb

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors returned (wrapped, with the descriptor and the numbers) when a
// descriptor cannot be decoded or encoded.
var (
	// ErrShort means the input ends before the descriptor does.
	ErrShort = errors.New("descriptor truncated")
	// ErrLength means bLength is not a size the descriptor type may have,
	// or does not match the input.
	ErrLength = errors.New("bad bLength")
	// ErrType means bDescriptorType is not the one being decoded.
	ErrType = errors.New("wrong bDescriptorType")
)

// Sizes of the standard descriptors (bLength).
const (
	DeviceDescriptorSize               = 18
	ConfigDescriptorSize               = 9
	InterfaceDescriptorSize            = 9
	EndpointDescriptorSize             = 7
	AudioEndpointDescriptorSize        = 9
	SSEndpointCompanionDescriptorSize  = 6
	InterfaceAssociationDescriptorSize = 8
	BOSDescriptorSize                  = 5
)

// Descriptor is any descriptor this package can encode. Decoded sequences
// (ParseDescriptors) hold the value types defined here, and RawDescriptor for
// everything else.
type Descriptor interface {
	DescriptorType() DescriptorType
	MarshalBinary() ([]byte, error)
}

// header checks the first two bytes of b and that bLength is one of sizes and
// matches len(b) exactly.
func header(b []byte, t DescriptorType, sizes ...int) error {
	if len(b) < 2 {
		return fmt.Errorf("usb: %s descriptor: %w: %d bytes", t, ErrShort, len(b))
	}
	if DescriptorType(b[1]) != t {
		return fmt.Errorf("usb: %s descriptor: %w: %s", t, ErrType, DescriptorType(b[1]))
	}
	l := int(b[0])
	ok := false
	for _, s := range sizes {
		ok = ok || l == s
	}
	if !ok {
		return fmt.Errorf("usb: %s descriptor: %w: %d, want %d", t, ErrLength, l, sizes[0])
	}
	if len(b) < l {
		return fmt.Errorf("usb: %s descriptor: %w: bLength %d, %d bytes", t, ErrShort, l, len(b))
	}
	if len(b) > l {
		return fmt.Errorf("usb: %s descriptor: %w: bLength %d, %d bytes given", t, ErrLength, l, len(b))
	}
	return nil
}

// DeviceDescriptor is the 18-byte device descriptor.
type DeviceDescriptor struct {
	USB               BCD   // bcdUSB
	Class             Class // bDeviceClass
	SubClass          uint8
	Protocol          uint8
	MaxPacketSize0    uint8
	Vendor            uint16 // idVendor
	Product           uint16 // idProduct
	Device            BCD    // bcdDevice
	ManufacturerIndex uint8  // iManufacturer
	ProductIndex      uint8  // iProduct
	SerialIndex       uint8  // iSerialNumber
	NumConfigurations uint8
}

// DescriptorType returns TypeDevice.
func (DeviceDescriptor) DescriptorType() DescriptorType { return TypeDevice }

// MarshalBinary encodes the descriptor.
func (d DeviceDescriptor) MarshalBinary() ([]byte, error) {
	b := []byte{DeviceDescriptorSize, byte(TypeDevice)}
	b = binary.LittleEndian.AppendUint16(b, uint16(d.USB))
	b = append(b, byte(d.Class), d.SubClass, d.Protocol, d.MaxPacketSize0)
	b = binary.LittleEndian.AppendUint16(b, d.Vendor)
	b = binary.LittleEndian.AppendUint16(b, d.Product)
	b = binary.LittleEndian.AppendUint16(b, uint16(d.Device))
	b = append(b, d.ManufacturerIndex, d.ProductIndex, d.SerialIndex, d.NumConfigurations)
	return b, nil
}

// UnmarshalBinary decodes exactly one device descriptor.
func (d *DeviceDescriptor) UnmarshalBinary(b []byte) error {
	if err := header(b, TypeDevice, DeviceDescriptorSize); err != nil {
		return err
	}
	*d = DeviceDescriptor{
		USB:               BCD(binary.LittleEndian.Uint16(b[2:])),
		Class:             Class(b[4]),
		SubClass:          b[5],
		Protocol:          b[6],
		MaxPacketSize0:    b[7],
		Vendor:            binary.LittleEndian.Uint16(b[8:]),
		Product:           binary.LittleEndian.Uint16(b[10:]),
		Device:            BCD(binary.LittleEndian.Uint16(b[12:])),
		ManufacturerIndex: b[14],
		ProductIndex:      b[15],
		SerialIndex:       b[16],
		NumConfigurations: b[17],
	}
	return nil
}

// ConfigDescriptor is the 9-byte configuration descriptor header.
type ConfigDescriptor struct {
	TotalLength        uint16 // wTotalLength: this descriptor and all that follow it
	NumInterfaces      uint8
	ConfigurationValue uint8
	ConfigurationIndex uint8 // iConfiguration
	Attributes         uint8 // bmAttributes: 0x80 always, 0x40 self-powered, 0x20 remote wakeup
	MaxPower           uint8 // bMaxPower, in 2 mA (8 mA at SuperSpeed) units
}

// DescriptorType returns TypeConfig.
func (ConfigDescriptor) DescriptorType() DescriptorType { return TypeConfig }

// MarshalBinary encodes the descriptor.
func (c ConfigDescriptor) MarshalBinary() ([]byte, error) {
	b := []byte{ConfigDescriptorSize, byte(TypeConfig)}
	b = binary.LittleEndian.AppendUint16(b, c.TotalLength)
	return append(b, c.NumInterfaces, c.ConfigurationValue, c.ConfigurationIndex, c.Attributes, c.MaxPower), nil
}

// UnmarshalBinary decodes exactly one configuration descriptor (not the
// descriptors that follow it; see ParseDescriptors).
func (c *ConfigDescriptor) UnmarshalBinary(b []byte) error {
	if err := header(b, TypeConfig, ConfigDescriptorSize); err != nil {
		return err
	}
	*c = ConfigDescriptor{
		TotalLength:        binary.LittleEndian.Uint16(b[2:]),
		NumInterfaces:      b[4],
		ConfigurationValue: b[5],
		ConfigurationIndex: b[6],
		Attributes:         b[7],
		MaxPower:           b[8],
	}
	return nil
}

// InterfaceDescriptor is the 9-byte interface descriptor.
type InterfaceDescriptor struct {
	Number           uint8 // bInterfaceNumber
	AlternateSetting uint8
	NumEndpoints     uint8
	Class            Class // bInterfaceClass
	SubClass         uint8
	Protocol         uint8
	InterfaceIndex   uint8 // iInterface
}

// DescriptorType returns TypeInterface.
func (InterfaceDescriptor) DescriptorType() DescriptorType { return TypeInterface }

// MarshalBinary encodes the descriptor.
func (i InterfaceDescriptor) MarshalBinary() ([]byte, error) {
	return []byte{InterfaceDescriptorSize, byte(TypeInterface), i.Number, i.AlternateSetting,
		i.NumEndpoints, byte(i.Class), i.SubClass, i.Protocol, i.InterfaceIndex}, nil
}

// UnmarshalBinary decodes exactly one interface descriptor.
func (i *InterfaceDescriptor) UnmarshalBinary(b []byte) error {
	if err := header(b, TypeInterface, InterfaceDescriptorSize); err != nil {
		return err
	}
	*i = InterfaceDescriptor{
		Number: b[2], AlternateSetting: b[3], NumEndpoints: b[4],
		Class: Class(b[5]), SubClass: b[6], Protocol: b[7], InterfaceIndex: b[8],
	}
	return nil
}

// EndpointDescriptor is the endpoint descriptor: 7 bytes, or 9 for the
// audio-class variant that adds bRefresh and bSynchAddress.
type EndpointDescriptor struct {
	Address       EndpointAddress // bEndpointAddress
	Attributes    uint8           // bmAttributes: transfer type, iso sync type and usage
	MaxPacketSize uint16          // wMaxPacketSize: size in bits 0..10, extra high-speed transactions in 11..12
	Interval      uint8           // bInterval, in the speed's own encoding
	Audio         bool            // 9-byte form with the two fields below
	Refresh       uint8
	SynchAddress  uint8
}

// DescriptorType returns TypeEndpoint.
func (EndpointDescriptor) DescriptorType() DescriptorType { return TypeEndpoint }

// TransferType returns the transfer type in bmAttributes.
func (e EndpointDescriptor) TransferType() TransferType { return TransferType(e.Attributes & 3) }

// MaxPacket returns the packet size in bits 0..10 of wMaxPacketSize.
func (e EndpointDescriptor) MaxPacket() int { return int(e.MaxPacketSize & 0x7ff) }

// Transactions returns the number of transactions per microframe (1..3)
// that a high-speed periodic endpoint declares in bits 11..12.
func (e EndpointDescriptor) Transactions() int { return int(e.MaxPacketSize>>11&3) + 1 }

// MarshalBinary encodes the descriptor.
func (e EndpointDescriptor) MarshalBinary() ([]byte, error) {
	size := byte(EndpointDescriptorSize)
	if e.Audio {
		size = AudioEndpointDescriptorSize
	}
	b := []byte{size, byte(TypeEndpoint), byte(e.Address), e.Attributes}
	b = binary.LittleEndian.AppendUint16(b, e.MaxPacketSize)
	b = append(b, e.Interval)
	if e.Audio {
		b = append(b, e.Refresh, e.SynchAddress)
	}
	return b, nil
}

// UnmarshalBinary decodes exactly one endpoint descriptor.
func (e *EndpointDescriptor) UnmarshalBinary(b []byte) error {
	if err := header(b, TypeEndpoint, EndpointDescriptorSize, AudioEndpointDescriptorSize); err != nil {
		return err
	}
	*e = EndpointDescriptor{
		Address:       EndpointAddress(b[2]),
		Attributes:    b[3],
		MaxPacketSize: binary.LittleEndian.Uint16(b[4:]),
		Interval:      b[6],
	}
	if len(b) == AudioEndpointDescriptorSize {
		e.Audio, e.Refresh, e.SynchAddress = true, b[7], b[8]
	}
	return nil
}

// SSEndpointCompanionDescriptor follows every endpoint descriptor at
// SuperSpeed.
type SSEndpointCompanionDescriptor struct {
	MaxBurst         uint8  // bMaxBurst: packets per burst minus one, 0..15
	Attributes       uint8  // bmAttributes: log2 of max streams (bulk) or Mult (isochronous)
	BytesPerInterval uint16 // wBytesPerInterval, periodic endpoints only
}

// DescriptorType returns TypeSSEndpointCompanion.
func (SSEndpointCompanionDescriptor) DescriptorType() DescriptorType {
	return TypeSSEndpointCompanion
}

// MarshalBinary encodes the descriptor.
func (c SSEndpointCompanionDescriptor) MarshalBinary() ([]byte, error) {
	b := []byte{SSEndpointCompanionDescriptorSize, byte(TypeSSEndpointCompanion), c.MaxBurst, c.Attributes}
	return binary.LittleEndian.AppendUint16(b, c.BytesPerInterval), nil
}

// UnmarshalBinary decodes exactly one companion descriptor.
func (c *SSEndpointCompanionDescriptor) UnmarshalBinary(b []byte) error {
	if err := header(b, TypeSSEndpointCompanion, SSEndpointCompanionDescriptorSize); err != nil {
		return err
	}
	*c = SSEndpointCompanionDescriptor{MaxBurst: b[2], Attributes: b[3], BytesPerInterval: binary.LittleEndian.Uint16(b[4:])}
	return nil
}

// InterfaceAssociationDescriptor groups consecutive interfaces into one
// function.
type InterfaceAssociationDescriptor struct {
	FirstInterface   uint8
	InterfaceCount   uint8
	FunctionClass    Class
	FunctionSubClass uint8
	FunctionProtocol uint8
	FunctionIndex    uint8 // iFunction
}

// DescriptorType returns TypeInterfaceAssociation.
func (InterfaceAssociationDescriptor) DescriptorType() DescriptorType {
	return TypeInterfaceAssociation
}

// MarshalBinary encodes the descriptor.
func (a InterfaceAssociationDescriptor) MarshalBinary() ([]byte, error) {
	return []byte{InterfaceAssociationDescriptorSize, byte(TypeInterfaceAssociation), a.FirstInterface,
		a.InterfaceCount, byte(a.FunctionClass), a.FunctionSubClass, a.FunctionProtocol, a.FunctionIndex}, nil
}

// UnmarshalBinary decodes exactly one interface association descriptor.
func (a *InterfaceAssociationDescriptor) UnmarshalBinary(b []byte) error {
	if err := header(b, TypeInterfaceAssociation, InterfaceAssociationDescriptorSize); err != nil {
		return err
	}
	*a = InterfaceAssociationDescriptor{
		FirstInterface: b[2], InterfaceCount: b[3], FunctionClass: Class(b[4]),
		FunctionSubClass: b[5], FunctionProtocol: b[6], FunctionIndex: b[7],
	}
	return nil
}

// BOSDescriptor is the 5-byte Binary Object Store header; device capability
// descriptors follow it.
type BOSDescriptor struct {
	TotalLength   uint16
	NumDeviceCaps uint8
}

// DescriptorType returns TypeBOS.
func (BOSDescriptor) DescriptorType() DescriptorType { return TypeBOS }

// MarshalBinary encodes the descriptor.
func (d BOSDescriptor) MarshalBinary() ([]byte, error) {
	b := []byte{BOSDescriptorSize, byte(TypeBOS)}
	b = binary.LittleEndian.AppendUint16(b, d.TotalLength)
	return append(b, d.NumDeviceCaps), nil
}

// UnmarshalBinary decodes exactly one BOS header.
func (d *BOSDescriptor) UnmarshalBinary(b []byte) error {
	if err := header(b, TypeBOS, BOSDescriptorSize); err != nil {
		return err
	}
	*d = BOSDescriptor{TotalLength: binary.LittleEndian.Uint16(b[2:]), NumDeviceCaps: b[4]}
	return nil
}

// RawDescriptor is any descriptor kept as bytes: class-specific descriptors,
// device capabilities and types this package does not decode.
type RawDescriptor struct {
	Type DescriptorType
	Data []byte // everything after bLength and bDescriptorType
}

// DescriptorType returns r.Type.
func (r RawDescriptor) DescriptorType() DescriptorType { return r.Type }

// MarshalBinary encodes the descriptor; it fails if it would exceed 255
// bytes.
func (r RawDescriptor) MarshalBinary() ([]byte, error) {
	if len(r.Data) > 253 {
		return nil, fmt.Errorf("usb: %s descriptor: %w: %d data bytes, at most 253 fit", r.Type, ErrLength, len(r.Data))
	}
	return append([]byte{byte(len(r.Data) + 2), byte(r.Type)}, r.Data...), nil
}

// UnmarshalBinary decodes exactly one descriptor of any type as raw bytes.
func (r *RawDescriptor) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return fmt.Errorf("usb: descriptor: %w: %d bytes", ErrShort, len(b))
	}
	if int(b[0]) != len(b) {
		return fmt.Errorf("usb: %s descriptor: %w: bLength %d, %d bytes given", DescriptorType(b[1]), ErrLength, b[0], len(b))
	}
	*r = RawDescriptor{Type: DescriptorType(b[1]), Data: append([]byte{}, b[2:]...)}
	return nil
}

// ParseDescriptor decodes the descriptor at the start of b and returns it
// with its length. Types this package knows decode to their struct (by
// value); others to RawDescriptor.
func ParseDescriptor(b []byte) (Descriptor, int, error) {
	if len(b) < 2 {
		return nil, 0, fmt.Errorf("usb: descriptor: %w: %d bytes", ErrShort, len(b))
	}
	l, t := int(b[0]), DescriptorType(b[1])
	if l < 2 {
		return nil, 0, fmt.Errorf("usb: %s descriptor: %w: %d", t, ErrLength, l)
	}
	if l > len(b) {
		return nil, 0, fmt.Errorf("usb: %s descriptor: %w: bLength %d, %d bytes left", t, ErrShort, l, len(b))
	}
	b = b[:l]
	var err error
	var d Descriptor
	switch t {
	case TypeDevice:
		var v DeviceDescriptor
		err = v.UnmarshalBinary(b)
		d = v
	case TypeConfig:
		var v ConfigDescriptor
		err = v.UnmarshalBinary(b)
		d = v
	case TypeInterface:
		var v InterfaceDescriptor
		err = v.UnmarshalBinary(b)
		d = v
	case TypeEndpoint:
		var v EndpointDescriptor
		err = v.UnmarshalBinary(b)
		d = v
	case TypeSSEndpointCompanion:
		var v SSEndpointCompanionDescriptor
		err = v.UnmarshalBinary(b)
		d = v
	case TypeInterfaceAssociation:
		var v InterfaceAssociationDescriptor
		err = v.UnmarshalBinary(b)
		d = v
	case TypeBOS:
		var v BOSDescriptor
		err = v.UnmarshalBinary(b)
		d = v
	default:
		var v RawDescriptor
		err = v.UnmarshalBinary(b)
		d = v
	}
	if err != nil {
		return nil, 0, err
	}
	return d, l, nil
}

// ParseDescriptors decodes a packed sequence of descriptors, such as a
// configuration's full wTotalLength or the descriptors sysfs shows for a
// device. Errors name the offset of the descriptor that failed.
func ParseDescriptors(b []byte) ([]Descriptor, error) {
	var ds []Descriptor
	for off := 0; off < len(b); {
		d, n, err := ParseDescriptor(b[off:])
		if err != nil {
			return nil, fmt.Errorf("at offset %d: %w", off, err)
		}
		ds = append(ds, d)
		off += n
	}
	return ds, nil
}

// MarshalDescriptors encodes ds back to back.
func MarshalDescriptors(ds []Descriptor) ([]byte, error) {
	var out []byte
	for i, d := range ds {
		b, err := d.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("descriptor %d: %w", i, err)
		}
		out = append(out, b...)
	}
	return out, nil
}
