package usb

import (
	"bytes"
	"encoding"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type unmarshaler interface {
	encoding.BinaryUnmarshaler
	Descriptor
}

func TestDescriptorsGolden(t *testing.T) {
	tests := []struct {
		name string
		d    Descriptor
		into unmarshaler
		b    []byte
	}{
		{
			name: "device",
			d: DeviceDescriptor{USB: 0x0200, Class: ClassPerInterface, MaxPacketSize0: 64, Vendor: 0x1d6b,
				Product: 0x0104, Device: 0x0100, ManufacturerIndex: 1, ProductIndex: 2, SerialIndex: 3, NumConfigurations: 1},
			into: &DeviceDescriptor{},
			b: []byte{
				0x12,       // bLength: 18
				0x01,       // bDescriptorType: device
				0x00, 0x02, // bcdUSB: 2.00
				0x00,       // bDeviceClass: per interface
				0x00,       // bDeviceSubClass
				0x00,       // bDeviceProtocol
				0x40,       // bMaxPacketSize0: 64
				0x6b, 0x1d, // idVendor: 0x1d6b
				0x04, 0x01, // idProduct: 0x0104
				0x00, 0x01, // bcdDevice: 1.00
				0x01, // iManufacturer
				0x02, // iProduct
				0x03, // iSerialNumber
				0x01, // bNumConfigurations
			},
		},
		{
			name: "config",
			d:    ConfigDescriptor{TotalLength: 32, NumInterfaces: 1, ConfigurationValue: 1, Attributes: 0x80, MaxPower: 250},
			into: &ConfigDescriptor{},
			b: []byte{
				0x09,       // bLength: 9
				0x02,       // bDescriptorType: config
				0x20, 0x00, // wTotalLength: 32
				0x01, // bNumInterfaces
				0x01, // bConfigurationValue
				0x00, // iConfiguration
				0x80, // bmAttributes: bus powered
				0xfa, // bMaxPower: 250 (500 mA)
			},
		},
		{
			name: "interface",
			d:    InterfaceDescriptor{Number: 2, AlternateSetting: 1, NumEndpoints: 2, Class: ClassVendorSpecific, SubClass: 3, Protocol: 4, InterfaceIndex: 5},
			into: &InterfaceDescriptor{},
			b: []byte{
				0x09, // bLength: 9
				0x04, // bDescriptorType: interface
				0x02, // bInterfaceNumber
				0x01, // bAlternateSetting
				0x02, // bNumEndpoints
				0xff, // bInterfaceClass: vendor specific
				0x03, // bInterfaceSubClass
				0x04, // bInterfaceProtocol
				0x05, // iInterface
			},
		},
		{
			name: "endpoint",
			d:    EndpointDescriptor{Address: 0x81, Attributes: 0x03, MaxPacketSize: 0x1400, Interval: 4},
			into: &EndpointDescriptor{},
			b: []byte{
				0x07,       // bLength: 7
				0x05,       // bDescriptorType: endpoint
				0x81,       // bEndpointAddress: ep1in
				0x03,       // bmAttributes: interrupt
				0x00, 0x14, // wMaxPacketSize: 1024, 3 transactions per microframe
				0x04, // bInterval
			},
		},
		{
			name: "audio endpoint",
			d:    EndpointDescriptor{Address: 0x02, Attributes: 0x05, MaxPacketSize: 192, Interval: 1, Audio: true, Refresh: 0, SynchAddress: 0x82},
			into: &EndpointDescriptor{},
			b: []byte{
				0x09,       // bLength: 9
				0x05,       // bDescriptorType: endpoint
				0x02,       // bEndpointAddress: ep2out
				0x05,       // bmAttributes: isochronous, asynchronous
				0xc0, 0x00, // wMaxPacketSize: 192
				0x01, // bInterval
				0x00, // bRefresh
				0x82, // bSynchAddress
			},
		},
		{
			name: "ss companion",
			d:    SSEndpointCompanionDescriptor{MaxBurst: 15, Attributes: 4, BytesPerInterval: 0},
			into: &SSEndpointCompanionDescriptor{},
			b: []byte{
				0x06,       // bLength: 6
				0x30,       // bDescriptorType: SS endpoint companion
				0x0f,       // bMaxBurst: 16 packets
				0x04,       // bmAttributes: 16 streams
				0x00, 0x00, // wBytesPerInterval
			},
		},
		{
			name: "interface association",
			d:    InterfaceAssociationDescriptor{FirstInterface: 0, InterfaceCount: 2, FunctionClass: ClassComm, FunctionSubClass: 2, FunctionProtocol: 1, FunctionIndex: 6},
			into: &InterfaceAssociationDescriptor{},
			b: []byte{
				0x08, // bLength: 8
				0x0b, // bDescriptorType: interface association
				0x00, // bFirstInterface
				0x02, // bInterfaceCount
				0x02, // bFunctionClass: communications
				0x02, // bFunctionSubClass
				0x01, // bFunctionProtocol
				0x06, // iFunction
			},
		},
		{
			name: "bos",
			d:    BOSDescriptor{TotalLength: 22, NumDeviceCaps: 2},
			into: &BOSDescriptor{},
			b: []byte{
				0x05,       // bLength: 5
				0x0f,       // bDescriptorType: BOS
				0x16, 0x00, // wTotalLength: 22
				0x02, // bNumDeviceCaps
			},
		},
		{
			name: "raw class-specific",
			d:    RawDescriptor{Type: TypeHID, Data: []byte{0x11, 0x01, 0x00, 0x01, 0x22, 0x22, 0x00}},
			into: &RawDescriptor{},
			b: []byte{
				0x09,                                     // bLength: 9
				0x21,                                     // bDescriptorType: HID
				0x11, 0x01, 0x00, 0x01, 0x22, 0x22, 0x00, // HID 1.11, one report descriptor of 34 bytes
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.d.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, tt.b) {
				t.Fatalf("MarshalBinary:\n got % x\nwant % x", b, tt.b)
			}
			if err := tt.into.UnmarshalBinary(tt.b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.d, deref(tt.into)); diff != "" {
				t.Fatalf("UnmarshalBinary (-want +got):\n%s", diff)
			}
			got, n, err := ParseDescriptor(append(tt.b, 0xee))
			if err != nil || n != len(tt.b) {
				t.Fatalf("ParseDescriptor = %v, %d, %v", got, n, err)
			}
			if diff := cmp.Diff(tt.d, got); diff != "" {
				t.Fatalf("ParseDescriptor (-want +got):\n%s", diff)
			}
		})
	}
}

