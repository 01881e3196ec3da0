package ffs

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/google/go-cmp/cmp"
)

// bulkLoopback is one vendor interface with a bulk IN and a bulk OUT
// endpoint, named by string 1.
func bulkLoopback() *Descriptors {
	return &Descriptors{Interfaces: []Interface{{
		Class: usb.ClassVendorSpecific,
		Name:  1,
		Endpoints: []Endpoint{
			{Address: usb.Address(1, usb.In), Type: usb.Bulk},
			{Address: usb.Address(2, usb.Out), Type: usb.Bulk},
		},
	}}}
}

// goldenBulk is bulkLoopback at full, high and SuperSpeed.
var goldenBulk = []byte{
	0x03, 0x00, 0x00, 0x00, // magic: 3 (v2)
	0x69, 0x00, 0x00, 0x00, // length: 105
	0x07, 0x00, 0x00, 0x00, // flags: HAS_FS_DESC|HAS_HS_DESC|HAS_SS_DESC
	0x03, 0x00, 0x00, 0x00, // fs_count: 3
	0x03, 0x00, 0x00, 0x00, // hs_count: 3
	0x05, 0x00, 0x00, 0x00, // ss_count: 5 (companions count)
	// full speed
	0x09, 0x04, // interface descriptor
	0x00,       // bInterfaceNumber: 0
	0x00,       // bAlternateSetting: 0
	0x02,       // bNumEndpoints: 2
	0xff,       // bInterfaceClass: vendor specific
	0x00, 0x00, // bInterfaceSubClass, bInterfaceProtocol
	0x01,       // iInterface: string 1
	0x07, 0x05, // endpoint descriptor
	0x81,       // bEndpointAddress: ep1in
	0x02,       // bmAttributes: bulk
	0x40, 0x00, // wMaxPacketSize: 64
	0x00,       // bInterval
	0x07, 0x05, // endpoint descriptor
	0x02,       // bEndpointAddress: ep2out
	0x02,       // bmAttributes: bulk
	0x40, 0x00, // wMaxPacketSize: 64
	0x00, // bInterval
	// high speed
	0x09, 0x04, 0x00, 0x00, 0x02, 0xff, 0x00, 0x00, 0x01, // interface 0 as above
	0x07, 0x05, 0x81, 0x02,
	0x00, 0x02, // wMaxPacketSize: 512
	0x00,
	0x07, 0x05, 0x02, 0x02,
	0x00, 0x02, // wMaxPacketSize: 512
	0x00,
	// SuperSpeed
	0x09, 0x04, 0x00, 0x00, 0x02, 0xff, 0x00, 0x00, 0x01, // interface 0 as above
	0x07, 0x05, 0x81, 0x02,
	0x00, 0x04, // wMaxPacketSize: 1024
	0x00,
	0x06, 0x30, // SuperSpeed endpoint companion
	0x00,       // bMaxBurst: 0 (1 packet)
	0x00,       // bmAttributes: no streams
	0x00, 0x00, // wBytesPerInterval: 0 (bulk)
	0x07, 0x05, 0x02, 0x02,
	0x00, 0x04, // wMaxPacketSize: 1024
	0x00,
	0x06, 0x30, 0x00, 0x00, 0x00, 0x00, // companion as above
}

func TestGoldenBulkAllSpeeds(t *testing.T) {
	d := bulkLoopback()
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenBulk) {
		t.Fatalf("MarshalBinary:\n got % x\nwant % x", b, goldenBulk)
	}
	want, err := d.Blob()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseDescriptorBlob(goldenBulk)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
	files := d.EndpointFiles()
	wantFiles := []EndpointFile{
		{Name: "ep1", Address: 0x81, Type: usb.Bulk, Interface: 0},
		{Name: "ep2", Address: 0x02, Type: usb.Bulk, Interface: 0},
	}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Fatalf("EndpointFiles (-want +got):\n%s", diff)
	}
}

