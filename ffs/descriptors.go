package ffs

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gadgetkit/gadgetkit/usb"
)

// Flags are the flags word of a FunctionFS v2 descriptors blob.
type Flags uint32

// FunctionFS descriptor flags (linux/usb/functionfs.h).
const (
	FlagHasFS        Flags = 1 << iota // full-speed descriptors present
	FlagHasHS                          // high-speed descriptors present
	FlagHasSS                          // SuperSpeed descriptors present
	FlagHasMSOSDesc                    // Microsoft OS descriptors present
	FlagVirtualAddr                    // endpoint files are named after bEndpointAddress
	FlagEventFD                        // an eventfd follows the header; ep0 events signal it
	FlagAllCtrlRecip                   // deliver control requests for every recipient
	FlagConfig0Setup                   // deliver control requests while unconfigured
)

var flagNames = []string{"HAS_FS_DESC", "HAS_HS_DESC", "HAS_SS_DESC", "HAS_MS_OS_DESC",
	"VIRTUAL_ADDR", "EVENTFD", "ALL_CTRL_RECIP", "CONFIG0_SETUP"}

// String returns the flag names joined by "|", e.g. "HAS_FS_DESC|EVENTFD".
func (f Flags) String() string {
	var names []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if rest := f &^ (1<<len(flagNames) - 1); rest != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(rest)))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// userFlags are the flags Descriptors.Flags may carry; the others are
// derived from the description.
const userFlags = FlagVirtualAddr | FlagEventFD | FlagAllCtrlRecip | FlagConfig0Setup

// MaxInterfaces is the most interfaces one configuration can hold
// (MAX_CONFIG_INTERFACES); usb_interface_id fails beyond it.
const MaxInterfaces = 16

// MaxAltSettings is the most alternate settings an interface may have
// besides setting 0. f_fs takes the descriptors of any number, but where
// it has a get_alt callback (ffs_func_get_alt, added upstream in 2024 with
// MAX_ALT_SETTINGS; Debian's 6.12 has it) it refuses SET_INTERFACE to a
// setting above 2; without it (Debian's 6.1) the composite layer stalls
// SET_INTERFACE to any setting but 0 and the host can only enumerate the
// others.
const MaxAltSettings = 2

