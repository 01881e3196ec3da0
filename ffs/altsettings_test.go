package ffs

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/google/go-cmp/cmp"
)

// withAlts is one vendor interface: bulk ep1in/ep1out on setting 0, an
// interrupt pair on setting 1 (string 2), an isochronous pair on setting 2.
func withAlts() *Descriptors {
	return &Descriptors{Speeds: []usb.Speed{usb.SpeedHigh}, Interfaces: []Interface{{
		Class: usb.ClassVendorSpecific,
		Name:  1,
		Endpoints: []Endpoint{
			{Address: usb.Address(1, usb.In), Type: usb.Bulk},
			{Address: usb.Address(1, usb.Out), Type: usb.Bulk},
		},
		AltSettings: []AltSetting{
			{Class: usb.ClassVendorSpecific, Name: 2, Endpoints: []Endpoint{
				{Address: usb.Address(2, usb.In), Type: usb.Interrupt, MaxPacketSize: 64, Interval: time.Millisecond},
				{Address: usb.Address(2, usb.Out), Type: usb.Interrupt, MaxPacketSize: 64, Interval: time.Millisecond},
			}},
			{Class: usb.ClassVendorSpecific, Endpoints: []Endpoint{
				{Address: usb.Address(3, usb.In), Type: usb.Isochronous, MaxPacketSize: 1024, Interval: time.Millisecond, IsoAttributes: 0x04},
				{Address: usb.Address(3, usb.Out), Type: usb.Isochronous, MaxPacketSize: 1024, Interval: time.Millisecond, IsoAttributes: 0x04},
			}},
		},
	}}}
}

var goldenAlts = []byte{
	0x03, 0x00, 0x00, 0x00, // magic: 3 (v2)
	0x55, 0x00, 0x00, 0x00, // length: 85
	0x02, 0x00, 0x00, 0x00, // flags: HAS_HS_DESC
	0x09, 0x00, 0x00, 0x00, // hs_count: 9 (3 interface, 6 endpoint)
	0x09, 0x04, // interface descriptor
	0x00,       // bInterfaceNumber: 0
	0x00,       // bAlternateSetting: 0
	0x02,       // bNumEndpoints: 2
	0xff,       // bInterfaceClass: vendor specific
	0x00, 0x00, // bInterfaceSubClass, bInterfaceProtocol
	0x01,                                     // iInterface: string 1
	0x07, 0x05, 0x81, 0x02, 0x00, 0x02, 0x00, // ep1in bulk 512
	0x07, 0x05, 0x01, 0x02, 0x00, 0x02, 0x00, // ep1out bulk 512
	0x09, 0x04, // interface descriptor
	0x00, // bInterfaceNumber: 0 again
	0x01, // bAlternateSetting: 1
	0x02, // bNumEndpoints: 2
	0xff, 0x00, 0x00,
	0x02,       // iInterface: string 2
	0x07, 0x05, // endpoint descriptor
	0x82,       // bEndpointAddress: ep2in
	0x03,       // bmAttributes: interrupt
	0x40, 0x00, // wMaxPacketSize: 64
	0x04,                                     // bInterval: 2^(4-1) microframes = 1ms
	0x07, 0x05, 0x02, 0x03, 0x40, 0x00, 0x04, // ep2out interrupt 64, 1ms
	0x09, 0x04, 0x00,
	0x02, // bAlternateSetting: 2
	0x02, 0xff, 0x00, 0x00,
	0x00,       // iInterface: none
	0x07, 0x05, // endpoint descriptor
	0x83,       // bEndpointAddress: ep3in
	0x05,       // bmAttributes: isochronous, asynchronous
	0x00, 0x04, // wMaxPacketSize: 1024
	0x04,                                     // bInterval: 1ms
	0x07, 0x05, 0x03, 0x05, 0x00, 0x04, 0x04, // ep3out isochronous 1024, 1ms
}