// goldenAIOSimple is the descriptors blob of the kernel's
// tools/usb/ffs-aio-example/simple/device_app/aio_simple.c: a v1 blob, one
// vendor interface with bulk ep1in ("sink") and ep2out ("source") at full
// and high speed, wMaxPacketSize left 0 for the kernel to fill in.
var goldenAIOSimple = []byte{
	0x01, 0x00, 0x00, 0x00, // magic: FUNCTIONFS_DESCRIPTORS_MAGIC (v1)
	0x3e, 0x00, 0x00, 0x00, // length: 62
	0x03, 0x00, 0x00, 0x00, // fs_count: 3
	0x03, 0x00, 0x00, 0x00, // hs_count: 3
	// fs_descs
	0x09,       // intf.bLength
	0x04,       // intf.bDescriptorType: USB_DT_INTERFACE
	0x00,       // bInterfaceNumber
	0x00,       // bAlternateSetting
	0x02,       // bNumEndpoints: 2
	0xff,       // bInterfaceClass: USB_CLASS_VENDOR_SPEC
	0x00,       // bInterfaceSubClass
	0x00,       // bInterfaceProtocol
	0x01,       // iInterface: 1
	0x07,       // bulk_sink.bLength: usb_endpoint_descriptor_no_audio
	0x05,       // bDescriptorType: USB_DT_ENDPOINT
	0x81,       // bEndpointAddress: 1 | USB_DIR_IN
	0x02,       // bmAttributes: USB_ENDPOINT_XFER_BULK
	0x00, 0x00, // wMaxPacketSize: 0
	0x00,       // bInterval
	0x07,       // bulk_source.bLength
	0x05,       // bDescriptorType: USB_DT_ENDPOINT
	0x02,       // bEndpointAddress: 2 | USB_DIR_OUT
	0x02,       // bmAttributes: USB_ENDPOINT_XFER_BULK
	0x00, 0x00, // wMaxPacketSize: 0
	0x00, // bInterval
	// hs_descs: identical
	0x09, 0x04, 0x00, 0x00, 0x02, 0xff, 0x00, 0x00, 0x01,
	0x07, 0x05, 0x81, 0x02, 0x00, 0x00, 0x00,
	0x07, 0x05, 0x02, 0x02, 0x00, 0x00, 0x00,
}

// goldenAIOSimpleStrings is aio_simple.c's strings blob.
var goldenAIOSimpleStrings = []byte{
	0x02, 0x00, 0x00, 0x00, // magic: FUNCTIONFS_STRINGS_MAGIC
	0x1b, 0x00, 0x00, 0x00, // length: 27
	0x01, 0x00, 0x00, 0x00, // str_count: 1
	0x01, 0x00, 0x00, 0x00, // lang_count: 1
	0x09, 0x04, // lang0 code: 0x0409 en-us
	'A', 'I', 'O', ' ', 'T', 'e', 's', 't', 0x00, // STR_INTERFACE
}

func TestGoldenAIOSimple(t *testing.T) {
	blob, err := ParseDescriptorBlob(goldenAIOSimple)
	if err != nil {
		t.Fatal(err)
	}
	again, err := blob.MarshalBinary()
	if err != nil || !bytes.Equal(again, goldenAIOSimple) {
		t.Fatalf("v1 re-encoding = % x, %v", again, err)
	}

	// The same function described with this package: the layout is the
	// same byte for byte once the version is 1 and wMaxPacketSize is the
	// kernel's to choose.
	d := &Descriptors{Speeds: []usb.Speed{usb.SpeedFull, usb.SpeedHigh}, Interfaces: bulkLoopback().Interfaces}
	ours, err := d.Blob()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ours, blob, cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".MaxPacketSize" || p.Last().String() == ".Version"
	}, cmp.Ignore())); diff != "" {
		t.Fatalf("ours vs aio_simple, ignoring Version and MaxPacketSize (-ours +aio_simple):\n%s", diff)
	}
	ours.Version = 1
	for _, set := range [][]usb.Descriptor{ours.FullSpeed, ours.HighSpeed} {
		for i, x := range set {
			if e, ok := x.(usb.EndpointDescriptor); ok {
				e.MaxPacketSize = 0
				set[i] = e
			}
		}
	}
	b, err := ours.MarshalBinary()
	if err != nil || !bytes.Equal(b, goldenAIOSimple) {
		t.Fatalf("ours as v1 with wMaxPacketSize 0:\n got % x\nwant % x (%v)", b, goldenAIOSimple, err)
	}

	s, err := ParseStrings(goldenAIOSimpleStrings)
	if err != nil {
		t.Fatal(err)
	}
	want := &Strings{Languages: []Language{{ID: usb.LangEnglishUS, Strings: []string{"AIO Test"}}}}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Fatalf("strings (-want +got):\n%s", diff)
	}
	sb, err := want.MarshalBinary()
	if err != nil || !bytes.Equal(sb, goldenAIOSimpleStrings) {
		t.Fatalf("strings MarshalBinary = % x, %v", sb, err)
	}
	if err := d.CheckStrings(want); err != nil {
		t.Fatal(err)
	}
}

