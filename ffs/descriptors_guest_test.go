package ffs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/vmtest/guest"
	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/google/go-cmp/cmp"
)

// kernelTestFunction uses most of what the encoder emits: an interface
// association, two interfaces with bulk (with SuperSpeed bursts) and
// interrupt endpoints, an extended compat ID, an extended property, and
// strings in two languages.
func kernelTestFunction() (*Descriptors, *Strings) {
	d := &Descriptors{
		Associations: []Association{{FirstInterface: 0, InterfaceCount: 2, Class: usb.ClassVendorSpecific, Name: 3}},
		Interfaces: []Interface{
			{
				Class: usb.ClassVendorSpecific, SubClass: 1, Protocol: 2, Name: 1,
				Endpoints: []Endpoint{
					{Address: usb.Address(1, usb.In), Type: usb.Bulk, MaxBurst: 3},
					{Address: usb.Address(2, usb.Out), Type: usb.Bulk, MaxPacketSize: 32, MaxBurst: 1},
					{Address: usb.Address(3, usb.In), Type: usb.Interrupt, MaxPacketSize: 16, Interval: 8 * time.Millisecond},
				},
				CompatibleID: "WINUSB",
			},
			{
				Class: usb.ClassVendorSpecific, Name: 2,
				Endpoints: []Endpoint{{Address: usb.Address(4, usb.Out), Type: usb.Bulk}},
				Properties: []Property{
					MultiStringProperty("DeviceInterfaceGUIDs", "{6e45736a-2b1b-4078-b772-b3af2b6fde5a}"),
				},
			},
		},
	}
	s := &Strings{Languages: []Language{
		{ID: usb.LangEnglishUS, Strings: []string{"gadgetkit data", "gadgetkit aux", "gadgetkit function"}},
		{ID: usb.LangGerman, Strings: []string{"gadgetkit Daten", "gadgetkit Hilfe", "gadgetkit Funktion"}},
	}}
	return d, s
}

// setupFFS creates a gadget with one FunctionFS function and OS descriptors
// enabled, writes the blobs to ep0 and returns the gadget. ep0 stays open
// until the test ends (closing every file unbinds the function).
func setupFFS(t *testing.T, inst string, descs, strs []byte) (*guest.Gadget, error) {
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{"ffs." + inst}})
	for _, w := range [][2]string{{"os_desc/use", "1"}, {"os_desc/b_vendor_code", "0xcd"}, {"os_desc/qw_sign", "MSFT100"}} {
		if err := g.Write(w[0], w[1]); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(g.Path, "os_desc", "c.1")
	if err := os.Symlink(filepath.Join(g.Path, "configs", "c.1"), link); err != nil {
		t.Fatal(err)
	}
	ep0, err := os.OpenFile(filepath.Join(g.FFS(inst), "ep0"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-registered first: close ep0 and drop the os_desc
	// link before the gadget's own removal.
	t.Cleanup(func() {
		g.Unbind()
		ep0.Close()
		os.Remove(link)
	})
	if _, err := ep0.Write(descs); err != nil {
		return g, WriteError("descriptors", descs, err)
	}
	if _, err := ep0.Write(strs); err != nil {
		return g, WriteError("strings", strs, err)
	}
	return g, nil
}

// TestKernelAcceptsDescriptors writes FS+HS+SS descriptors with companions,
// OS descriptors and two string languages to a real f_fs, binds the gadget
// to dummy_udc.0 at high speed and at SuperSpeed, and compares what the
// guest's own host side enumerated with what was written.
func TestKernelAcceptsDescriptors(t *testing.T) {
	guest.Require(t)
	d, s := kernelTestFunction()
	descs, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	strs, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.CheckStrings(s); err != nil {
		t.Fatal(err)
	}
	blob, err := d.Blob()
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		dummyArgs string
		hostSpeed string
		want      []usb.Descriptor
	}{
		{"high-speed", "", "480", blob.HighSpeed},
		{"super-speed", "is_super_speed=1", "5000", blob.SuperSpeed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dummyArgs != "" {
				if err := guest.ReloadDummyHCD(tc.dummyArgs); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := guest.ReloadDummyHCD(""); err != nil {
						t.Errorf("restore dummy_hcd: %v", err)
					}
				})
			}
			inst := "h1" + strings.ReplaceAll(tc.name, "-", "")
			g, err := setupFFS(t, inst, descs, strs)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range d.EndpointFiles() {
				if _, err := os.Stat(filepath.Join(g.FFS(inst), f.Name)); err != nil {
					t.Errorf("endpoint file for %s: %v", f.Address, err)
				}
			}
			if err := g.BindTo("dummy_udc.0"); err != nil {
				t.Fatal(err)
			}
			dev, err := guest.WaitHostDevice(g.Serial, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAttr(t, dev, "speed"); got != tc.hostSpeed {
				t.Fatalf("host sees speed %s, want %s", got, tc.hostSpeed)
			}
			raw, err := os.ReadFile(filepath.Join(dev, "descriptors"))
			if err != nil {
				t.Fatal(err)
			}
			all, err := usb.ParseDescriptors(raw)
			if err != nil {
				t.Fatalf("host descriptors: %v\n% x", err, raw)
			}
			if len(all) < 2 {
				t.Fatalf("host descriptors: %v", all)
			}
			if _, ok := all[0].(usb.DeviceDescriptor); !ok {
				t.Fatalf("host descriptors start with %v", all[0])
			}
			cfg, ok := all[1].(usb.ConfigDescriptor)
			if !ok || cfg.NumInterfaces != 2 {
				t.Fatalf("host config descriptor %+v", all[1])
			}
			got := all[2:]
			if diff := cmp.Diff(renumbered(tc.want), renumbered(got)); diff != "" {
				t.Fatalf("host sees other descriptors than written (-written +host):\n%s", diff)
			}
			seen := map[usb.EndpointAddress]bool{}
			for _, x := range got {
				if e, ok := x.(usb.EndpointDescriptor); ok {
					if n := e.Address.Number(); n < 1 || n > 15 || seen[e.Address] {
						t.Errorf("host endpoint address %s invalid or repeated", e.Address)
					}
					seen[e.Address] = true
				}
			}
			// The host reads strings in the first language, English.
			intf := filepath.Join(dev, filepath.Base(dev)+":1.1")
			if got := readAttr(t, intf, "interface"); got != s.Languages[0].Strings[1] {
				t.Errorf("interface 1 string %q, want %q", got, s.Languages[0].Strings[1])
			}
		})
	}
}