// Descriptors describes one FunctionFS function once; MarshalBinary expands
// it into the descriptors of every speed in Speeds.
//
// Interfaces are numbered by their index (f_fs remaps the numbers into the
// gadget's configuration). Endpoint files are ep1, ep2, ... in the order the
// endpoints appear, interface by interface (see EndpointFiles).
type Descriptors struct {
	// Speeds to describe: any of usb.SpeedFull, usb.SpeedHigh and
	// usb.SpeedSuper (FunctionFS has no other descriptor sets; SuperSpeed
	// Plus links use the SuperSpeed ones). Nil means all three.
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

// Interface is one interface (alternate setting 0) with its endpoints and
// its other alternate settings.
type Interface struct {
	Class    usb.Class
	SubClass uint8
	Protocol uint8
	Name     uint8 // iInterface: string index, 0 for none
	// ClassDescriptors are class-specific descriptors, complete with
	// bLength and bDescriptorType, placed between the interface descriptor
	// and its endpoints at every speed. f_fs accepts only type 0x21 here:
	// the HID descriptor (HID class, 9 bytes) and the CCID descriptor
	// (smart-card class, 54 bytes). Kernels after 6.1 also take the DFU
	// functional descriptor; 6.1 rejects it, so Validate does too.
	ClassDescriptors [][]byte
	Endpoints        []Endpoint
	// CompatibleID and SubCompatibleID form the Microsoft OS extended
	// compat ID of this interface (e.g. "WINUSB"); empty for none. They
	// reach the host only if the gadget enables OS descriptors
	// (os_desc/use in configfs).
	CompatibleID    string
	SubCompatibleID string
	// Properties are Microsoft OS extended properties of this interface.
	Properties []Property
	// AltSettings are alternate settings 1, 2, ... of this interface
	// (at most MaxAltSettings), each with endpoints of its own: f_fs binds
	// every endpoint descriptor to a hardware endpoint and enables all of
	// them at every SET_INTERFACE, so no address may appear in two
	// settings. User space is not told which setting the host chose: every
	// SET_INTERFACE is an EventDisable and an EventEnable.
	AltSettings []AltSetting
}

// AltSetting is an alternate setting (bAlternateSetting 1 and up) of an
// Interface: the same interface number with other descriptors.
type AltSetting struct {
	Class            usb.Class
	SubClass         uint8
	Protocol         uint8
	Name             uint8    // iInterface: string index, 0 for none
	ClassDescriptors [][]byte // as Interface.ClassDescriptors
	Endpoints        []Endpoint
}

// settings returns alternate setting 0 (the interface's own fields) and
// then AltSettings.
func (in *Interface) settings() []AltSetting {
	return append([]AltSetting{{Class: in.Class, SubClass: in.SubClass, Protocol: in.Protocol, Name: in.Name,
		ClassDescriptors: in.ClassDescriptors, Endpoints: in.Endpoints}}, in.AltSettings...)
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
	// endpoints: 125µs times a power of two (up to 4.096s). Full speed
	// counts in whole frames, so intervals under 1ms become 1ms there.
	Interval time.Duration
	// Transactions per microframe (1..3) of a high-speed interrupt or
	// isochronous endpoint; 0 means 1.
	Transactions uint8
	// IsoAttributes are the synchronisation type and usage bits (2..5) of
	// bmAttributes of an isochronous endpoint, in place (e.g. 0x04 for
	// asynchronous).
	IsoAttributes uint8
	// MaxBurst (0..15), MaxStreams (log2, bulk, 0..16), Mult (isochronous,
	// 0..2) and BytesPerInterval go into the SuperSpeed companion.
	// BytesPerInterval 0 means MaxPacketSize*(MaxBurst+1)*(Mult+1) for
	// periodic endpoints.
	MaxBurst         uint8
	MaxStreams       uint8
	Mult             uint8
	BytesPerInterval uint16
}

// EndpointFile is a data endpoint file that f_fs creates for a function.
type EndpointFile struct {
	Name      string              // "ep1", "ep2", ... (file name under the mount)
	Address   usb.EndpointAddress // as described
	Type      usb.TransferType
	Interface uint8 // index of the interface the endpoint belongs to
	Alt       uint8 // its alternate setting
}

// DescriptorError is a rule a Descriptors or Strings value breaks.
type DescriptorError struct {
	Where  string // e.g. "interface 0 endpoint 1 (ep2out)"; empty for the whole value
	Field  string // the field at fault, e.g. "MaxPacketSize"
	Reason string
	// Interface, Alt and Endpoint locate the value at fault in a
	// Descriptors by index: Interfaces[Interface], its alternate setting
	// Alt (0: the Interface itself, k: AltSettings[k-1]), and Endpoints
	// [Endpoint] of that setting. Each is -1 when the error is about
	// something larger (Endpoint is -1 for an interface's own field).
	Interface, Alt, Endpoint int
	// Association is the index into Associations of the association at
	// fault, -1 for none.
	Association int
}

func (e *DescriptorError) Error() string {
	s := "ffs: "
	if e.Where != "" {
		s += e.Where + ": "
	}
	return s + e.Field + ": " + e.Reason
}

func invalid(where, field, format string, args ...any) error {
	return &DescriptorError{Where: where, Field: field, Reason: fmt.Sprintf(format, args...), Interface: -1, Alt: -1, Endpoint: -1, Association: -1}
}

// place is where in a Descriptors a rule applies (see DescriptorError).
type place struct {
	where               string
	intf, alt, endpoint int
	association         int
}

func (p place) invalid(field, format string, args ...any) error {
	return &DescriptorError{Where: p.where, Field: field, Reason: fmt.Sprintf(format, args...),
		Interface: p.intf, Alt: p.alt, Endpoint: p.endpoint, Association: p.association}
}

func settingPlace(i, alt int) place {
	w := fmt.Sprintf("interface %d", i)
	if alt > 0 {
		w += fmt.Sprintf(" alt %d", alt)
	}
	return place{where: w, intf: i, alt: alt, endpoint: -1, association: -1}
}

func endpointPlace(i, alt, j int, e *Endpoint) place {
	p := settingPlace(i, alt)
	p.where += fmt.Sprintf(" endpoint %d (%s)", j, e.Address)
	p.endpoint = j
	return p
}

func (d *Descriptors) speeds() []usb.Speed {
	if d.Speeds == nil {
		return []usb.Speed{usb.SpeedFull, usb.SpeedHigh, usb.SpeedSuper}
	}
	return d.Speeds
}

func (d *Descriptors) has(s usb.Speed) bool { return slices.Contains(d.speeds(), s) }

// Validate checks every rule of FunctionFS and the USB specification this
// package knows, and names the interface, endpoint and field that break one.
func (d *Descriptors) Validate() error {
	if d.Speeds != nil && len(d.Speeds) == 0 {
		return invalid("", "Speeds", "empty: describe at least one speed (nil means all)")
	}
	for i, s := range d.Speeds {
		switch s {
		case usb.SpeedFull, usb.SpeedHigh, usb.SpeedSuper:
		default:
			return invalid("", "Speeds", "%s has no FunctionFS descriptor set (full-speed, high-speed or super-speed)", s)
		}
		if slices.Contains(d.Speeds[:i], s) {
			return invalid("", "Speeds", "%s listed twice", s)
		}
	}
	if extra := d.Flags &^ userFlags; extra != 0 {
		return invalid("", "Flags", "%s are derived from the description; set only VIRTUAL_ADDR, EVENTFD, ALL_CTRL_RECIP or CONFIG0_SETUP", extra)
	}
	if d.Flags&FlagEventFD != 0 && d.EventFD < 0 {
		return invalid("", "EventFD", "%d is not a file descriptor", d.EventFD)
	}
	if d.Flags&FlagEventFD == 0 && d.EventFD != 0 {
		return invalid("", "EventFD", "set to %d but Flags lacks EVENTFD", d.EventFD)
	}
	n := len(d.Interfaces)
	if n == 0 {
		return invalid("", "Interfaces", "none: a function needs at least one interface")
	}
	if n > MaxInterfaces {
		return invalid("", "Interfaces", "%d, a configuration holds at most %d", n, MaxInterfaces)
	}
	if err := d.validateAssociations(); err != nil {
		return err
	}
	// Distinct addresses also keep the count within f_fs's limit of 30
	// data endpoints (FFS_MAX_EPS_COUNT - 1): 15 numbers, two directions.
	// f_fs binds each endpoint descriptor to its own hardware endpoint,
	// so alternate settings cannot share addresses either.
	seen := map[usb.EndpointAddress]string{}
	for i := range d.Interfaces {
		in := &d.Interfaces[i]
		if n := len(in.AltSettings); n > MaxAltSettings {
			p := settingPlace(i, 0)
			return p.invalid("AltSettings", "%d alternate settings besides 0; f_fs refuses SET_INTERFACE beyond setting %d", n, MaxAltSettings)
		}
		if err := validateOS(settingPlace(i, 0), in); err != nil {
			return err
		}
		for alt, st := range in.settings() {
			sp := settingPlace(i, alt)
			for k, c := range st.ClassDescriptors {
				if err := checkClassDescriptor(st.Class, c); err != nil {
					return sp.invalid(fmt.Sprintf("ClassDescriptors[%d]", k), "%s", err)
				}
			}
			for j := range st.Endpoints {
				e := &st.Endpoints[j]
				ep := endpointPlace(i, alt, j, e)
				if prev, ok := seen[e.Address]; ok {
					return ep.invalid("Address", "%s is already used by %s", e.Address, prev)
				}
				seen[e.Address] = ep.where
				if err := d.validateEndpoint(ep, e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (d *Descriptors) validateAssociations() error {
	n := len(d.Interfaces)
	covered := make([]int, n)
	for k, a := range d.Associations {
		at := place{where: fmt.Sprintf("association %d", k), intf: -1, alt: -1, endpoint: -1, association: k}
		if int(a.FirstInterface) >= n {
			return at.invalid("FirstInterface", "%d, but there are %d interfaces", a.FirstInterface, n)
		}
		if a.InterfaceCount == 0 {
			return at.invalid("InterfaceCount", "0: an association groups at least one interface")
		}
		if int(a.FirstInterface)+int(a.InterfaceCount) > n {
			return at.invalid("InterfaceCount", "%d from interface %d runs past the last interface %d", a.InterfaceCount, a.FirstInterface, n-1)
		}
		for i := int(a.FirstInterface); i < int(a.FirstInterface)+int(a.InterfaceCount); i++ {
			if covered[i] != 0 {
				return at.invalid("FirstInterface", "interface %d is already in association %d", i, covered[i]-1)
			}
			covered[i] = k + 1
		}
	}
	return nil
}

// checkClassDescriptor applies f_fs's rules (ffs_do_single_desc): besides
// the standard descriptors it knows only the 0x21 descriptors of HID and
// CCID interfaces, each with a fixed size.
func checkClassDescriptor(class usb.Class, c []byte) error {
	if len(c) < 2 {
		return fmt.Errorf("%d bytes, a descriptor has at least 2", len(c))
	}
	if int(c[0]) != len(c) {
		return fmt.Errorf("bLength %d but %d bytes", c[0], len(c))
	}
	t := usb.DescriptorType(c[1])
	want := 0
	if t == usb.TypeHID {
		switch {
		case class == usb.ClassHID:
			want = 9
		case class == usb.ClassSmartCard:
			want = 54
		}
	}
	if want == 0 {
		return fmt.Errorf("type %#02x is rejected by f_fs, which accepts only 0x21 for HID and CCID interfaces", c[1])
	}
	if len(c) != want {
		return fmt.Errorf("%d bytes, f_fs requires %d for this class", len(c), want)
	}
	return nil
}

func (d *Descriptors) validateEndpoint(p place, e *Endpoint) error {
	if e.Address&0x70 != 0 {
		return p.invalid("Address", "%#02x sets reserved bits 4..6", uint8(e.Address))
	}
	if e.Address.Number() == 0 {
		return p.invalid("Address", "endpoint 0 is the control endpoint; data endpoints are 1..15")
	}
	periodic := e.Type == usb.Interrupt || e.Type == usb.Isochronous
	switch e.Type {
	case usb.Bulk:
		if e.MaxPacketSize != 0 && d.has(usb.SpeedFull) && !slices.Contains([]uint16{8, 16, 32, 64}, e.MaxPacketSize) {
			return p.invalid("MaxPacketSize", "%d: full-speed bulk allows 8, 16, 32 or 64 (high speed and SuperSpeed use 512 and 1024)", e.MaxPacketSize)
		}
		if e.Interval != 0 {
			return p.invalid("Interval", "not for bulk endpoints (periodic only)")
		}
	case usb.Interrupt, usb.Isochronous:
		if e.MaxPacketSize == 0 {
			return p.invalid("MaxPacketSize", "0: %s endpoints need a packet size", e.Type)
		}
		if d.has(usb.SpeedFull) {
			limit := uint16(64)
			if e.Type == usb.Isochronous {
				limit = 1023
			}
			if e.MaxPacketSize > limit {
				return p.invalid("MaxPacketSize", "%d: full-speed %s allows at most %d", e.MaxPacketSize, e.Type, limit)
			}
		}
		if e.MaxPacketSize > 1024 {
			return p.invalid("MaxPacketSize", "%d: %s allows at most 1024", e.MaxPacketSize, e.Type)
		}
		if _, err := intervalExponent(e.Interval); err != nil {
			return p.invalid("Interval", "%s", err)
		}
		if e.Type == usb.Interrupt && d.has(usb.SpeedFull) && e.Interval > 255*time.Millisecond {
			return p.invalid("Interval", "%s: full-speed interrupt allows at most 255ms", e.Interval)
		}
		if e.Transactions > 3 {
			return p.invalid("Transactions", "%d: high speed allows 1..3 per microframe", e.Transactions)
		}
		if e.MaxBurst > 0 && e.MaxPacketSize != 1024 && d.has(usb.SpeedSuper) {
			return p.invalid("MaxBurst", "%d needs MaxPacketSize 1024 at SuperSpeed, not %d", e.MaxBurst, e.MaxPacketSize)
		}
	default:
		return p.invalid("Type", "%s: data endpoints are bulk, interrupt or isochronous", e.Type)
	}
	if !periodic && e.Transactions != 0 {
		return p.invalid("Transactions", "not for %s endpoints (periodic only)", e.Type)
	}
	if e.Type != usb.Isochronous && e.IsoAttributes != 0 {
		return p.invalid("IsoAttributes", "not for %s endpoints (isochronous only)", e.Type)
	}
	if e.IsoAttributes&^0x3c != 0 {
		return p.invalid("IsoAttributes", "%#02x has bits outside 2..5", e.IsoAttributes)
	}
	if e.MaxBurst > 15 {
		return p.invalid("MaxBurst", "%d: at most 15", e.MaxBurst)
	}
	if e.MaxStreams != 0 && e.Type != usb.Bulk {
		return p.invalid("MaxStreams", "not for %s endpoints (bulk only)", e.Type)
	}
	if e.MaxStreams > 16 {
		return p.invalid("MaxStreams", "%d: at most 16 (2^16 streams)", e.MaxStreams)
	}
	if e.Mult != 0 && e.Type != usb.Isochronous {
		return p.invalid("Mult", "not for %s endpoints (isochronous only)", e.Type)
	}
	if e.Mult > 2 {
		return p.invalid("Mult", "%d: at most 2", e.Mult)
	}
	if e.BytesPerInterval != 0 {
		if !periodic {
			return p.invalid("BytesPerInterval", "not for bulk endpoints (periodic only)")
		}
		if most := e.maxBytesPerInterval(); int(e.BytesPerInterval) > most {
			return p.invalid("BytesPerInterval", "%d exceeds MaxPacketSize*(MaxBurst+1)*(Mult+1) = %d", e.BytesPerInterval, most)
		}
	}
	return nil
}

func (e *Endpoint) maxBytesPerInterval() int {
	return int(e.MaxPacketSize) * (int(e.MaxBurst) + 1) * (int(e.Mult) + 1)
}

// intervalExponent returns k for an interval of 125µs * 2^k.
func intervalExponent(iv time.Duration) (int, error) {
	const uframe = 125 * time.Microsecond
	if iv <= 0 {
		return 0, fmt.Errorf("%s: periodic endpoints need an interval of 125µs times a power of two", iv)
	}
	for k := range 16 {
		if iv == uframe<<k {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%s is not 125µs times a power of two up to 4.096s", iv)
}

// interval encodes bInterval for speed s (Validate has accepted e).
func (e *Endpoint) interval(s usb.Speed) uint8 {
	if e.Type == usb.Bulk {
		return 0
	}
	k, _ := intervalExponent(e.Interval)
	if s != usb.SpeedFull {
		return uint8(k + 1) // 2^(bInterval-1) microframes
	}
	frames := max(k-3, 0) // whole 1ms frames, rounded up to one
	if e.Type == usb.Interrupt {
		return uint8(1 << frames) // bInterval is the period in frames
	}
	return uint8(frames + 1) // isochronous: 2^(bInterval-1) frames
}

func (e *Endpoint) maxPacket(s usb.Speed) uint16 {
	if e.Type == usb.Bulk {
		switch s {
		case usb.SpeedHigh:
			return 512
		case usb.SpeedSuper:
			return 1024
		}
		if e.MaxPacketSize == 0 {
			return 64
		}
		return e.MaxPacketSize
	}
	if s == usb.SpeedHigh && e.Transactions > 1 {
		return e.MaxPacketSize | uint16(e.Transactions-1)<<11
	}
	return e.MaxPacketSize
}

func (e *Endpoint) companion() usb.SSEndpointCompanionDescriptor {
	c := usb.SSEndpointCompanionDescriptor{MaxBurst: e.MaxBurst}
	switch e.Type {
	case usb.Bulk:
		c.Attributes = e.MaxStreams
	case usb.Isochronous:
		c.Attributes = e.Mult
	}
	if e.Type != usb.Bulk {
		c.BytesPerInterval = e.BytesPerInterval
		if c.BytesPerInterval == 0 {
			c.BytesPerInterval = uint16(e.maxBytesPerInterval())
		}
	}
	return c
}

// speedDescriptors expands d for speed s.
func (d *Descriptors) speedDescriptors(s usb.Speed) []usb.Descriptor {
	var out []usb.Descriptor
	for i := range d.Interfaces {
		for _, a := range d.Associations {
			if int(a.FirstInterface) == i {
				out = append(out, usb.InterfaceAssociationDescriptor{
					FirstInterface: a.FirstInterface, InterfaceCount: a.InterfaceCount,
					FunctionClass: a.Class, FunctionSubClass: a.SubClass, FunctionProtocol: a.Protocol,
					FunctionIndex: a.Name,
				})
			}
		}
		// Each alternate setting follows the one before, with its own
		// endpoints (USB 2.0 9.6.5).
		for alt, st := range d.Interfaces[i].settings() {
			out = append(out, usb.InterfaceDescriptor{
				Number: uint8(i), AlternateSetting: uint8(alt), NumEndpoints: uint8(len(st.Endpoints)),
				Class: st.Class, SubClass: st.SubClass, Protocol: st.Protocol, InterfaceIndex: st.Name,
			})
			for _, c := range st.ClassDescriptors {
				out = append(out, usb.RawDescriptor{Type: usb.DescriptorType(c[1]), Data: slices.Clone(c[2:])})
			}
			for j := range st.Endpoints {
				e := &st.Endpoints[j]
				out = append(out, usb.EndpointDescriptor{
					Address:       e.Address,
					Attributes:    uint8(e.Type) | e.IsoAttributes,
					MaxPacketSize: e.maxPacket(s),
					Interval:      e.interval(s),
				})
				if s == usb.SpeedSuper {
					out = append(out, e.companion())
				}
			}
		}
	}
	return out
}

// Blob validates d and expands it into the descriptors blob that
// MarshalBinary encodes.
func (d *Descriptors) Blob() (*DescriptorBlob, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	b := &DescriptorBlob{Version: 2, Flags: d.Flags}
	if d.Flags&FlagEventFD != 0 {
		b.EventFD = int32(d.EventFD)
	}
	for _, s := range d.speeds() {
		ds := d.speedDescriptors(s)
		switch s {
		case usb.SpeedFull:
			b.Flags |= FlagHasFS
			b.FullSpeed = ds
		case usb.SpeedHigh:
			b.Flags |= FlagHasHS
			b.HighSpeed = ds
		case usb.SpeedSuper:
			b.Flags |= FlagHasSS
			b.SuperSpeed = ds
		}
	}
	b.OS = d.osDescriptors()
	if len(b.OS) > 0 {
		b.Flags |= FlagHasMSOSDesc
	}
	return b, nil
}

// MarshalBinary validates d and encodes the v2 descriptors blob (magic 3)
// to write to ep0.
func (d *Descriptors) MarshalBinary() ([]byte, error) {
	b, err := d.Blob()
	if err != nil {
		return nil, err
	}
	return b.MarshalBinary()
}

// EndpointFiles lists the data endpoints in the order f_fs names their
// files: ep1, ep2, ... in descriptor order (interface by interface, each
// alternate setting after the one before), or ep<address in hex> (e.g.
// "ep81") with FlagVirtualAddr.
func (d *Descriptors) EndpointFiles() []EndpointFile {
	var files []EndpointFile
	for i := range d.Interfaces {
		for alt, st := range d.Interfaces[i].settings() {
			for _, e := range st.Endpoints {
				name := fmt.Sprintf("ep%d", len(files)+1)
				if d.Flags&FlagVirtualAddr != 0 {
					name = fmt.Sprintf("ep%02x", uint8(e.Address))
				}
				files = append(files, EndpointFile{Name: name, Address: e.Address, Type: e.Type, Interface: uint8(i), Alt: uint8(alt)})
			}
		}
	}
	return files
}

// StringCount returns the highest string index the descriptors refer to:
// the number of strings every language of the strings blob must have.
func (d *Descriptors) StringCount() int {
	n := 0
	for _, a := range d.Associations {
		n = max(n, int(a.Name))
	}
	for i := range d.Interfaces {
		for _, st := range d.Interfaces[i].settings() {
			n = max(n, int(st.Name))
		}
	}
	return n
}

// CheckStrings reports whether s provides every string d refers to, the
// check f_fs makes when the strings blob is written.
func (d *Descriptors) CheckStrings(s *Strings) error {
	need := d.StringCount()
	if need == 0 {
		return nil
	}
	if len(s.Languages) == 0 {
		return invalid("Strings", "Languages", "none, but the descriptors refer to string %d", need)
	}
	if have := len(s.Languages[0].Strings); have < need {
		return invalid("Strings", "Languages", "%d strings per language, but the descriptors refer to string %d", have, need)
	}
	return nil
}

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

// Magic numbers of the FunctionFS blobs.
const (
	MagicDescriptorsV1 = 1
	MagicStrings       = 2
	MagicDescriptorsV2 = 3
)

// ErrBlob is wrapped by every error decoding or encoding a blob.
var ErrBlob = errors.New("ffs: malformed blob")

func blobErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBlob}, args...)...)
}

// reader walks a blob, every read checked against what is left.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = blobErr("%s at offset %d needs %d bytes, %d left", what, r.off, n, len(r.b)-r.off)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8(what string) uint8 {
	if p := r.take(1, what); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if p := r.take(2, what); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if p := r.take(4, what); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

// ParseDescriptorBlob decodes a v1 or v2 descriptors blob. It checks the
// format (magic, length, counts, every descriptor's bLength, trailing
// bytes) but not FunctionFS's rules on what the descriptors say.
func ParseDescriptorBlob(b []byte) (*DescriptorBlob, error) {
	r := &reader{b: b}
	magic := r.u32("magic")
	length := r.u32("length")
	if r.err != nil {
		return nil, r.err
	}
	if int64(length) != int64(len(b)) {
		return nil, blobErr("length field %d, blob has %d bytes", length, len(b))
	}
	blob := &DescriptorBlob{}
	switch magic {
	case MagicDescriptorsV1:
		blob.Version, blob.Flags = 1, FlagHasFS|FlagHasHS
	case MagicDescriptorsV2:
		blob.Version, blob.Flags = 2, Flags(r.u32("flags"))
	default:
		return nil, blobErr("magic %d, want %d (v1) or %d (v2)", magic, MagicDescriptorsV1, MagicDescriptorsV2)
	}
	if blob.Flags&FlagEventFD != 0 {
		blob.EventFD = int32(r.u32("eventfd"))
	}
	var counts [3]uint32
	for i, name := range []string{"fs_count", "hs_count", "ss_count"} {
		if blob.Flags&(1<<i) != 0 {
			counts[i] = r.u32(name)
		}
	}
	var osCount uint32
	if blob.Flags&FlagHasMSOSDesc != 0 {
		osCount = r.u32("os_count")
	}
	for i, dst := range []*[]usb.Descriptor{&blob.FullSpeed, &blob.HighSpeed, &blob.SuperSpeed} {
		for k := uint32(0); k < counts[i] && r.err == nil; k++ {
			if len(r.b)-r.off < 2 {
				r.take(2, fmt.Sprintf("%s descriptor %d", speedName[i], k))
				break
			}
			p := r.take(max(int(r.b[r.off]), 2), fmt.Sprintf("%s descriptor %d", speedName[i], k))
			if r.err != nil {
				break
			}
			d, _, err := usb.ParseDescriptor(p)
			if err != nil {
				return nil, blobErr("%s descriptor %d at offset %d: %v", speedName[i], k, r.off-len(p), err)
			}
			*dst = append(*dst, d)
		}
	}
	for k := uint32(0); k < osCount && r.err == nil; k++ {
		o, err := parseOSDescriptor(r)
		if err != nil {
			return nil, blobErr("OS descriptor %d: %v", k, err)
		}
		blob.OS = append(blob.OS, o)
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(b) {
		return nil, blobErr("%d bytes left over at offset %d", len(b)-r.off, r.off)
	}
	return blob, nil
}

var speedName = [3]string{"full-speed", "high-speed", "super-speed"}

// MarshalBinary encodes the blob as is, without FunctionFS rule checks:
// only what the format itself needs (a version, flags that match the
// descriptor sets present, a v1 blob with only full and high speed).
func (b *DescriptorBlob) MarshalBinary() ([]byte, error) {
	sets := [3][]usb.Descriptor{b.FullSpeed, b.HighSpeed, b.SuperSpeed}
	for i, s := range sets {
		if len(s) > 0 && b.Flags&(1<<i) == 0 {
			return nil, blobErr("%s descriptors present but flags %s lack %s", speedName[i], b.Flags, flagNames[i])
		}
	}
	if len(b.OS) > 0 && b.Flags&FlagHasMSOSDesc == 0 {
		return nil, blobErr("OS descriptors present but flags %s lack HAS_MS_OS_DESC", b.Flags)
	}
	var out []byte
	switch b.Version {
	case 1:
		if b.Flags != FlagHasFS|FlagHasHS {
			return nil, blobErr("a v1 blob has flags HAS_FS_DESC|HAS_HS_DESC, not %s", b.Flags)
		}
		out = binary.LittleEndian.AppendUint32(out, MagicDescriptorsV1)
		out = binary.LittleEndian.AppendUint32(out, 0) // length, filled in below
	case 2:
		out = binary.LittleEndian.AppendUint32(out, MagicDescriptorsV2)
		out = binary.LittleEndian.AppendUint32(out, 0)
		out = binary.LittleEndian.AppendUint32(out, uint32(b.Flags))
		if b.Flags&FlagEventFD != 0 {
			out = binary.LittleEndian.AppendUint32(out, uint32(b.EventFD))
		}
	default:
		return nil, blobErr("version %d, want 1 or 2", b.Version)
	}
	for i, s := range sets {
		if b.Flags&(1<<i) != 0 {
			out = binary.LittleEndian.AppendUint32(out, uint32(len(s)))
		}
	}
	if b.Flags&FlagHasMSOSDesc != 0 {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(b.OS)))
	}
	for i, s := range sets {
		for k, d := range s {
			p, err := d.MarshalBinary()
			if err != nil {
				return nil, blobErr("%s descriptor %d: %v", speedName[i], k, err)
			}
			out = append(out, p...)
		}
	}
	for k := range b.OS {
		p, err := b.OS[k].marshal()
		if err != nil {
			return nil, blobErr("OS descriptor %d: %v", k, err)
		}
		out = append(out, p...)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)))
	return out, nil
}

// String prints the blob field by field, one descriptor per line.
func (b *DescriptorBlob) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "descriptors v%d flags %s", b.Version, b.Flags)
	if b.Flags&FlagEventFD != 0 {
		fmt.Fprintf(&sb, " eventfd %d", b.EventFD)
	}
	sb.WriteByte('\n')
	for i, s := range [3][]usb.Descriptor{b.FullSpeed, b.HighSpeed, b.SuperSpeed} {
		if b.Flags&(1<<i) == 0 {
			continue
		}
		fmt.Fprintf(&sb, "%s: %d descriptors\n", speedName[i], len(s))
		for _, d := range s {
			fmt.Fprintf(&sb, "  %s %+v\n", d.DescriptorType(), d)
		}
	}
	for k := range b.OS {
		b.OS[k].describe(&sb, k)
	}
	return sb.String()
}