// goldenOS is a full-speed WinUSB interface with one extended property.
var goldenOS = []byte{
	0x03, 0x00, 0x00, 0x00, // magic: 3 (v2)
	0x70, 0x00, 0x00, 0x00, // length: 112
	0x09, 0x00, 0x00, 0x00, // flags: HAS_FS_DESC|HAS_MS_OS_DESC
	0x03, 0x00, 0x00, 0x00, // fs_count: 3
	0x02, 0x00, 0x00, 0x00, // os_count: 2
	0x09, 0x04, 0x00, 0x00, 0x02, 0xff, 0x00, 0x00, 0x00, // interface 0, vendor, no string
	0x07, 0x05, 0x81, 0x02, 0x40, 0x00, 0x00, // ep1in bulk 64
	0x07, 0x05, 0x02, 0x02, 0x40, 0x00, 0x00, // ep2out bulk 64
	// OS descriptor 0: extended compat ID
	0x00,                   // interface: 0
	0x23, 0x00, 0x00, 0x00, // dwLength: 35 (11 header + 24)
	0x01, 0x00, // bcdVersion: 0x0001, the only value Linux 6.1 accepts (the spec says 0x0100)
	0x04, 0x00, // wIndex: 4, extended compat ID
	0x01,                                     // bCount: 1
	0x00,                                     // Reserved
	0x00,                                     // bFirstInterfaceNumber: 0
	0x01,                                     // Reserved1: 1
	'W', 'I', 'N', 'U', 'S', 'B', 0x00, 0x00, // CompatibleID
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // SubCompatibleID
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // Reserved2
	// OS descriptor 1: extended properties
	0x00,                   // interface: 0
	0x22, 0x00, 0x00, 0x00, // dwLength: 34 (11 header + 23)
	0x01, 0x00, // bcdVersion: 0x0001, the only value Linux 6.1 accepts (the spec says 0x0100)
	0x05, 0x00, // wIndex: 5, extended properties
	0x01, 0x00, // wCount: 1
	0x17, 0x00, 0x00, 0x00, // dwSize: 23
	0x01, 0x00, 0x00, 0x00, // dwPropertyDataType: REG_SZ
	0x06, 0x00, // wPropertyNameLength: 6
	'L', 'a', 'b', 'e', 'l', 0x00, // bPropertyName, UTF-8 (the kernel widens it)
	0x03, 0x00, 0x00, 0x00, // dwPropertyDataLength: 3
	'g', 'k', 0x00, // bPropertyData
}

func TestGoldenOSDescriptors(t *testing.T) {
	d := bulkLoopback()
	d.Speeds = []usb.Speed{usb.SpeedFull}
	d.Interfaces[0].Name = 0
	d.Interfaces[0].CompatibleID = "WINUSB"
	d.Interfaces[0].Properties = []Property{StringProperty("Label", "gk")}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenOS) {
		t.Fatalf("MarshalBinary:\n got % x\nwant % x", b, goldenOS)
	}
	want, _ := d.Blob()
	got, err := ParseDescriptorBlob(goldenOS)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
}