// TestKernelAgreesWithValidate writes class-specific descriptors that
// Validate accepts or rejects, bypassing it, and checks that f_fs decides
// the same way; a rejection comes back as a BlobError with EINVAL.
func TestKernelAgreesWithValidate(t *testing.T) {
	guest.Require(t)
	hid := []byte{0x09, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x20, 0x00}
	ccid := append([]byte{0x36, 0x21}, make([]byte, 52)...)
	dfu := []byte{0x09, 0x21, 0x0b, 0xff, 0x00, 0x00, 0x10, 0x10, 0x01}
	strs, err := (&Strings{Languages: []Language{{ID: usb.LangEnglishUS, Strings: []string{"x"}}}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		class    usb.Class
		subClass uint8
		desc     []byte
	}{
		{"cs-interface", usb.ClassVendorSpecific, 0, []byte{0x05, 0x24, 0x00, 0x10, 0x01}},
		{"hid", usb.ClassHID, 0, hid},
		{"hid-on-vendor", usb.ClassVendorSpecific, 0, hid},
		{"ccid", usb.ClassSmartCard, 0, ccid},
		{"dfu", usb.ClassApplication, 1, dfu},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := bulkLoopback()
			in := &d.Interfaces[0]
			in.Class, in.SubClass = tc.class, tc.subClass
			in.ClassDescriptors = [][]byte{tc.desc}
			valid := d.Validate()
			blob, err := d.Blob()
			if valid != nil {
				in.ClassDescriptors = nil
				if blob, err = d.Blob(); err != nil {
					t.Fatal(err)
				}
				raw := usb.RawDescriptor{Type: usb.DescriptorType(tc.desc[1]), Data: tc.desc[2:]}
				for _, set := range []*[]usb.Descriptor{&blob.FullSpeed, &blob.HighSpeed, &blob.SuperSpeed} {
					*set = append((*set)[:1:1], append([]usb.Descriptor{raw}, (*set)[1:]...)...)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			descs, err := blob.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			_, err = setupFFS(t, "h1"+strings.ReplaceAll(tc.name, "-", ""), descs, strs)
			switch {
			case valid == nil && err != nil:
				t.Fatalf("Validate accepts, the kernel rejects: %v", err)
			case valid != nil && err == nil:
				t.Fatalf("Validate rejects (%v), the kernel accepts", valid)
			case err != nil:
				var be *BlobError
				if !errors.As(err, &be) || be.Blob != "descriptors" || !errors.Is(err, syscall.EINVAL) {
					t.Fatalf("rejection %v, want the descriptors blob rejected with EINVAL", err)
				}
			}
		})
	}
}

// renumbered drops what f_fs and the composite framework renumber when
// the function binds: endpoint numbers (the UDC's autoconfig picks them)
// and string indexes (kept as present or absent).
func renumbered(ds []usb.Descriptor) []usb.Descriptor {
	out := make([]usb.Descriptor, len(ds))
	for i, x := range ds {
		switch v := x.(type) {
		case usb.EndpointDescriptor:
			v.Address = usb.EndpointAddress(v.Address.Direction())
			x = v
		case usb.InterfaceDescriptor:
			v.InterfaceIndex = min(v.InterfaceIndex, 1)
			x = v
		case usb.InterfaceAssociationDescriptor:
			v.FunctionIndex = min(v.FunctionIndex, 1)
			x = v
		}
		out[i] = x
	}
	return out
}

func readAttr(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
