package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gadgetkit/gadgetkit/usb"
)

// TestFunctionFSEveryField decodes a function that uses every FunctionFS
// field of the schema.
func TestFunctionFSEveryField(t *testing.T) {
	const in = `gadget: {name: g, vid: 0x1d6b, pid: 0x0104, os_desc: {vendor_code: 0x01}}
udc: auto
configurations: [{functions: [f]}]
functions:
  - name: f
    type: ffs
    speeds: [super, high]
    flags: [virtual_addr, all_ctrl_recip, config0_setup]
    mount: {dir: /run/ffs/f, uid: 7, gid: 8, mode: 0o600, rmode: 0o750, no_disconnect: true}
    associations:
      - {first_interface: 0, interface_count: 2, class: 0xff, subclass: 1, protocol: 2, name: {0x409: pair, 0x407: Paar}}
    interfaces:
      - class: hid
        subclass: 1
        protocol: 1
        name: {0x407: Tastatur, 0x409: keyboard}
        class_descriptors: ["09 21 11 01 00 01 22 3f 00"]
        endpoints:
          - {direction: in, type: interrupt, max_packet: 8, interval: 125us, transactions: 1, burst: 0, bytes_per_interval: 8}
      - endpoints:
          - {number: 3, direction: in, type: isochronous, max_packet: 1024, interval: 1ms, transactions: 3, mult: 2, burst: 15, iso_attributes: 0x04}
          - {direction: out, type: bulk, max_packet: {high: 512, super: 1024}, burst: 4, max_streams: 16}
          - {direction: in, type: bulk}
        os_desc:
          compatible_id: WINUSB
          sub_compatible_id: SUB_1
          properties:
            - {name: Label, type: sz, value: gadgetkit}
            - {name: Path, type: expand_sz, value: "%SystemRoot%"}
            - {name: Blob, type: binary, value: "de:ad:be:ef"}
            - {name: Link, type: link, value: "\\??\\x"}
            - {name: DeviceInterfaceGUID, type: sz, value: "{6e45736a-2b1b-4078-b772-b3af2b6fde1c}"}
    personality: {kind: abort, queue_depth: 1, request_size: 4194304, abort: {action: halt}}
`
	c, err := Parse("every.yaml", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &FunctionFS{
		Mount:  Mount{Dir: "/run/ffs/f", UID: 7, GID: 8, RMode: 0o750, FMode: 0o600, NoDisconnect: true},
		Speeds: []usb.Speed{usb.SpeedHigh, usb.SpeedSuper},
		Associations: []Association{{FirstInterface: 0, InterfaceCount: 2, Class: 0xff, SubClass: 1, Protocol: 2,
			Name: []LangString{{0x409, "pair"}, {0x407, "Paar"}}}},
		Flags: Flags{VirtualAddr: true, AllCtrlRecip: true, Config0Setup: true},
		Interfaces: []Interface{
			{
				Class: usb.ClassHID, SubClass: 1, Protocol: 1,
				Name:             []LangString{{0x407, "Tastatur"}, {0x409, "keyboard"}},
				ClassDescriptors: [][]byte{{0x09, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x3f, 0x00}},
				Endpoints: []Endpoint{{Address: 0x81, Type: usb.Interrupt, MaxPacket: MaxPacket{8, 8, 8},
					Interval: 125 * time.Microsecond, Transactions: 1, BytesPerInterval: 8}},
			},
			{
				Class: usb.ClassVendorSpecific,
				Endpoints: []Endpoint{
					{Address: 0x83, Type: usb.Isochronous, MaxPacket: MaxPacket{1024, 1024, 1024}, Interval: time.Millisecond,
						Transactions: 3, Mult: 2, MaxBurst: 15, IsoAttributes: 0x04},
					{Address: 0x01, Type: usb.Bulk, MaxPacket: MaxPacket{64, 512, 1024}, MaxBurst: 4, MaxStreams: 16, Transactions: 1},
					// The next free IN number after ep1in and ep3in.
					{Address: 0x84, Type: usb.Bulk, MaxPacket: MaxPacket{64, 512, 1024}, Transactions: 1},
				},
				CompatibleID:    "WINUSB",
				SubCompatibleID: "SUB_1",
				Properties: []Property{
					{Name: "Label", Type: PropSZ, Strings: []string{"gadgetkit"}},
					{Name: "Path", Type: PropExpandSZ, Strings: []string{"%SystemRoot%"}},
					{Name: "Blob", Type: PropBinary, Binary: []byte{0xde, 0xad, 0xbe, 0xef}},
					{Name: "Link", Type: PropLink, Strings: []string{`\??\x`}},
					{Name: "DeviceInterfaceGUID", Type: PropSZ, Strings: []string{"{6e45736a-2b1b-4078-b772-b3af2b6fde1c}"}},
				},
			},
		},
		Personality: Personality{Kind: PersonalityAbort, QueueDepth: 1, RequestSize: 4 << 20,
			Abort: &AbortOptions{Action: "halt", Keep: DefaultAbortKeep}},
	}
	if diff := cmp.Diff(want, c.Functions[0].FunctionFS); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// TestKernelFunctions decodes every kernel function type and its options.
func TestKernelFunctions(t *testing.T) {
	const in = `gadget: {name: g, vid: 1, pid: 2, os_desc: {vendor_code: 0xcd}}
udc: auto
configurations: [{functions: [serial, eth, net, disk, kbd, ss, lb]}]
functions:
  - {name: serial, type: acm}
  - {name: eth, type: ecm, dev_addr: "02:00:00:00:00:01", host_addr: "02:00:00:00:00:02", qmult: 5}
  - {name: net, type: ncm, os_desc: {compatible_id: WINNCM}}
  - name: disk
    type: mass_storage
    stall: false
    luns:
      - {file: /var/disk.img, removable: true, nofua: true}
      - {file: /var/cd.iso, ro: true, cdrom: true, inquiry_string: "gadgetkit cd"}
  - {name: kbd, type: hid, protocol: 1, subclass: 1, report_length: 8, report_desc: "05 01 09 06"}
  - {name: ss, type: SourceSink, pattern: 1, bulk_buflen: 8192, bulk_qlen: 16, iso_qlen: 4, isoc_interval: 4, isoc_maxpacket: 512, isoc_mult: 1, isoc_maxburst: 2}
  - {name: lb, type: Loopback, qlen: 8, bulk_buflen: 4096}
`
	c, err := Parse("kernel.yaml", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Function{
		{Name: "serial", Type: TypeACM},
		{Name: "eth", Type: TypeECM, Net: &Net{DevAddr: "02:00:00:00:00:01", HostAddr: "02:00:00:00:00:02", QMult: 5}},
		{Name: "net", Type: TypeNCM, Net: &Net{OSDesc: &InterfaceOSDesc{CompatibleID: "WINNCM"}}},
		{Name: "disk", Type: TypeMassStorage, MassStorage: &MassStorage{LUNs: []LUN{
			{File: "/var/disk.img", Removable: true, NoFUA: true},
			{File: "/var/cd.iso", ReadOnly: true, CDROM: true, InquiryString: "gadgetkit cd"},
		}}},
		{Name: "kbd", Type: TypeHID, HID: &HID{Protocol: 1, SubClass: 1, ReportLength: 8, ReportDesc: []byte{5, 1, 9, 6}}},
		{Name: "ss", Type: TypeSourceSink, SourceSink: &SourceSink{Pattern: PatternMod63, BulkBufLen: 8192, BulkQLen: 16,
			ISOQLen: 4, ISOCInterval: 4, ISOCMaxPacket: 512, ISOCMult: 1, ISOCMaxBurst: 2}},
		{Name: "lb", Type: TypeLoopback, Loopback: &Loopback{QLen: 8, BulkBufLen: 4096}},
	}
	if diff := cmp.Diff(want, c.Functions); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