func TestEndpointEncodingPerSpeed(t *testing.T) {
	tests := []struct {
		name       string
		e          Endpoint
		fs, hs, ss usb.EndpointDescriptor
		comp       usb.SSEndpointCompanionDescriptor
	}{
		{
			name: "interrupt 1ms",
			e:    Endpoint{Address: 0x83, Type: usb.Interrupt, MaxPacketSize: 64, Interval: time.Millisecond},
			fs:   usb.EndpointDescriptor{Address: 0x83, Attributes: 3, MaxPacketSize: 64, Interval: 1},
			hs:   usb.EndpointDescriptor{Address: 0x83, Attributes: 3, MaxPacketSize: 64, Interval: 4},
			ss:   usb.EndpointDescriptor{Address: 0x83, Attributes: 3, MaxPacketSize: 64, Interval: 4},
			comp: usb.SSEndpointCompanionDescriptor{BytesPerInterval: 64},
		},
		{
			name: "interrupt 125us rounds up to a frame at full speed",
			e:    Endpoint{Address: 0x83, Type: usb.Interrupt, MaxPacketSize: 8, Interval: 125 * time.Microsecond},
			fs:   usb.EndpointDescriptor{Address: 0x83, Attributes: 3, MaxPacketSize: 8, Interval: 1},
			hs:   usb.EndpointDescriptor{Address: 0x83, Attributes: 3, MaxPacketSize: 8, Interval: 1},
			ss:   usb.EndpointDescriptor{Address: 0x83, Attributes: 3, MaxPacketSize: 8, Interval: 1},
			comp: usb.SSEndpointCompanionDescriptor{BytesPerInterval: 8},
		},
		{
			name: "interrupt 128ms",
			e:    Endpoint{Address: 0x81, Type: usb.Interrupt, MaxPacketSize: 16, Interval: 128 * time.Millisecond},
			fs:   usb.EndpointDescriptor{Address: 0x81, Attributes: 3, MaxPacketSize: 16, Interval: 128},
			hs:   usb.EndpointDescriptor{Address: 0x81, Attributes: 3, MaxPacketSize: 16, Interval: 11},
			ss:   usb.EndpointDescriptor{Address: 0x81, Attributes: 3, MaxPacketSize: 16, Interval: 11},
			comp: usb.SSEndpointCompanionDescriptor{BytesPerInterval: 16},
		},
		{
			name: "isochronous 8ms async, 2 transactions, burst and mult",
			e: Endpoint{Address: 0x01, Type: usb.Isochronous, MaxPacketSize: 1024, Interval: 8 * time.Millisecond,
				IsoAttributes: 0x04, Transactions: 2, MaxBurst: 1, Mult: 2},
			fs:   usb.EndpointDescriptor{Address: 0x01, Attributes: 0x05, MaxPacketSize: 1024, Interval: 4},
			hs:   usb.EndpointDescriptor{Address: 0x01, Attributes: 0x05, MaxPacketSize: 1024 | 1<<11, Interval: 7},
			ss:   usb.EndpointDescriptor{Address: 0x01, Attributes: 0x05, MaxPacketSize: 1024, Interval: 7},
			comp: usb.SSEndpointCompanionDescriptor{MaxBurst: 1, Attributes: 2, BytesPerInterval: 6144},
		},
		{
			name: "bulk 16-byte full speed with streams",
			e:    Endpoint{Address: 0x82, Type: usb.Bulk, MaxPacketSize: 16, MaxBurst: 15, MaxStreams: 4},
			fs:   usb.EndpointDescriptor{Address: 0x82, Attributes: 2, MaxPacketSize: 16},
			hs:   usb.EndpointDescriptor{Address: 0x82, Attributes: 2, MaxPacketSize: 512},
			ss:   usb.EndpointDescriptor{Address: 0x82, Attributes: 2, MaxPacketSize: 1024},
			comp: usb.SSEndpointCompanionDescriptor{MaxBurst: 15, Attributes: 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.e.Type == usb.Isochronous && tt.e.MaxPacketSize > 1023 {
				// 1024 does not fit full speed; check that speed alone with 1023.
				d := &Descriptors{Speeds: []usb.Speed{usb.SpeedHigh, usb.SpeedSuper}, Interfaces: []Interface{{Endpoints: []Endpoint{tt.e}}}}
				checkSpeeds(t, d, nil, &tt.hs, &tt.ss, &tt.comp)
				e := tt.e
				e.MaxPacketSize, e.MaxBurst, e.Mult = 1023, 0, 0
				fs := tt.fs
				fs.MaxPacketSize = 1023
				d = &Descriptors{Speeds: []usb.Speed{usb.SpeedFull}, Interfaces: []Interface{{Endpoints: []Endpoint{e}}}}
				checkSpeeds(t, d, &fs, nil, nil, nil)
				return
			}
			d := &Descriptors{Interfaces: []Interface{{Endpoints: []Endpoint{tt.e}}}}
			checkSpeeds(t, d, &tt.fs, &tt.hs, &tt.ss, &tt.comp)
		})
	}
}