// BlobError is the error of a blob write that the kernel rejected: which
// blob, the errno, and what was sent.
type BlobError struct {
	Blob string // "descriptors" or "strings"
	Data []byte // the bytes written to ep0
	Err  error  // the write error, usually a syscall.Errno
}

// WriteError wraps err, the failure of writing data (the named blob,
// "descriptors" or "strings") to ep0, into a *BlobError that keeps a copy
// of data.
func WriteError(blob string, data []byte, err error) error {
	return &BlobError{Blob: blob, Data: slices.Clone(data), Err: err}
}

// Error says which blob failed and why, then dumps what was sent: decoded
// field by field when it decodes, and in hex.
func (e *BlobError) Error() string {
	return fmt.Sprintf("ffs: ep0 rejected the %s blob (%d bytes): %v\n%s", e.Blob, len(e.Data), e.Err, e.Dump())
}

// Unwrap returns the write error, so errors.Is(err, syscall.EINVAL) works.
func (e *BlobError) Unwrap() error { return e.Err }

// Dump decodes the blob that was sent (or says why it does not decode),
// names the first f_fs rule a descriptors blob breaks, and appends a hex
// dump.
func (e *BlobError) Dump() string {
	var sb strings.Builder
	if e.Blob == "strings" {
		if s, err := ParseStrings(e.Data); err != nil {
			fmt.Fprintf(&sb, "does not decode: %v\n", err)
		} else {
			sb.WriteString(s.String())
		}
	} else {
		if b, err := ParseDescriptorBlob(e.Data); err != nil {
			fmt.Fprintf(&sb, "does not decode: %v\n", err)
		} else {
			sb.WriteString(b.String())
			if err := b.Check(); err != nil {
				fmt.Fprintf(&sb, "breaks an f_fs rule: %v\n", err)
			}
		}
	}
	sb.WriteString(hex.Dump(e.Data))
	return sb.String()
}

