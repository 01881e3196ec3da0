package ffs

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/gadgetkit/gadgetkit/usb"
)

func TestCheckAcceptsGoldens(t *testing.T) {
	for name, b := range map[string][]byte{"bulk": goldenBulk, "aio_simple": goldenAIOSimple, "os": goldenOS} {
		blob, err := ParseDescriptorBlob(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := blob.Check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCheckRules breaks one f_fs rule per case in a decoded blob and checks
// the exact error text.
func TestCheckRules(t *testing.T) {
	ep := func(n usb.EndpointAddress) usb.EndpointDescriptor {
		return usb.EndpointDescriptor{Address: n, Attributes: 2, MaxPacketSize: 64}
	}
	tests := []struct {
		name   string
		golden []byte
		break_ func(b *DescriptorBlob)
		msg    string
	}{
		{"unknown flags", goldenBulk, func(b *DescriptorBlob) { b.Flags |= 0x100 },
			"ffs: Flags: HAS_FS_DESC|HAS_HS_DESC|HAS_SS_DESC|0x100 has bits f_fs does not know (it answers ENOSYS)"},
		{"interface count", goldenBulk, func(b *DescriptorBlob) {
			in := b.HighSpeed[0].(usb.InterfaceDescriptor)
			in.Number = 1
			b.HighSpeed[0] = in
		}, "ffs: high-speed: interfaces: 2, but 1 at full-speed: every speed describes the same interfaces"},
		{"endpoint count", goldenBulk, func(b *DescriptorBlob) { b.HighSpeed = b.HighSpeed[:2] },
			"ffs: high-speed: endpoints: 1, but 2 at full-speed: every speed describes the same endpoints"},
		{"endpoint order", goldenBulk, func(b *DescriptorBlob) { b.HighSpeed[1], b.HighSpeed[2] = b.HighSpeed[2], b.HighSpeed[1] },
			"ffs: high-speed: endpoints: endpoint 0 is ep2out, but ep1in at full-speed: same addresses in the same order at every speed"},
		{"nothing", goldenBulk, func(b *DescriptorBlob) { b.FullSpeed, b.HighSpeed, b.SuperSpeed = nil, nil, nil },
			"ffs: descriptors: none at any speed"},
		{"endpoint 0", goldenBulk, func(b *DescriptorBlob) { b.FullSpeed[1] = ep(0x80) },
			"ffs: full-speed descriptor 1: bEndpointAddress: ep0in: endpoint 0 is not a data endpoint"},
		{"endpoint twice", goldenBulk, func(b *DescriptorBlob) { b.FullSpeed[2] = ep(0x81) },
			"ffs: full-speed descriptor 2: bEndpointAddress: ep1in described twice (f_fs fails the bind)"},
		{"class-specific", goldenBulk, func(b *DescriptorBlob) {
			b.FullSpeed[1] = usb.RawDescriptor{Type: usb.TypeClassInterface, Data: []byte{1}}
		}, "ffs: full-speed descriptor 1: bDescriptorType: cs-interface (0x24) is not accepted by f_fs here"},
		{"hid length", goldenBulk, func(b *DescriptorBlob) {
			in := b.FullSpeed[0].(usb.InterfaceDescriptor)
			in.Class = usb.ClassHID
			b.FullSpeed[0] = in
			b.FullSpeed[1] = usb.RawDescriptor{Type: usb.TypeHID, Data: []byte{1, 2, 3, 4, 5}}
		}, "ffs: full-speed descriptor 1: bLength: 7, f_fs requires 9 for hid"},
		{"config", goldenBulk, func(b *DescriptorBlob) { b.FullSpeed[0] = usb.ConfigDescriptor{} },
			"ffs: full-speed descriptor 0: bDescriptorType: config belongs to the gadget, not to a function"},
		{"bcdVersion", goldenOS, func(b *DescriptorBlob) { b.OS[0].BCDVersion = 0x0100 },
			"ffs: os descriptor 0: bcdVersion: 1.00: Linux 6.1 accepts only 0x0001 (later kernels also 0x0100)"},
		{"compat interface", goldenOS, func(b *DescriptorBlob) { b.OS[0].Compat[0].FirstInterface = 1 },
			"ffs: os descriptor 0: compat 0: bFirstInterfaceNumber 1, but the function has 1 interfaces"},
		{"compat reserved", goldenOS, func(b *DescriptorBlob) { b.OS[0].Compat[0].Reserved2[5] = 1 },
			"ffs: os descriptor 0: compat 0: Reserved2 00 00 00 00 00 01 must be zero"},
		{"compat count", goldenOS, func(b *DescriptorBlob) {
			for range 255 {
				b.OS[0].Compat = append(b.OS[0].Compat, b.OS[0].Compat[0])
			}
		}, "ffs: os descriptor 0: bCount: 256 compat sections, at most 255"},
		{"property interface", goldenOS, func(b *DescriptorBlob) { b.OS[1].Interface = 1 },
			"ffs: os descriptor 1: interface: 1, but the function has 1 interfaces"},
		{"property type", goldenOS, func(b *DescriptorBlob) { b.OS[1].Properties[0].Type = 9 },
			"ffs: os descriptor 1: property 0: dwPropertyDataType 9, f_fs accepts 1..7"},
		{"property size", goldenOS, func(b *DescriptorBlob) { b.OS[1].Properties[0].Data = make([]byte, 236) },
			"ffs: os descriptor 1: property 0: dwSize 256: f_fs keeps it in a byte, so at most 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseDescriptorBlob(tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			tt.break_(b)
			err = b.Check()
			var de *DescriptorError
			if !errors.As(err, &de) || err.Error() != tt.msg {
				t.Fatalf("Check() =\n%v\nwant\n%s", err, tt.msg)
			}
		})
	}
}

func TestBlobErrorNamesBrokenRule(t *testing.T) {
	b, err := ParseDescriptorBlob(goldenBulk)
	if err != nil {
		t.Fatal(err)
	}
	b.SuperSpeed = b.SuperSpeed[:3]
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	msg := WriteError("descriptors", data, syscall.EINVAL).Error()
	want := "breaks an f_fs rule: ffs: super-speed: endpoints: 1, but 2 at full-speed: every speed describes the same endpoints\n"
	if !strings.Contains(msg, want) {
		t.Fatalf("error lacks %q:\n%s", want, msg)
	}
}