func checkSpeeds(t *testing.T, d *Descriptors, fs, hs, ss *usb.EndpointDescriptor, comp *usb.SSEndpointCompanionDescriptor) {
	t.Helper()
	b, err := d.Blob()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, set []usb.Descriptor, want []usb.Descriptor) {
		t.Helper()
		if diff := cmp.Diff(want, set[1:]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if fs != nil {
		check("full speed", b.FullSpeed, []usb.Descriptor{*fs})
	}
	if hs != nil {
		check("high speed", b.HighSpeed, []usb.Descriptor{*hs})
	}
	if ss != nil {
		check("SuperSpeed", b.SuperSpeed, []usb.Descriptor{*ss, *comp})
	}
}

// goldenTwoLanguages is a strings blob with English and German.
var goldenTwoLanguages = []byte{
	0x02, 0x00, 0x00, 0x00, // magic: 2
	0x2d, 0x00, 0x00, 0x00, // length: 45
	0x02, 0x00, 0x00, 0x00, // str_count: 2
	0x02, 0x00, 0x00, 0x00, // lang_count: 2
	0x09, 0x04, // language 0x0409, English (US)
	'L', 'o', 'o', 'p', 0x00, // string 1
	'S', 'i', 'n', 'k', 0x00, // string 2
	0x07, 0x04, // language 0x0407, German
	'S', 'c', 'h', 'l', 'e', 'i', 'f', 'e', 0x00, // string 1
	'S', 'e', 'n', 'k', 'e', 0x00, // string 2
}

func TestGoldenStringsTwoLanguages(t *testing.T) {
	s := &Strings{Languages: []Language{
		{ID: usb.LangEnglishUS, Strings: []string{"Loop", "Sink"}},
		{ID: usb.LangGerman, Strings: []string{"Schleife", "Senke"}},
	}}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenTwoLanguages) {
		t.Fatalf("MarshalBinary:\n got % x\nwant % x", b, goldenTwoLanguages)
	}
	got, err := ParseStrings(goldenTwoLanguages)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
}

func TestVirtualAddrFiles(t *testing.T) {
	d := bulkLoopback()
	d.Flags = FlagVirtualAddr | FlagEventFD
	d.EventFD = 7
	d.Interfaces = append(d.Interfaces, Interface{Endpoints: []Endpoint{{Address: 0x8f, Type: usb.Interrupt, MaxPacketSize: 8, Interval: time.Millisecond}}})
	var names []string
	for _, f := range d.EndpointFiles() {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"ep81", "ep02", "ep8f"}, names); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// flags VIRTUAL_ADDR|EVENTFD|HAS_*: 0x37, then the eventfd.
	if !bytes.Equal(b[8:16], []byte{0x37, 0, 0, 0, 7, 0, 0, 0}) {
		t.Fatalf("flags and eventfd: % x", b[8:16])
	}
	blob, err := ParseDescriptorBlob(b)
	if err != nil || blob.EventFD != 7 || blob.Flags != 0x37 {
		t.Fatalf("decoded %+v, %v", blob, err)
	}
}

func TestAssociationPlacement(t *testing.T) {
	d := &Descriptors{
		Speeds:       []usb.Speed{usb.SpeedHigh},
		Associations: []Association{{FirstInterface: 1, InterfaceCount: 2, Class: usb.ClassVendorSpecific, Name: 3}},
		Interfaces: []Interface{
			{Class: usb.ClassVendorSpecific},
			{Class: usb.ClassHID, Name: 2, ClassDescriptors: [][]byte{{0x09, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x20, 0x00}},
				Endpoints: []Endpoint{{Address: 0x81, Type: usb.Interrupt, MaxPacketSize: 8, Interval: time.Millisecond}}},
			{Class: usb.ClassVendorSpecific},
		},
	}
	b, err := d.Blob()
	if err != nil {
		t.Fatal(err)
	}
	want := []usb.Descriptor{
		usb.InterfaceDescriptor{Number: 0, Class: usb.ClassVendorSpecific},
		usb.InterfaceAssociationDescriptor{FirstInterface: 1, InterfaceCount: 2, FunctionClass: usb.ClassVendorSpecific, FunctionIndex: 3},
		usb.InterfaceDescriptor{Number: 1, NumEndpoints: 1, Class: usb.ClassHID, InterfaceIndex: 2},
		usb.RawDescriptor{Type: usb.TypeHID, Data: []byte{0x11, 0x01, 0x00, 0x01, 0x22, 0x20, 0x00}},
		usb.EndpointDescriptor{Address: 0x81, Attributes: 3, MaxPacketSize: 8, Interval: 4},
		usb.InterfaceDescriptor{Number: 2, Class: usb.ClassVendorSpecific},
	}
	if diff := cmp.Diff(want, b.HighSpeed); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if n := d.StringCount(); n != 3 {
		t.Fatalf("StringCount = %d, want 3", n)
	}
}