func deref(p unmarshaler) Descriptor {
	switch p := p.(type) {
	case *DeviceDescriptor:
		return *p
	case *ConfigDescriptor:
		return *p
	case *InterfaceDescriptor:
		return *p
	case *EndpointDescriptor:
		return *p
	case *SSEndpointCompanionDescriptor:
		return *p
	case *InterfaceAssociationDescriptor:
		return *p
	case *BOSDescriptor:
		return *p
	case *RawDescriptor:
		return *p
	}
	return nil
}

func TestUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		into encoding.BinaryUnmarshaler
		b    []byte
		is   error
		msg  string
	}{
		{"empty", &InterfaceDescriptor{}, nil, ErrShort, "usb: interface descriptor: descriptor truncated: 0 bytes"},
		{"wrong type", &InterfaceDescriptor{}, []byte{9, 5, 0, 0, 0, 0, 0, 0, 0}, ErrType, "usb: interface descriptor: wrong bDescriptorType: endpoint"},
		{"bad bLength", &EndpointDescriptor{}, []byte{8, 5, 0, 0, 0, 0, 0, 0}, ErrLength, "usb: endpoint descriptor: bad bLength: 8, want 7"},
		{"truncated", &EndpointDescriptor{}, []byte{7, 5, 0x81, 2, 0}, ErrShort, "usb: endpoint descriptor: descriptor truncated: bLength 7, 5 bytes"},
		{"trailing", &SSEndpointCompanionDescriptor{}, []byte{6, 0x30, 0, 0, 0, 0, 1}, ErrLength, "usb: ss-endpoint-companion descriptor: bad bLength: bLength 6, 7 bytes given"},
		{"raw mismatch", &RawDescriptor{}, []byte{4, 0x24, 1}, ErrLength, "usb: cs-interface descriptor: bad bLength: bLength 4, 3 bytes given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.into.UnmarshalBinary(tt.b)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if err.Error() != tt.msg {
				t.Fatalf("err = %q\nwant  %q", err, tt.msg)
			}
		})
	}
}

