package config

import (
	"io/fs"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/pattern"
	"github.com/gadgetkit/gadgetkit/usb"
)

// Config is one gadget file.
type Config struct {
	Gadget Gadget
	// UDC is the controller to bind to, or "auto" for the first free one.
	UDC            string
	Configurations []Configuration
	Functions      []Function
	// StatusSocket is the unix socket path of the daemon's status
	// endpoint; "" means none.
	StatusSocket string
	// User is who gadgetd serves the endpoints as, in a worker process:
	// USER[:GROUP], names or numbers, never root. "" serves them as root
	// in one process.
	User string
	Log  Log
}

// Gadget is the device part of the file.
type Gadget struct {
	Name      string // configfs directory name
	VendorID  uint16
	ProductID uint16
	BCDDevice uint16 // 0 keeps the kernel's default
	BCDUSB    uint16 // 0 keeps the kernel's default
	Class     usb.Class
	SubClass  uint8
	Protocol  uint8
	// MaxSpeed limits the gadget's speed; SpeedUnknown keeps the UDC's.
	MaxSpeed usb.Speed
	Strings  []DeviceStrings // in file order
	OSDesc   *OSDesc
}

// DeviceStrings are the device strings in one language.
type DeviceStrings struct {
	Lang         usb.LangID
	Manufacturer string
	Product      string
	Serial       string
}

// OSDesc turns on Microsoft OS descriptors for the gadget.
type OSDesc struct {
	VendorCode    uint8  // bMS_VendorCode of the OS string descriptor
	Sign          string // qwSignature, "MSFT100"
	Configuration int    // Number of the configuration that carries them
}

// Configuration is one USB configuration.
type Configuration struct {
	Number     int   // bConfigurationValue
	Attributes uint8 // bmAttributes, bit 7 always set
	MaxPowerMA int
	Strings    []LangString // the configuration string per language
	// Functions are Function.Name values, in interface order.
	Functions []string
}

// LangString is one string in one language.
type LangString struct {
	Lang  usb.LangID
	Value string
}

// Function types: the names of the kernel's configfs functions.
const (
	TypeFunctionFS  = "ffs"
	TypeACM         = "acm"
	TypeECM         = "ecm"
	TypeNCM         = "ncm"
	TypeMassStorage = "mass_storage"
	TypeHID         = "hid"
	TypeSourceSink  = "SourceSink"
	TypeLoopback    = "Loopback"
)

// Function is one function; exactly the field for its Type is set (none for
// acm, which has no options).
type Function struct {
	Name string // instance name: the configfs directory is Type.Name
	Type string // one of the Type* constants

	FunctionFS  *FunctionFS
	Net         *Net // ecm, ncm
	MassStorage *MassStorage
	HID         *HID
	SourceSink  *SourceSink
	Loopback    *Loopback
}

// Net are the options of ecm and ncm.
type Net struct {
	DevAddr  string // gadget MAC address, "" for random
	HostAddr string // host MAC address, "" for random
	QMult    int    // 0 keeps the kernel's default
	// OSDesc is ncm's os_desc/interface.ncm entry.
	OSDesc *InterfaceOSDesc
}

// InterfaceOSDesc is a kernel function's Microsoft compatible ID.
type InterfaceOSDesc struct {
	CompatibleID    string
	SubCompatibleID string
}

// MassStorage are the options of mass_storage.
type MassStorage struct {
	Stall bool
	LUNs  []LUN
}

// LUN is one mass_storage logical unit.
type LUN struct {
	File          string
	ReadOnly      bool
	Removable     bool
	CDROM         bool
	NoFUA         bool
	InquiryString string
}

// HID are the options of hid.
type HID struct {
	Protocol     uint8
	SubClass     uint8
	ReportLength uint16
	ReportDesc   []byte
}

// SourceSink are the options of the kernel's SourceSink; zero values keep
// the kernel's defaults.
type SourceSink struct {
	Pattern       Pattern
	BulkBufLen    int
	BulkQLen      int
	ISOQLen       int
	ISOCInterval  int
	ISOCMaxPacket int
	ISOCMult      int
	ISOCMaxBurst  int
}

// Loopback are the options of the kernel's Loopback; zero values keep the
// kernel's defaults.
type Loopback struct {
	QLen       int
	BulkBufLen int
}

// FunctionFS is a function implemented in user space. Speeds, Interfaces
// and Endpoint map field for field onto package ffs's Descriptors,
// Interface and Endpoint; interface names become the ffs strings table.
type FunctionFS struct {
	Mount Mount
	// Speeds described, slowest first: full, high, super.
	Speeds       []usb.Speed
	Associations []Association
	Interfaces   []Interface
	Flags        Flags
	Personality  Personality
}

// Flags are the FunctionFS behaviour flags a file can ask for.
type Flags struct {
	VirtualAddr  bool // endpoint files named after their addresses (ep1in...)
	AllCtrlRecip bool // control requests for every recipient reach ep0
	Config0Setup bool // control requests reach ep0 while unconfigured
}

// Association is an interface association descriptor grouping interfaces
// of a FunctionFS function.
type Association struct {
	FirstInterface uint8 // index into Interfaces
	InterfaceCount uint8
	Class          usb.Class
	SubClass       uint8
	Protocol       uint8
	Name           []LangString // iFunction in each language
}

// Mount is where and how the functionfs instance is mounted.
type Mount struct {
	Dir          string
	UID, GID     uint32
	RMode, FMode fs.FileMode // 0 keeps the kernel's default
	NoDisconnect bool
}

