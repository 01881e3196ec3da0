package usb

import (
	"fmt"
	"strconv"
)

// Direction is the data direction bit of an endpoint address.
type Direction uint8

// Directions, as encoded in bit 7 of bEndpointAddress.
const (
	Out Direction = 0x00 // host to device
	In  Direction = 0x80 // device to host
)

func (d Direction) String() string {
	switch d {
	case Out:
		return "out"
	case In:
		return "in"
	}
	return fmt.Sprintf("direction(%#02x)", uint8(d))
}

// EndpointAddress is bEndpointAddress: an endpoint number (0..15) in bits
// 0..3 and the Direction in bit 7.
type EndpointAddress uint8

// Address returns the endpoint address of number n in direction d.
func Address(n int, d Direction) EndpointAddress {
	return EndpointAddress(uint8(n)&0x0f | uint8(d)&0x80)
}

// Number returns the endpoint number, 0..15.
func (a EndpointAddress) Number() int { return int(a & 0x0f) }

// Direction returns the direction bit.
func (a EndpointAddress) Direction() Direction { return Direction(a & 0x80) }

// IsIn reports whether the endpoint sends data to the host.
func (a EndpointAddress) IsIn() bool { return a&0x80 != 0 }

// String returns names like "ep1in" and "ep2out"; reserved bits 4..6, which
// no valid address sets, are shown in hex.
func (a EndpointAddress) String() string {
	s := "ep" + strconv.Itoa(a.Number()) + a.Direction().String()
	if a&0x70 != 0 {
		s += fmt.Sprintf("(%#02x)", uint8(a))
	}
	return s
}

// TransferType is the transfer type of an endpoint, bits 0..1 of
// bmAttributes.
type TransferType uint8

// Transfer types.
const (
	Control     TransferType = 0
	Isochronous TransferType = 1
	Bulk        TransferType = 2
	Interrupt   TransferType = 3
)

func (t TransferType) String() string {
	switch t {
	case Control:
		return "control"
	case Isochronous:
		return "isochronous"
	case Bulk:
		return "bulk"
	case Interrupt:
		return "interrupt"
	}
	return fmt.Sprintf("transfer-type(%d)", uint8(t))
}

// Speed is a bus speed. The names follow the kernel's usb_speed_string,
// which is also what /sys/class/udc/*/current_speed reports.
type Speed int

// Speeds, slowest first.
const (
	SpeedUnknown Speed = iota
	SpeedLow
	SpeedFull
	SpeedHigh
	SpeedSuper
	SpeedSuperPlus
)

var speedNames = [...]string{
	SpeedUnknown:   "UNKNOWN",
	SpeedLow:       "low-speed",
	SpeedFull:      "full-speed",
	SpeedHigh:      "high-speed",
	SpeedSuper:     "super-speed",
	SpeedSuperPlus: "super-speed-plus",
}

func (s Speed) String() string {
	if s >= 0 && int(s) < len(speedNames) {
		return speedNames[s]
	}
	return "speed(" + strconv.Itoa(int(s)) + ")"
}

// ParseSpeed parses the kernel's speed names (as in
// /sys/class/udc/*/current_speed and maximum_speed).
func ParseSpeed(s string) (Speed, error) {
	for i, n := range speedNames {
		if n == s {
			return Speed(i), nil
		}
	}
	return SpeedUnknown, fmt.Errorf("usb: unknown speed %q", s)
}

// Class is a USB-IF class code (bDeviceClass, bInterfaceClass,
// bFunctionClass).
type Class uint8

// Class codes from usb.org's defined class codes list.
const (
	ClassPerInterface       Class = 0x00
	ClassAudio              Class = 0x01
	ClassComm               Class = 0x02
	ClassHID                Class = 0x03
	ClassPhysical           Class = 0x05
	ClassImage              Class = 0x06
	ClassPrinter            Class = 0x07
	ClassMassStorage        Class = 0x08
	ClassHub                Class = 0x09
	ClassData               Class = 0x0a
	ClassSmartCard          Class = 0x0b
	ClassContentSecurity    Class = 0x0d
	ClassVideo              Class = 0x0e
	ClassPersonalHealthcare Class = 0x0f
	ClassAudioVideo         Class = 0x10
	ClassBillboard          Class = 0x11
	ClassTypeCBridge        Class = 0x12
	ClassDiagnostic         Class = 0xdc
	ClassWireless           Class = 0xe0
	ClassMiscellaneous      Class = 0xef
	ClassApplication        Class = 0xfe
	ClassVendorSpecific     Class = 0xff
)

