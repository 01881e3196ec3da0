package ffs

import (
	"errors"
	"time"

	"github.com/gadgetkit/gadgetkit/usb"
)

// Flags are the flags word of a FunctionFS v2 descriptors blob.
type Flags uint32

// FunctionFS descriptor flags (linux/usb/functionfs.h).
const (
	FlagHasFS         Flags = 1 << iota // full-speed descriptors present
	FlagHasHS                           // high-speed descriptors present
	FlagHasSS                           // SuperSpeed descriptors present
	FlagHasMSOSDesc                     // Microsoft OS descriptors present
	FlagVirtualAddr                     // endpoint files are named after bEndpointAddress
	FlagEventFD                         // an eventfd follows the header; ep0 events signal it
	FlagAllCtrlRecip                    // deliver control requests for every recipient
	FlagConfig0Setup                    // deliver control requests while unconfigured
)

// Descriptors describes one FunctionFS function once; MarshalBinary expands
// it into the descriptors of every speed in Speeds.
//
// Interfaces are numbered by their index (f_fs remaps the numbers into the
// gadget's configuration). Endpoint files are ep1, ep2, ... in the order the
// endpoints appear, interface by interface (see EndpointFiles).
type Descriptors struct {
	// Speeds to describe; nil means full, high and SuperSpeed.
	Speeds []usb.Speed
	// Associations are interface association descriptors, each placed
	// before the first interface it groups.
	Associations []Association
	Interfaces   []Interface
	// Flags adds the behaviour flags FlagVirtualAddr, FlagEventFD,
	// FlagAllCtrlRecip and FlagConfig0Setup. The FlagHas* flags are derived.
	Flags Flags
	// EventFD is the eventfd written into the blob when Flags has
	// FlagEventFD.
	EventFD int
}

// Association groups consecutive interfaces into one function
// (an interface association descriptor).
type Association struct {
	FirstInterface uint8
	InterfaceCount uint8
	Class          usb.Class
	SubClass       uint8
	Protocol       uint8
	Name           uint8 // iFunction: string index, 0 for none
}

// Interface is one interface (alternate setting 0) with its endpoints.
type Interface struct {
	Class    usb.Class
	SubClass uint8
	Protocol uint8
	Name     uint8 // iInterface: string index, 0 for none
	// ClassDescriptors are class-specific descriptors, complete with
	// bLength and bDescriptorType, placed between the interface descriptor
	// and its endpoints at every speed.
	ClassDescriptors [][]byte
	Endpoints        []Endpoint
	// CompatibleID and SubCompatibleID form the Microsoft OS extended
	// compat ID of this interface (e.g. "WINUSB"); empty for none.
	CompatibleID    string
	SubCompatibleID string
	// Properties are Microsoft OS extended properties of this interface.
	Properties []Property
}

// Endpoint is one data endpoint, expanded per speed.
type Endpoint struct {
	Address usb.EndpointAddress // number 1..15 and direction
	Type    usb.TransferType    // Bulk, Interrupt or Isochronous
	// MaxPacketSize is wMaxPacketSize of interrupt and isochronous
	// endpoints at every speed. Bulk endpoints use 512 at high speed and
	// 1024 at SuperSpeed, the only sizes allowed; for bulk, MaxPacketSize
	// is the full-speed size (8, 16, 32 or 64; 0 means 64).
	MaxPacketSize uint16
	// Interval is the service interval of interrupt and isochronous
	// endpoints: 125µs times a power of two, at least 1ms for full speed.
	Interval time.Duration
	// Transactions per microframe (1..3) of a high-speed interrupt or
	// isochronous endpoint; 0 means 1.
	Transactions uint8
	// IsoAttributes are bits 2..5 of bmAttributes (synchronisation type
	// and usage) of an isochronous endpoint.
	IsoAttributes uint8
	// MaxBurst (0..15), MaxStreams (log2, bulk, 0..16), Mult (isochronous,
	// 0..2) and BytesPerInterval go into the SuperSpeed companion.
	// BytesPerInterval 0 means MaxPacketSize*(MaxBurst+1)*(Mult+1) for
	// periodic endpoints.
	MaxBurst         uint8
	MaxStreams       uint8
	Mult             uint8
	BytesPerInterval uint16
	// ClassDescriptors follow the endpoint (and its companion) at every
	// speed.
	ClassDescriptors [][]byte
}