// Check applies to a decoded blob the rules f_fs (as of Linux 6.1) applies
// when the blob is written to ep0 and when the function binds, and returns
// the first one it breaks: a diagnosis for blobs written by other tools.
// Descriptors.Blob output always passes.
func (b *DescriptorBlob) Check() error {
	if b.Version == 2 && b.Flags&^(1<<len(flagNames)-1) != 0 {
		return invalid("", "Flags", "%s has bits f_fs does not know (it answers ENOSYS)", b.Flags)
	}
	var first []usb.EndpointAddress
	firstIfs, firstSpeed := -1, ""
	for i, set := range [3][]usb.Descriptor{b.FullSpeed, b.HighSpeed, b.SuperSpeed} {
		if len(set) == 0 {
			continue
		}
		eps, ifs, err := checkSpeed(speedName[i], set)
		if err != nil {
			return err
		}
		if firstIfs < 0 {
			first, firstIfs, firstSpeed = eps, ifs, speedName[i]
			continue
		}
		if ifs != firstIfs {
			return invalid(speedName[i], "interfaces", "%d, but %d at %s: every speed describes the same interfaces", ifs, firstIfs, firstSpeed)
		}
		if len(eps) != len(first) {
			return invalid(speedName[i], "endpoints", "%d, but %d at %s: every speed describes the same endpoints", len(eps), len(first), firstSpeed)
		}
		for k := range eps {
			if eps[k] != first[k] {
				return invalid(speedName[i], "endpoints", "endpoint %d is %s, but %s at %s: same addresses in the same order at every speed", k, eps[k], first[k], firstSpeed)
			}
		}
	}
	if firstIfs < 0 {
		return invalid("", "descriptors", "none at any speed")
	}
	for k := range b.OS {
		if err := b.OS[k].check(fmt.Sprintf("os descriptor %d", k), firstIfs); err != nil {
			return err
		}
	}
	return nil
}