var classNames = map[Class]string{
	ClassPerInterface:       "per-interface",
	ClassAudio:              "audio",
	ClassComm:               "communications",
	ClassHID:                "hid",
	ClassPhysical:           "physical",
	ClassImage:              "image",
	ClassPrinter:            "printer",
	ClassMassStorage:        "mass-storage",
	ClassHub:                "hub",
	ClassData:               "data",
	ClassSmartCard:          "smart-card",
	ClassContentSecurity:    "content-security",
	ClassVideo:              "video",
	ClassPersonalHealthcare: "personal-healthcare",
	ClassAudioVideo:         "audio-video",
	ClassBillboard:          "billboard",
	ClassTypeCBridge:        "type-c-bridge",
	ClassDiagnostic:         "diagnostic",
	ClassWireless:           "wireless",
	ClassMiscellaneous:      "miscellaneous",
	ClassApplication:        "application-specific",
	ClassVendorSpecific:     "vendor-specific",
}

func (c Class) String() string {
	if n, ok := classNames[c]; ok {
		return n
	}
	return fmt.Sprintf("class(%#02x)", uint8(c))
}

// BCD is a binary-coded decimal version such as bcdUSB 0x0200 ("2.00").
type BCD uint16

// Version returns the BCD of major.minor, e.g. Version(2, 10) == 0x0210.
// Parts that do not fit two decimal digits are reduced modulo 100.
func Version(major, minor int) BCD {
	enc := func(v int) uint16 { v %= 100; return uint16(v/10<<4 | v%10) }
	return BCD(enc(major)<<8 | enc(minor))
}

func (b BCD) String() string {
	return fmt.Sprintf("%x.%02x", uint16(b)>>8, uint16(b)&0xff)
}

// DescriptorType is bDescriptorType.
type DescriptorType uint8

// Descriptor types from the USB 2.0 and 3.x specifications, plus the common
// class-specific ones.
const (
	TypeDevice                   DescriptorType = 0x01
	TypeConfig                   DescriptorType = 0x02
	TypeString                   DescriptorType = 0x03
	TypeInterface                DescriptorType = 0x04
	TypeEndpoint                 DescriptorType = 0x05
	TypeDeviceQualifier          DescriptorType = 0x06
	TypeOtherSpeedConfig         DescriptorType = 0x07
	TypeInterfacePower           DescriptorType = 0x08
	TypeOTG                      DescriptorType = 0x09
	TypeDebug                    DescriptorType = 0x0a
	TypeInterfaceAssociation     DescriptorType = 0x0b
	TypeBOS                      DescriptorType = 0x0f
	TypeDeviceCapability         DescriptorType = 0x10
	TypeHID                      DescriptorType = 0x21
	TypeClassInterface           DescriptorType = 0x24
	TypeClassEndpoint            DescriptorType = 0x25
	TypeSSEndpointCompanion      DescriptorType = 0x30
	TypeSSPIsocEndpointCompanion DescriptorType = 0x31
)

var typeNames = map[DescriptorType]string{
	TypeDevice:                   "device",
	TypeConfig:                   "config",
	TypeString:                   "string",
	TypeInterface:                "interface",
	TypeEndpoint:                 "endpoint",
	TypeDeviceQualifier:          "device-qualifier",
	TypeOtherSpeedConfig:         "other-speed-config",
	TypeInterfacePower:           "interface-power",
	TypeOTG:                      "otg",
	TypeDebug:                    "debug",
	TypeInterfaceAssociation:     "interface-association",
	TypeBOS:                      "bos",
	TypeDeviceCapability:         "device-capability",
	TypeHID:                      "hid",
	TypeClassInterface:           "cs-interface",
	TypeClassEndpoint:            "cs-endpoint",
	TypeSSEndpointCompanion:      "ss-endpoint-companion",
	TypeSSPIsocEndpointCompanion: "ssp-isoc-endpoint-companion",
}

func (t DescriptorType) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("descriptor-type(%#02x)", uint8(t))
}

// LangID is a USB language identifier (wLANGID), used to select a string
// table.
type LangID uint16

// Common language identifiers.
const (
	LangEnglishUS LangID = 0x0409
	LangGerman    LangID = 0x0407
	LangFrench    LangID = 0x040c
	LangJapanese  LangID = 0x0411
)

func (l LangID) String() string { return fmt.Sprintf("%#04x", uint16(l)) }
