package ffs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/usb"
)

// TestValidateRules breaks one rule per case, starting from a valid
// function, and checks the exact error text.
func TestValidateRules(t *testing.T) {
	ep := func(d *Descriptors) *Endpoint { return &d.Interfaces[0].Endpoints[0] }
	intr := func(d *Descriptors) *Endpoint {
		e := ep(d)
		*e = Endpoint{Address: 0x81, Type: usb.Interrupt, MaxPacketSize: 64, Interval: time.Millisecond}
		return e
	}
	iso := func(d *Descriptors) *Endpoint {
		e := ep(d)
		*e = Endpoint{Address: 0x81, Type: usb.Isochronous, MaxPacketSize: 512, Interval: time.Millisecond}
		return e
	}
	many := func(n int) []Interface { return make([]Interface, n) }
	tests := []struct {
		name   string
		break_ func(d *Descriptors)
		msg    string
	}{
		{"empty speeds", func(d *Descriptors) { d.Speeds = []usb.Speed{} },
			"ffs: Speeds: empty: describe at least one speed (nil means all)"},
		{"low speed", func(d *Descriptors) { d.Speeds = []usb.Speed{usb.SpeedLow} },
			"ffs: Speeds: low-speed has no FunctionFS descriptor set (full-speed, high-speed or super-speed)"},
		{"speed twice", func(d *Descriptors) { d.Speeds = []usb.Speed{usb.SpeedHigh, usb.SpeedHigh} },
			"ffs: Speeds: high-speed listed twice"},
		{"derived flags", func(d *Descriptors) { d.Flags = FlagHasFS | FlagHasMSOSDesc | FlagEventFD },
			"ffs: Flags: HAS_FS_DESC|HAS_MS_OS_DESC are derived from the description; set only VIRTUAL_ADDR, EVENTFD, ALL_CTRL_RECIP or CONFIG0_SETUP"},
		{"unknown flag", func(d *Descriptors) { d.Flags = 0x100 },
			"ffs: Flags: 0x100 are derived from the description; set only VIRTUAL_ADDR, EVENTFD, ALL_CTRL_RECIP or CONFIG0_SETUP"},
		{"negative eventfd", func(d *Descriptors) { d.Flags, d.EventFD = FlagEventFD, -1 },
			"ffs: EventFD: -1 is not a file descriptor"},
		{"eventfd without flag", func(d *Descriptors) { d.EventFD = 5 },
			"ffs: EventFD: set to 5 but Flags lacks EVENTFD"},
		{"no interfaces", func(d *Descriptors) { d.Interfaces = nil },
			"ffs: Interfaces: none: a function needs at least one interface"},
		{"17 interfaces", func(d *Descriptors) { d.Interfaces = many(17) },
			"ffs: Interfaces: 17, a configuration holds at most 16"},
		{"association first", func(d *Descriptors) { d.Associations = []Association{{FirstInterface: 1, InterfaceCount: 1}} },
			"ffs: association 0: FirstInterface: 1, but there are 1 interfaces"},
		{"association empty", func(d *Descriptors) { d.Associations = []Association{{}} },
			"ffs: association 0: InterfaceCount: 0: an association groups at least one interface"},
		{"association past end", func(d *Descriptors) {
			d.Interfaces = many(3)
			d.Associations = []Association{{FirstInterface: 1, InterfaceCount: 3}}
		}, "ffs: association 0: InterfaceCount: 3 from interface 1 runs past the last interface 2"},
		{"association overlap", func(d *Descriptors) {
			d.Interfaces = many(3)
			d.Associations = []Association{{FirstInterface: 0, InterfaceCount: 2}, {FirstInterface: 1, InterfaceCount: 2}}
		}, "ffs: association 1: FirstInterface: interface 1 is already in association 0"},
		{"class descriptor short", func(d *Descriptors) { d.Interfaces[0].ClassDescriptors = [][]byte{{1}} },
			"ffs: interface 0: ClassDescriptors[0]: 1 bytes, a descriptor has at least 2"},
		{"class descriptor bLength", func(d *Descriptors) { d.Interfaces[0].ClassDescriptors = [][]byte{{5, 0x24, 0}} },
			"ffs: interface 0: ClassDescriptors[0]: bLength 5 but 3 bytes"},
		{"class descriptor type", func(d *Descriptors) { d.Interfaces[0].ClassDescriptors = [][]byte{{3, 0x24, 0}} },
			"ffs: interface 0: ClassDescriptors[0]: type 0x24 is rejected by f_fs, which accepts only 0x21 for HID and CCID interfaces"},
		{"hid descriptor outside hid", func(d *Descriptors) { d.Interfaces[0].ClassDescriptors = [][]byte{{9, 0x21, 0, 0, 0, 0, 0, 0, 0}} },
			"ffs: interface 0: ClassDescriptors[0]: type 0x21 is rejected by f_fs, which accepts only 0x21 for HID and CCID interfaces"},
		{"hid descriptor size", func(d *Descriptors) {
			d.Interfaces[0].Class = usb.ClassHID
			d.Interfaces[0].ClassDescriptors = [][]byte{{6, 0x21, 0, 0, 0, 0}}
		}, "ffs: interface 0: ClassDescriptors[0]: 6 bytes, f_fs requires 9 for this class"},
		{"compat id long", func(d *Descriptors) { d.Interfaces[0].CompatibleID = "WINUSB123" },
			`ffs: interface 0: CompatibleID: "WINUSB123" is 9 bytes, at most 8`},
		{"compat id chars", func(d *Descriptors) { d.Interfaces[0].CompatibleID = "winusb" },
			`ffs: interface 0: CompatibleID: "winusb": only A-Z, 0-9 and _`},
		{"sub compat id chars", func(d *Descriptors) { d.Interfaces[0].CompatibleID, d.Interfaces[0].SubCompatibleID = "WINUSB", "a b" },
			`ffs: interface 0: SubCompatibleID: "a b": only A-Z, 0-9 and _`},
		{"sub compat id alone", func(d *Descriptors) { d.Interfaces[0].SubCompatibleID = "X" },
			"ffs: interface 0: SubCompatibleID: set without CompatibleID"},
		{"property name empty", func(d *Descriptors) { d.Interfaces[0].Properties = []Property{StringProperty("", "x")} },
			"ffs: interface 0: Properties[0]: empty Name"},
		{"property name NUL", func(d *Descriptors) { d.Interfaces[0].Properties = []Property{StringProperty("a\x00b", "x")} },
			`ffs: interface 0: Properties[0]: Name "a\x00b" is not UTF-8 text without NULs`},
		{"property type", func(d *Descriptors) { d.Interfaces[0].Properties = []Property{{Name: "x", Type: 8}} },
			"ffs: interface 0: Properties[0]: Type 8, want 1 (REG_SZ), 2 (REG_EXPAND_SZ), 3 (REG_BINARY) or 6 (REG_LINK)"},
		{"property type multi", func(d *Descriptors) {
			d.Interfaces[0].Properties = []Property{{Name: "DeviceInterfaceGUIDs", Type: PropMultiString, Data: []byte("{a}\x00\x00")}}
		}, "ffs: interface 0: Properties[0]: Type REG_MULTI_SZ: f_fs takes it but Linux stalls the host's request for it; use REG_SZ or REG_BINARY"},
		{"property type dword", func(d *Descriptors) {
			d.Interfaces[0].Properties = []Property{{Name: "x", Type: PropDWordLittleEndian, Data: []byte{1, 0, 0, 0}}}
		}, "ffs: interface 0: Properties[0]: Type REG_DWORD_LITTLE_ENDIAN: f_fs takes it but Linux stalls the host's request for it; use REG_SZ or REG_BINARY"},
		{"property string UTF-8", func(d *Descriptors) {
			d.Interfaces[0].Properties = []Property{{Name: "x", Type: PropLink, Data: []byte("\xff\x00")}}
		},
			"ffs: interface 0: Properties[0]: REG_LINK data is not UTF-8"},
		{"property string NUL", func(d *Descriptors) {
			d.Interfaces[0].Properties = []Property{{Name: "x", Type: PropExpandString, Data: []byte("a")}}
		},
			"ffs: interface 0: Properties[0]: REG_EXPAND_SZ data must end with a NUL"},
		{"property size", func(d *Descriptors) {
			d.Interfaces[0].Properties = []Property{StringProperty("DeviceInterfaceGUIDs", strings.Repeat("x", 220))}
		}, "ffs: interface 0: Properties[0]: 256 bytes encoded; f_fs handles at most 255 per property"},
		{"duplicate address", func(d *Descriptors) { d.Interfaces[0].Endpoints[1].Address = 0x81 },
			"ffs: interface 0 endpoint 1 (ep1in): Address: ep1in is already used by interface 0 endpoint 0 (ep1in)"},
		{"reserved address bits", func(d *Descriptors) { ep(d).Address = 0x91 },
			"ffs: interface 0 endpoint 0 (ep1in(0x91)): Address: 0x91 sets reserved bits 4..6"},
		{"endpoint 0", func(d *Descriptors) { ep(d).Address = 0x80 },
			"ffs: interface 0 endpoint 0 (ep0in): Address: endpoint 0 is the control endpoint; data endpoints are 1..15"},
		{"control type", func(d *Descriptors) { ep(d).Type = usb.Control },
			"ffs: interface 0 endpoint 0 (ep1in): Type: control: data endpoints are bulk, interrupt or isochronous"},
		{"bulk full-speed size", func(d *Descriptors) { ep(d).MaxPacketSize = 512 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxPacketSize: 512: full-speed bulk allows 8, 16, 32 or 64 (high speed and SuperSpeed use 512 and 1024)"},
		{"bulk interval", func(d *Descriptors) { ep(d).Interval = time.Millisecond },
			"ffs: interface 0 endpoint 0 (ep1in): Interval: not for bulk endpoints (periodic only)"},
		{"bulk transactions", func(d *Descriptors) { ep(d).Transactions = 2 },
			"ffs: interface 0 endpoint 0 (ep1in): Transactions: not for bulk endpoints (periodic only)"},
		{"bulk iso attributes", func(d *Descriptors) { ep(d).IsoAttributes = 4 },
			"ffs: interface 0 endpoint 0 (ep1in): IsoAttributes: not for bulk endpoints (isochronous only)"},
		{"bulk burst", func(d *Descriptors) { ep(d).MaxBurst = 16 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxBurst: 16: at most 15"},
		{"bulk streams", func(d *Descriptors) { ep(d).MaxStreams = 17 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxStreams: 17: at most 16 (2^16 streams)"},
		{"bulk mult", func(d *Descriptors) { ep(d).Mult = 1 },
			"ffs: interface 0 endpoint 0 (ep1in): Mult: not for bulk endpoints (isochronous only)"},
		{"bulk bytes per interval", func(d *Descriptors) { ep(d).BytesPerInterval = 1 },
			"ffs: interface 0 endpoint 0 (ep1in): BytesPerInterval: not for bulk endpoints (periodic only)"},
		{"interrupt size 0", func(d *Descriptors) { intr(d).MaxPacketSize = 0 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxPacketSize: 0: interrupt endpoints need a packet size"},
		{"interrupt full-speed size", func(d *Descriptors) { intr(d).MaxPacketSize = 65 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxPacketSize: 65: full-speed interrupt allows at most 64"},
		{"interrupt size", func(d *Descriptors) { d.Speeds = []usb.Speed{usb.SpeedHigh}; intr(d).MaxPacketSize = 1025 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxPacketSize: 1025: interrupt allows at most 1024"},
		{"interrupt no interval", func(d *Descriptors) { intr(d).Interval = 0 },
			"ffs: interface 0 endpoint 0 (ep1in): Interval: 0s: periodic endpoints need an interval of 125µs times a power of two"},
		{"interrupt odd interval", func(d *Descriptors) { intr(d).Interval = 3 * time.Millisecond },
			"ffs: interface 0 endpoint 0 (ep1in): Interval: 3ms is not 125µs times a power of two up to 4.096s"},
		{"interrupt long interval", func(d *Descriptors) { intr(d).Interval = 8192 * time.Millisecond },
			"ffs: interface 0 endpoint 0 (ep1in): Interval: 8.192s is not 125µs times a power of two up to 4.096s"},
		{"interrupt full-speed interval", func(d *Descriptors) { intr(d).Interval = 256 * time.Millisecond },
			"ffs: interface 0 endpoint 0 (ep1in): Interval: 256ms: full-speed interrupt allows at most 255ms"},
		{"interrupt transactions", func(d *Descriptors) { intr(d).Transactions = 4 },
			"ffs: interface 0 endpoint 0 (ep1in): Transactions: 4: high speed allows 1..3 per microframe"},
		{"interrupt burst", func(d *Descriptors) { intr(d).MaxBurst = 1 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxBurst: 1 needs MaxPacketSize 1024 at SuperSpeed, not 64"},
		{"interrupt streams", func(d *Descriptors) { intr(d).MaxStreams = 1 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxStreams: not for interrupt endpoints (bulk only)"},
		{"interrupt bytes per interval", func(d *Descriptors) { intr(d).BytesPerInterval = 65 },
			"ffs: interface 0 endpoint 0 (ep1in): BytesPerInterval: 65 exceeds MaxPacketSize*(MaxBurst+1)*(Mult+1) = 64"},
		{"iso full-speed size", func(d *Descriptors) { iso(d).MaxPacketSize = 1024 },
			"ffs: interface 0 endpoint 0 (ep1in): MaxPacketSize: 1024: full-speed isochronous allows at most 1023"},
		{"iso attributes bits", func(d *Descriptors) { iso(d).IsoAttributes = 0x41 },
			"ffs: interface 0 endpoint 0 (ep1in): IsoAttributes: 0x41 has bits outside 2..5"},
		{"iso mult", func(d *Descriptors) { iso(d).Mult = 3 },
			"ffs: interface 0 endpoint 0 (ep1in): Mult: 3: at most 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := bulkLoopback()
			if err := d.Validate(); err != nil {
				t.Fatalf("base description invalid: %v", err)
			}
			tt.break_(d)
			err := d.Validate()
			var de *DescriptorError
			if !errors.As(err, &de) {
				t.Fatalf("Validate() = %v, want a *DescriptorError", err)
			}
			if err.Error() != tt.msg {
				t.Fatalf("Validate() =\n%q\nwant\n%q", err, tt.msg)
			}
			if _, err := d.MarshalBinary(); err == nil || err.Error() != tt.msg {
				t.Fatalf("MarshalBinary() error = %v, want the Validate error", err)
			}
		})
	}
}