// Interface is one interface of a FunctionFS function.
type Interface struct {
	Class    usb.Class
	SubClass uint8
	Protocol uint8
	// Name is iInterface in each language; every named interface of a
	// function has the same languages.
	Name []LangString
	// ClassDescriptors are raw class-specific descriptors (e.g. the HID
	// descriptor), each complete with bLength and bDescriptorType.
	ClassDescriptors [][]byte
	Endpoints        []Endpoint
	// CompatibleID and SubCompatibleID are the Microsoft extended compat
	// ID, e.g. "WINUSB"; "" for none.
	CompatibleID    string
	SubCompatibleID string
	Properties      []Property
	// AltSettings are alternate settings 1, 2, ... (alt_settings), each
	// with endpoints of its own.
	AltSettings []AltSetting
}

// AltSetting is an alternate setting of an Interface (package ffs's
// AltSetting): the same interface number with other descriptors.
type AltSetting struct {
	Class            usb.Class
	SubClass         uint8
	Protocol         uint8
	Name             []LangString
	ClassDescriptors [][]byte
	Endpoints        []Endpoint
}

// Endpoint is one data endpoint.
type Endpoint struct {
	Address usb.EndpointAddress
	Type    usb.TransferType
	// MaxPacket is wMaxPacketSize per speed; interrupt and isochronous
	// endpoints have one size at every speed.
	MaxPacket    MaxPacket
	Interval     time.Duration // interrupt and isochronous only
	Transactions uint8         // per microframe, 1..3; interrupt and isochronous
	// IsoAttributes are bits 2..5 of bmAttributes (synchronisation type
	// and usage) of an isochronous endpoint.
	IsoAttributes uint8
	MaxBurst      uint8 // SuperSpeed companion, 0..15
	MaxStreams    uint8 // SuperSpeed bulk streams (log2), 0..16
	Mult          uint8 // SuperSpeed isochronous, 0..2
	// BytesPerInterval is wBytesPerInterval of a periodic SuperSpeed
	// endpoint; 0 lets package ffs compute it.
	BytesPerInterval uint16
}

// MaxPacket is wMaxPacketSize at each speed.
type MaxPacket struct {
	Full, High, Super uint16
}

// PropertyType is the registry type of an extended property; the values
// are those of the descriptor (and of package ffs).
type PropertyType uint32

// Extended property types.
const (
	PropSZ                PropertyType = 1
	PropExpandSZ          PropertyType = 2
	PropBinary            PropertyType = 3
	PropDWordLittleEndian PropertyType = 4
	PropDWordBigEndian    PropertyType = 5
	PropLink              PropertyType = 6
	PropMultiSZ           PropertyType = 7
)

// Property is a Microsoft OS extended property. Parse accepts only the
// types Linux's f_fs can serve (sz, expand_sz, link and binary; package
// ffs's rule): it stalls the host's request for multi_sz and the dword
// types.
type Property struct {
	Name string
	Type PropertyType
	// Strings holds the value of the string types: one string. Binary is
	// the value of binary. DWord is never set (see above).
	Strings []string
	DWord   uint32
	Binary  []byte
}

// PersonalityKind names what gadgetd runs on a FunctionFS function.
type PersonalityKind string

// Personalities.
const (
	// PersonalityLoopback sends every OUT transfer back on IN, as gadget
	// zero's loopback function does.
	PersonalityLoopback PersonalityKind = "loopback"
	// PersonalitySourceSink sources a pattern on IN and sinks and checks
	// OUT, as gadget zero's source/sink function does.
	PersonalitySourceSink PersonalityKind = "sourcesink"
	// PersonalityAbort provokes aborted transfers for diagnostics.
	PersonalityAbort PersonalityKind = "abort"
)

// Personality is what gadgetd runs on a FunctionFS function.
type Personality struct {
	Kind        PersonalityKind
	QueueDepth  int     // requests in flight per endpoint
	RequestSize int     // bytes per request
	Pattern     Pattern // sourcesink only
	Abort       *AbortOptions
}

// Pattern is gadget zero's data pattern (its "pattern" parameter).
type Pattern int

// Patterns.
const (
	PatternZeros Pattern = pattern.ParamZeros // all zeros
	PatternMod63 Pattern = pattern.ParamMod63 // pattern.GadgetZero: byte i of a transfer is (i % wMaxPacketSize) % 63
	PatternNone  Pattern = pattern.ParamNone  // whatever is in the buffer, not checked
)

// AbortOptions says which aborts the abort personality provokes and
// where its records go.
type AbortOptions struct {
	// Action is "cancel" (io_cancel requests in flight), "halt" (halt the
	// endpoint) or "disconnect" (soft-disconnect the UDC).
	Action string
	Count  int // aborts the policies provoke; 0 means until stopped
	// Records is the file the abort records are written to at exit, as
	// JSON lines ("" for none).
	Records string
	Keep    int // records kept in memory, 1..65535 (default 4096)
	// Policies say when requests are cancelled, per endpoint; a vendor
	// control request from the host cancels whatever the policies say.
	Policies []CancelPolicy
}

// CancelPolicy is when the abort personality cancels requests of one
// endpoint (or of every endpoint). Exactly one trigger is set.
type CancelPolicy struct {
	Endpoint string // the endpoint's address as "ep1in", "ep2out"; "" for every endpoint
	// After cancels each request that has been in flight this long; with
	// Every or Probability, it is how long a chosen request stays in flight.
	After       time.Duration
	AfterBytes  int64   // cancel the oldest request each time the endpoint has moved this many bytes
	Every       int     // cancel every Nth request submitted
	Probability float64 // cancel each request with this probability, 0 < p <= 1
	Seed        uint64  // of the random choice, so a run can be repeated
}

// Log configures the daemon's slog output.
type Log struct {
	Format string // "text" or "json"
	Level  string // "debug", "info", "warn" or "error"
}