func TestGoldenAltSettings(t *testing.T) {
	d := withAlts()
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, goldenAlts) {
		t.Fatalf("MarshalBinary:\n got % x\nwant % x", b, goldenAlts)
	}
	blob, err := ParseDescriptorBlob(goldenAlts)
	if err != nil {
		t.Fatal(err)
	}
	if err := blob.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	want := []EndpointFile{
		{Name: "ep1", Address: 0x81, Type: usb.Bulk},
		{Name: "ep2", Address: 0x01, Type: usb.Bulk},
		{Name: "ep3", Address: 0x82, Type: usb.Interrupt, Alt: 1},
		{Name: "ep4", Address: 0x02, Type: usb.Interrupt, Alt: 1},
		{Name: "ep5", Address: 0x83, Type: usb.Isochronous, Alt: 2},
		{Name: "ep6", Address: 0x03, Type: usb.Isochronous, Alt: 2},
	}
	if diff := cmp.Diff(want, d.EndpointFiles()); diff != "" {
		t.Errorf("EndpointFiles (-want +got):\n%s", diff)
	}
	if n := d.StringCount(); n != 2 {
		t.Errorf("StringCount %d, want 2 (setting 1 is named by string 2)", n)
	}
}

// Rules that apply to alternate settings name the setting and locate it
// by index, so callers can point at their own source of the value.
func TestValidateAltSettings(t *testing.T) {
	tests := []struct {
		name                string
		break_              func(d *Descriptors)
		msg                 string
		intf, alt, endpoint int
		field               string
	}{
		{"three alternates", func(d *Descriptors) {
			d.Interfaces[0].AltSettings = append(d.Interfaces[0].AltSettings, AltSetting{})
		}, "ffs: interface 0: AltSettings: 3 alternate settings besides 0; f_fs refuses SET_INTERFACE beyond setting 2", 0, 0, -1, "AltSettings"},
		{"address shared with setting 0", func(d *Descriptors) {
			d.Interfaces[0].AltSettings[0].Endpoints[1].Address = usb.Address(1, usb.Out)
		}, "ffs: interface 0 alt 1 endpoint 1 (ep1out): Address: ep1out is already used by interface 0 endpoint 1 (ep1out)", 0, 1, 1, "Address"},
		{"interrupt packet too large", func(d *Descriptors) {
			d.Interfaces[0].AltSettings[0].Endpoints[0].MaxPacketSize = 1025
		}, "ffs: interface 0 alt 1 endpoint 0 (ep2in): MaxPacketSize: 1025: interrupt allows at most 1024", 0, 1, 0, "MaxPacketSize"},
		{"iso interval", func(d *Descriptors) {
			d.Interfaces[0].AltSettings[1].Endpoints[1].Interval = 3 * time.Millisecond
		}, "ffs: interface 0 alt 2 endpoint 1 (ep3out): Interval: 3ms is not 125µs times a power of two up to 4.096s", 0, 2, 1, "Interval"},
		{"class descriptor", func(d *Descriptors) {
			d.Interfaces[0].AltSettings[0].ClassDescriptors = [][]byte{{0x03, 0x24, 0x00}}
		}, "ffs: interface 0 alt 1: ClassDescriptors[0]: type 0x24 is rejected by f_fs, which accepts only 0x21 for HID and CCID interfaces", 0, 1, -1, "ClassDescriptors[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := withAlts()
			tc.break_(d)
			err := d.Validate()
			var de *DescriptorError
			if !errors.As(err, &de) {
				t.Fatalf("Validate: %v, want a *DescriptorError", err)
			}
			if err.Error() != tc.msg {
				t.Errorf("Validate:\n got %s\nwant %s", err, tc.msg)
			}
			if de.Interface != tc.intf || de.Alt != tc.alt || de.Endpoint != tc.endpoint || de.Field != tc.field {
				t.Errorf("located at interface %d alt %d endpoint %d field %s, want %d %d %d %s",
					de.Interface, de.Alt, de.Endpoint, de.Field, tc.intf, tc.alt, tc.endpoint, tc.field)
			}
		})
	}
	if err := withAlts().Validate(); err != nil {
		t.Errorf("valid alternate settings: %v", err)
	}
	var de *DescriptorError
	if err := (&Descriptors{}).Validate(); !errors.As(err, &de) || de.Interface != -1 || de.Alt != -1 || de.Endpoint != -1 || de.Association != -1 {
		t.Errorf("an error about the whole value is located at %+v", de)
	}
	d := withAlts()
	d.Associations = []Association{{FirstInterface: 0, InterfaceCount: 2}}
	if err := d.Validate(); !errors.As(err, &de) || de.Association != 0 || de.Interface != -1 || de.Field != "InterfaceCount" {
		t.Errorf("an association's error: %v, located at %+v", err, de)
	}
}
