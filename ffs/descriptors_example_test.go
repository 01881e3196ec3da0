package ffs_test

import (
	"fmt"
	"time"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/usb"
)

// A vendor function with bulk IN/OUT and an interrupt endpoint, described
// once and encoded for full, high and SuperSpeed, with a WinUSB compatible
// ID and English and German strings.
func ExampleDescriptors() {
	d := &ffs.Descriptors{Interfaces: []ffs.Interface{{
		Class: usb.ClassVendorSpecific,
		Name:  1,
		Endpoints: []ffs.Endpoint{
			{Address: usb.Address(1, usb.In), Type: usb.Bulk},
			{Address: usb.Address(2, usb.Out), Type: usb.Bulk},
			{Address: usb.Address(3, usb.In), Type: usb.Interrupt, MaxPacketSize: 16, Interval: time.Millisecond},
		},
		CompatibleID: "WINUSB",
		Properties:   []ffs.Property{ffs.StringProperty("DeviceInterfaceGUID", "{6e45736a-2b1b-4078-b772-b3af2b6fde5a}")},
	}}}
	s := &ffs.Strings{Languages: []ffs.Language{
		{ID: usb.LangEnglishUS, Strings: []string{"Data"}},
		{ID: usb.LangGerman, Strings: []string{"Daten"}},
	}}
	descs, err := d.MarshalBinary() // write to ep0 first,
	if err != nil {
		fmt.Println(err)
		return
	}
	strs, err := s.MarshalBinary() // then this
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(descs), len(strs), d.CheckStrings(s))
	for _, f := range d.EndpointFiles() {
		fmt.Println(f.Name, f.Address, f.Type)
	}
	// Output:
	// 255 31 <nil>
	// ep1 ep1in bulk
	// ep2 ep2out bulk
	// ep3 ep3in interrupt
}

// Validation names the endpoint, the field and the rule.
func ExampleDescriptors_Validate() {
	d := &ffs.Descriptors{Interfaces: []ffs.Interface{{Endpoints: []ffs.Endpoint{
		{Address: usb.Address(1, usb.In), Type: usb.Interrupt, MaxPacketSize: 64, Interval: 3 * time.Millisecond},
	}}}}
	fmt.Println(d.Validate())
	// Output:
	// ffs: interface 0 endpoint 0 (ep1in): Interval: 3ms is not 125µs times a power of two up to 4.096s
}

// Diagnosing a blob another program wrote: decode it, print it, and check
// it against f_fs's rules.
func ExampleParseDescriptorBlob() {
	blob := []byte{
		0x03, 0x00, 0x00, 0x00, 0x2d, 0x00, 0x00, 0x00, // magic 3, length 45
		0x03, 0x00, 0x00, 0x00, // flags HAS_FS_DESC|HAS_HS_DESC
		0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // fs_count 2, hs_count 1
		0x09, 0x04, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x00, // interface 0
		0x07, 0x05, 0x81, 0x02, 0x40, 0x00, 0x00, // ep1in bulk 64
		0x09, 0x04, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x00, // high speed forgot its endpoint
	}
	b, err := ffs.ParseDescriptorBlob(blob)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(b)
	fmt.Println(b.Check())
	// Output:
	// descriptors v2 flags HAS_FS_DESC|HAS_HS_DESC
	// full-speed: 2 descriptors
	//   interface {Number:0 AlternateSetting:0 NumEndpoints:1 Class:vendor-specific SubClass:0 Protocol:0 InterfaceIndex:0}
	//   endpoint {Address:ep1in Attributes:2 MaxPacketSize:64 Interval:0 Audio:false Refresh:0 SynchAddress:0}
	// high-speed: 1 descriptors
	//   interface {Number:0 AlternateSetting:0 NumEndpoints:1 Class:vendor-specific SubClass:0 Protocol:0 InterfaceIndex:0}
	// ffs: high-speed: endpoints: 0, but 1 at full-speed: every speed describes the same endpoints
}