func TestParseDescriptors(t *testing.T) {
	// A configuration as a host reads it: config, interface, two endpoints.
	b := []byte{
		0x09, 0x02, 0x20, 0x00, 0x01, 0x01, 0x00, 0x80, 0x32, // config, wTotalLength 32
		0x09, 0x04, 0x00, 0x00, 0x02, 0xff, 0x00, 0x00, 0x00, // interface 0, 2 endpoints, vendor
		0x07, 0x05, 0x81, 0x02, 0x00, 0x02, 0x00, // ep1in bulk 512
		0x07, 0x05, 0x02, 0x02, 0x00, 0x02, 0x00, // ep2out bulk 512
	}
	ds, err := ParseDescriptors(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []Descriptor{
		ConfigDescriptor{TotalLength: 32, NumInterfaces: 1, ConfigurationValue: 1, Attributes: 0x80, MaxPower: 0x32},
		InterfaceDescriptor{NumEndpoints: 2, Class: ClassVendorSpecific},
		EndpointDescriptor{Address: 0x81, Attributes: 2, MaxPacketSize: 512},
		EndpointDescriptor{Address: 0x02, Attributes: 2, MaxPacketSize: 512},
	}
	if diff := cmp.Diff(want, ds); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	again, err := MarshalDescriptors(ds)
	if err != nil || !bytes.Equal(again, b) {
		t.Fatalf("MarshalDescriptors = % x, %v", again, err)
	}
	if e := ds[2].(EndpointDescriptor); e.TransferType() != Bulk || e.MaxPacket() != 512 || e.Transactions() != 1 {
		t.Fatalf("accessors: %s %d %d", e.TransferType(), e.MaxPacket(), e.Transactions())
	}

	_, err = ParseDescriptors(append(b[:len(b):len(b)], 0x07, 0x05, 0x83))
	if !errors.Is(err, ErrShort) || err.Error() != "at offset 32: usb: endpoint descriptor: descriptor truncated: bLength 7, 3 bytes left" {
		t.Fatalf("truncated tail: %v", err)
	}
	_, err = ParseDescriptors([]byte{0x01, 0x05})
	if !errors.Is(err, ErrLength) || err.Error() != "at offset 0: usb: endpoint descriptor: bad bLength: 1" {
		t.Fatalf("bLength 1: %v", err)
	}
}

func TestRawDescriptorTooLong(t *testing.T) {
	_, err := RawDescriptor{Type: TypeClassInterface, Data: make([]byte, 254)}.MarshalBinary()
	if !errors.Is(err, ErrLength) || err.Error() != "usb: cs-interface descriptor: bad bLength: 254 data bytes, at most 253 fit" {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseDescriptors(f *testing.F) {
	f.Add([]byte{0x09, 0x04, 0x00, 0x00, 0x02, 0xff, 0x00, 0x00, 0x00, 0x07, 0x05, 0x81, 0x02, 0x00, 0x02, 0x00})
	f.Add([]byte{0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x6b, 0x1d, 0x04, 0x01, 0x00, 0x01, 0x01, 0x02, 0x03, 0x01})
	f.Add([]byte{0x06, 0x30, 0x0f, 0x00, 0x00, 0x00, 0x05, 0x0f, 0x05, 0x00, 0x00, 0x03, 0x24, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := ParseDescriptors(b)
		if err != nil {
			return
		}
		again, err := MarshalDescriptors(ds)
		if err != nil {
			t.Fatalf("re-encoding a decoded sequence: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip:\n got % x\nwant % x", again, b)
		}
	})
}
