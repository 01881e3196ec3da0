package configfs

import (
	"strconv"
)

// FunctionFS returns an "ffs" function: its descriptors and endpoints come
// from user space through the functionfs instance named instance (see
// MountFunctionFS).
func FunctionFS(instance string) Function {
	return Function{Type: "ffs", Instance: instance}
}

// ACM returns a CDC ACM serial function (/dev/ttyGS*); it has no writable
// attributes.
func ACM(instance string) Function {
	return Function{Type: "acm", Instance: instance}
}

// NetOptions are the attributes shared by the ecm and ncm functions; zero
// values keep the kernel's defaults (random MAC addresses, qmult 5).
type NetOptions struct {
	DevAddr  string // dev_addr, the gadget's MAC address
	HostAddr string // host_addr, the host's MAC address
	QMult    int    // qmult, request queue length multiplier at high speed
}

// ECM returns a CDC ECM Ethernet function.
func ECM(instance string, o NetOptions) Function {
	return Function{Type: "ecm", Instance: instance, Attrs: o.attrs()}
}

// NCM returns a CDC NCM Ethernet function. Its OS descriptor interface is
// named "ncm".
func NCM(instance string, o NetOptions) Function {
	return Function{Type: "ncm", Instance: instance, Attrs: o.attrs()}
}

func (o NetOptions) attrs() []Attr {
	var a []Attr
	if o.DevAddr != "" {
		a = append(a, Attr{"dev_addr", o.DevAddr})
	}
	if o.HostAddr != "" {
		a = append(a, Attr{"host_addr", o.HostAddr})
	}
	if o.QMult != 0 {
		a = append(a, Attr{"qmult", strconv.Itoa(o.QMult)})
	}
	return a
}

// MassStorage returns a mass_storage function with the given LUNs (at
// least lun.0 exists, even when luns is empty). stall is the function's
// "stall" attribute: whether bulk endpoints may be halted.
func MassStorage(instance string, stall bool, luns ...LUN) Function {
	return Function{
		Type:     "mass_storage",
		Instance: instance,
		Attrs:    []Attr{{"stall", boolAttr(stall)}},
		LUNs:     luns,
	}
}

// attrs returns a LUN's attributes in an order the kernel accepts: ro and
// cdrom cannot change while a file is open, so file comes last.
func (l LUN) attrs() []Attr {
	a := []Attr{
		{"ro", boolAttr(l.ReadOnly)},
		{"removable", boolAttr(l.Removable)},
		{"cdrom", boolAttr(l.CDROM)},
		{"nofua", boolAttr(l.NoFUA)},
	}
	if l.InquiryString != "" {
		a = append(a, Attr{"inquiry_string", l.InquiryString})
	}
	if l.File != "" {
		a = append(a, Attr{"file", l.File})
	}
	return a
}

// HIDOptions are the attributes of a hid function.
type HIDOptions struct {
	Protocol     uint8  // bInterfaceProtocol: 1 keyboard, 2 mouse
	SubClass     uint8  // bInterfaceSubClass: 1 boot interface
	ReportLength uint16 // report_length in bytes
	ReportDesc   []byte // the HID report descriptor, written raw
}

// HID returns a hid function (/dev/hidg*).
func HID(instance string, o HIDOptions) Function {
	return Function{Type: "hid", Instance: instance, Attrs: []Attr{
		{"protocol", strconv.Itoa(int(o.Protocol))},
		{"subclass", strconv.Itoa(int(o.SubClass))},
		{"report_length", strconv.Itoa(int(o.ReportLength))},
		{"report_desc", string(o.ReportDesc)},
	}}
}

// SourceSinkOptions are the attributes of the kernel's SourceSink function
// (usb_f_ss_lb); zero values keep the kernel's defaults, which are zero for
// Pattern, ISOCMult and ISOCMaxBurst.
type SourceSinkOptions struct {
	Pattern       int // 0 all zeros, 1 mod63 ((i % wMaxPacketSize) % 63, internal/pattern.GadgetZero), 2 none
	BulkBufLen    int // bulk_buflen
	BulkQLen      int // bulk_qlen
	ISOQLen       int // iso_qlen
	ISOCInterval  int // isoc_interval, 1..16
	ISOCMaxPacket int // isoc_maxpacket, 0..1024
	ISOCMult      int // isoc_mult, 0..2
	ISOCMaxBurst  int // isoc_maxburst, 0..15
}

// SourceSink returns the kernel's SourceSink function, the "source/sink"
// half of gadget zero.
func SourceSink(instance string, o SourceSinkOptions) Function {
	return Function{Type: "SourceSink", Instance: instance, Attrs: nonZero([]intAttr{
		{"pattern", o.Pattern},
		{"bulk_buflen", o.BulkBufLen},
		{"bulk_qlen", o.BulkQLen},
		{"iso_qlen", o.ISOQLen},
		{"isoc_interval", o.ISOCInterval},
		{"isoc_maxpacket", o.ISOCMaxPacket},
		{"isoc_mult", o.ISOCMult},
		{"isoc_maxburst", o.ISOCMaxBurst},
	})}
}

// LoopbackOptions are the attributes of the kernel's Loopback function;
// zero values keep the kernel's defaults.
type LoopbackOptions struct {
	QLen       int // qlen, requests queued per endpoint
	BulkBufLen int // bulk_buflen
}

// Loopback returns the kernel's Loopback function, the "loopback" half of
// gadget zero.
func Loopback(instance string, o LoopbackOptions) Function {
	return Function{Type: "Loopback", Instance: instance, Attrs: nonZero([]intAttr{
		{"qlen", o.QLen},
		{"bulk_buflen", o.BulkBufLen},
	})}
}

type intAttr struct {
	name  string
	value int
}

// nonZero turns integer attributes into Attrs, skipping zero values.
func nonZero(in []intAttr) []Attr {
	var a []Attr
	for _, v := range in {
		if v.value != 0 {
			a = append(a, Attr{v.name, strconv.Itoa(v.value)})
		}
	}
	return a
}

func boolAttr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