// Property is a Microsoft OS extended property (e.g. DeviceInterfaceGUIDs).
type Property struct {
	Name string
	Type PropertyType
	// Data is the value as stored: UTF-16LE with terminating NULs for the
	// string types, little endian for REG_DWORD_LITTLE_ENDIAN. See
	// StringProperty and MultiStringProperty.
	Data []byte
}

// PropertyType is dwPropertyDataType of an extended property.
type PropertyType uint32

// Extended property types (Windows registry value types).
const (
	PropSZ                PropertyType = 1 // REG_SZ
	PropExpandSZ          PropertyType = 2 // REG_EXPAND_SZ
	PropBinary            PropertyType = 3 // REG_BINARY
	PropDWordLittleEndian PropertyType = 4 // REG_DWORD_LITTLE_ENDIAN
	PropDWordBigEndian    PropertyType = 5 // REG_DWORD_BIG_ENDIAN
	PropLink              PropertyType = 6 // REG_LINK
	PropMultiSZ           PropertyType = 7 // REG_MULTI_SZ
)

// EndpointFile is a data endpoint file that f_fs creates for a function.
type EndpointFile struct {
	Name      string              // "ep1", "ep2", ... (file name under the mount)
	Address   usb.EndpointAddress // as described
	Type      usb.TransferType
	Interface uint8 // index of the interface the endpoint belongs to
}

var errNotYet = errors.New("ffs: not implemented yet")

// Validate checks every rule of FunctionFS and the USB specification this
// package knows, and names the interface, endpoint and field that break one.
func (d *Descriptors) Validate() error { return errNotYet }

// MarshalBinary validates d and encodes the v2 descriptors blob (magic 3)
// to write to ep0.
func (d *Descriptors) MarshalBinary() ([]byte, error) { return nil, errNotYet }

// EndpointFiles lists the data endpoints in the order f_fs names their
// files: ep1, ep2, ... in descriptor order, or ep<address> with
// FlagVirtualAddr.
func (d *Descriptors) EndpointFiles() []EndpointFile { return nil }

// DescriptorBlob is a decoded descriptors blob, v1 (magic 1) or v2
// (magic 3): what was, or would be, written to ep0. Print it with String
// or compare two with go-cmp to diagnose a blob.
type DescriptorBlob struct {
	Version int   // 1 or 2
	Flags   Flags // v1 blobs decode as FlagHasFS|FlagHasHS
	EventFD int32 // present when Flags has FlagEventFD
	// Descriptors per speed, in blob order; nil when the count is zero.
	FullSpeed  []usb.Descriptor
	HighSpeed  []usb.Descriptor
	SuperSpeed []usb.Descriptor
	OS         []OSDescriptor
}

// OSDescriptor is one Microsoft OS descriptor of a blob: a header naming
// the interface, then extended compat IDs (wIndex 4) or extended properties
// (wIndex 5).
type OSDescriptor struct {
	Interface  uint8
	BCDVersion usb.BCD
	Index      uint16 // wIndex: 4 extended compat ID, 5 extended properties
	Compat     []CompatID
	Properties []Property
}

// CompatID is one function section of an extended compat ID descriptor.
type CompatID struct {
	FirstInterface  uint8
	Reserved1       uint8 // f_fs requires 1
	CompatibleID    [8]byte
	SubCompatibleID [8]byte
}

// ParseDescriptorBlob decodes a v1 or v2 descriptors blob.
func ParseDescriptorBlob(b []byte) (*DescriptorBlob, error) { return nil, errNotYet }

// MarshalBinary encodes the blob as is, without FunctionFS rule checks
// (only what the format needs: counts and lengths that fit).
func (b *DescriptorBlob) MarshalBinary() ([]byte, error) { return nil, errNotYet }

// Blob expands d into the descriptors blob MarshalBinary encodes.
func (d *Descriptors) Blob() (*DescriptorBlob, error) { return nil, errNotYet }