func TestBlobError(t *testing.T) {
	err := WriteError("strings", goldenAIOSimpleStrings[:20], syscall.EINVAL)
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("errors.Is(EINVAL) false for %v", err)
	}
	var be *BlobError
	if !errors.As(err, &be) || be.Blob != "strings" {
		t.Fatalf("errors.As: %v", err)
	}
	want := "ffs: ep0 rejected the strings blob (20 bytes): invalid argument\n" +
		"does not decode: ffs: malformed blob: length field 27, blob has 20 bytes\n" +
		"00000000  02 00 00 00 1b 00 00 00  01 00 00 00 01 00 00 00  |................|\n" +
		"00000010  09 04 41 49                                       |..AI|\n"
	if err.Error() != want {
		t.Fatalf("Error() =\n%s\nwant\n%s", err, want)
	}

	err = WriteError("descriptors", goldenAIOSimple, syscall.EINVAL)
	want = "ffs: ep0 rejected the descriptors blob (62 bytes): invalid argument\n" +
		"descriptors v1 flags HAS_FS_DESC|HAS_HS_DESC\n" +
		"full-speed: 3 descriptors\n" +
		"  interface {Number:0 AlternateSetting:0 NumEndpoints:2 Class:vendor-specific SubClass:0 Protocol:0 InterfaceIndex:1}\n" +
		"  endpoint {Address:ep1in Attributes:2 MaxPacketSize:0 Interval:0 Audio:false Refresh:0 SynchAddress:0}\n" +
		"  endpoint {Address:ep2out Attributes:2 MaxPacketSize:0 Interval:0 Audio:false Refresh:0 SynchAddress:0}\n" +
		"high-speed: 3 descriptors\n" +
		"  interface {Number:0 AlternateSetting:0 NumEndpoints:2 Class:vendor-specific SubClass:0 Protocol:0 InterfaceIndex:1}\n" +
		"  endpoint {Address:ep1in Attributes:2 MaxPacketSize:0 Interval:0 Audio:false Refresh:0 SynchAddress:0}\n" +
		"  endpoint {Address:ep2out Attributes:2 MaxPacketSize:0 Interval:0 Audio:false Refresh:0 SynchAddress:0}\n"
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("Error() =\n%s\nwant prefix\n%s", got, want)
	}
}

func TestParseDescriptorBlobErrors(t *testing.T) {
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(goldenBulk)) }
	osMut := func(f func(b []byte)) []byte { b := bytes.Clone(goldenOS); f(b); return b }
	tests := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"empty", nil, "ffs: malformed blob: magic at offset 0 needs 4 bytes, 0 left"},
		{"length field", mut(func(b []byte) []byte { return b[:len(b)-1] }), "ffs: malformed blob: length field 105, blob has 104 bytes"},
		{"magic", mut(func(b []byte) []byte { b[0] = 7; return b }), "ffs: malformed blob: magic 7, want 1 (v1) or 3 (v2)"},
		{"count too high", mut(func(b []byte) []byte { b[12] = 4; return b }),
			"ffs: malformed blob: super-speed descriptor 4 at offset 105 needs 2 bytes, 0 left"},
		{"bad bLength", mut(func(b []byte) []byte { b[24] = 8; return b }),
			"ffs: malformed blob: full-speed descriptor 0 at offset 24: usb: interface descriptor: bad bLength: 8, want 9"},
		{"bLength past end", mut(func(b []byte) []byte { b[99] = 9; return b }),
			"ffs: malformed blob: super-speed descriptor 4 at offset 99 needs 9 bytes, 6 left"},
		{"left over", mut(func(b []byte) []byte { b[20] = 4; return b }),
			"ffs: malformed blob: 6 bytes left over at offset 99"},
		{"unknown OS index", osMut(func(b []byte) { b[85] = 6 }),
			"ffs: malformed blob: OS descriptor 1: wIndex 6, want 4 (extended compat ID) or 5 (extended properties)"},
		{"property dwSize", osMut(func(b []byte) { b[89] = 24 }),
			"ffs: malformed blob: OS descriptor 1: extended property at offset 89: dwSize 24, its fields take 23"},
		{"dwLength past end", osMut(func(b []byte) { b[79] = 35 }),
			"ffs: malformed blob: OS descriptor 1: dwLength 35 exceeds the 34 bytes left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDescriptorBlob(tt.b)
			if !errors.Is(err, ErrBlob) || err.Error() != tt.msg {
				t.Fatalf("err = %v\nwant  %s", err, tt.msg)
			}
		})
	}
}