// checkSpeed checks one speed's descriptors the way ffs_do_single_desc and
// __ffs_func_bind_do_descs do, and returns its endpoint addresses in order
// and its interface count (highest bInterfaceNumber + 1).
func checkSpeed(speed string, set []usb.Descriptor) ([]usb.EndpointAddress, int, error) {
	var eps []usb.EndpointAddress
	ifs, class := 0, -1
	for k, x := range set {
		where := fmt.Sprintf("%s descriptor %d", speed, k)
		switch v := x.(type) {
		case usb.InterfaceDescriptor:
			ifs = max(ifs, int(v.Number)+1)
			class = int(v.Class)
		case usb.EndpointDescriptor:
			if v.Address.Number() == 0 {
				return nil, 0, invalid(where, "bEndpointAddress", "%s: endpoint 0 is not a data endpoint", v.Address)
			}
			if slices.Contains(eps, v.Address) {
				return nil, 0, invalid(where, "bEndpointAddress", "%s described twice (f_fs fails the bind)", v.Address)
			}
			eps = append(eps, v.Address) // distinct, so at most 30: f_fs's limit
		case usb.InterfaceAssociationDescriptor, usb.SSEndpointCompanionDescriptor:
		case usb.RawDescriptor:
			want := 0
			switch {
			case v.Type == usb.TypeHID && class == int(usb.ClassHID):
				want = 9
			case v.Type == usb.TypeHID && class == int(usb.ClassSmartCard):
				want = 54
			case v.Type == usb.TypeOTG:
				want = 3
			}
			if want == 0 {
				return nil, 0, invalid(where, "bDescriptorType", "%s (%#02x) is not accepted by f_fs here", v.Type, uint8(v.Type))
			}
			if len(v.Data)+2 != want {
				return nil, 0, invalid(where, "bLength", "%d, f_fs requires %d for %s", len(v.Data)+2, want, v.Type)
			}
		default:
			return nil, 0, invalid(where, "bDescriptorType", "%s belongs to the gadget, not to a function", x.DescriptorType())
		}
	}
	return eps, ifs, nil
}
