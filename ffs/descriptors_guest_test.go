package ffs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
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
					StringProperty("DeviceInterfaceGUID", "{6e45736a-2b1b-4078-b772-b3af2b6fde5a}"),
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
			checkMSOS(t, dev, d)
		})
	}
}

// TestKernelAgreesWithValidate writes class-specific descriptors that
// Validate accepts or rejects, bypassing it, and checks that f_fs (and
// DescriptorBlob.Check) decide the same way; a rejection comes back as a
// BlobError with EINVAL.
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
			checked := blob.Check()
			switch {
			case checked == nil && err != nil:
				t.Errorf("DescriptorBlob.Check() accepts, the kernel rejects: %v", err)
			case valid == nil && err != nil:
				t.Fatalf("Validate accepts, the kernel rejects: %v", err)
			case valid != nil && err == nil && checked != nil:
				// Check and Validate keep the rules of every kernel the
				// toolkit runs on: 5.10 and 6.1 refuse a DFU functional
				// descriptor, later kernels take it. Refusing what this
				// kernel would take is portable, not wrong; the rejection
				// is pinned on the kernels that make it.
				t.Skipf("this kernel accepts what Check refuses (%v): a rule of older kernels", checked)
			case (checked == nil) != (err == nil) || valid != nil && err == nil:
				t.Fatalf("Validate = %v, Check = %v, the kernel accepts", valid, checked)
			case err != nil:
				var be *BlobError
				if !errors.As(err, &be) || be.Blob != "descriptors" || !errors.Is(err, syscall.EINVAL) {
					t.Fatalf("rejection %v, want the descriptors blob rejected with EINVAL", err)
				}
			}
		})
	}
}

// msVendorCode is the gadget's os_desc/b_vendor_code in setupFFS.
const msVendorCode = 0xcd

// TestKernelOSBCDVersion pins why the encoder writes bcdVersion 0x0001:
// Linux 5.10 and 6.1 refuse the spec's 0x0100 (6.12 and 7.2 take both), and
// DescriptorBlob.Check says so; on the later kernels the refusal is a skip
// that says so.
func TestKernelOSBCDVersion(t *testing.T) {
	guest.Require(t)
	d, s := kernelTestFunction()
	strs, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, bcd := range []usb.BCD{0x0001, 0x0100} {
		t.Run(bcd.String(), func(t *testing.T) {
			blob, err := d.Blob()
			if err != nil {
				t.Fatal(err)
			}
			for k := range blob.OS {
				blob.OS[k].BCDVersion = bcd
			}
			descs, err := blob.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			_, err = setupFFS(t, fmt.Sprintf("h1bcd%04x", uint16(bcd)), descs, strs)
			checked := blob.Check()
			if checked == nil && err != nil {
				t.Fatalf("Check() accepts, the kernel rejects: %v", err)
			}
			if checked != nil && err == nil {
				// 6.1 (and 5.10) refuse 0x0100; later kernels take it.
				// Check keeps the older kernels' rule, pinned where they run.
				t.Skipf("this kernel accepts what Check refuses (%v): a rule of older kernels", checked)
			}
			if bcd == osBCDVersion && err != nil {
				t.Fatalf("the kernel rejects the encoder's bcdVersion: %v", err)
			}
		})
	}
}

// hostDevice is the guest's host side of an enumerated gadget, through
// usbfs.
type hostDevice struct{ fd int }

func openHostDevice(t *testing.T, dev string) *hostDevice {
	t.Helper()
	node := fmt.Sprintf("/dev/bus/usb/%03s/%03s", readAttr(t, dev, "busnum"), readAttr(t, dev, "devnum"))
	fd, err := unix.Open(node, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &hostDevice{fd: fd}
}

// in performs an IN control transfer of at most size bytes.
func (h *hostDevice) in(rt, req uint8, value, index uint16, size int) ([]byte, error) {
	buf := make([]byte, size)
	n, err := linux.USBControl(h.fd, rt, req, value, index, buf, 2000)
	if err != nil {
		return nil, fmt.Errorf("control %#02x %#02x %#04x %#04x: %w", rt, req, value, index, err)
	}
	return buf[:n], nil
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// wantExtProps is the extended properties descriptor the host should
// read for props: names and string data widened to UTF-16LE.
func wantExtProps(props []Property) []byte {
	want := []byte{0, 0, 0, 0, 0x00, 0x01, 0x05, 0x00} // dwLength (below), bcdVersion 1.00, wIndex 5
	want = binary.LittleEndian.AppendUint16(want, uint16(len(props)))
	for _, p := range props {
		name := utf16le(p.Name + "\x00")
		data := p.Data
		if p.Type != PropBinary {
			data = utf16le(string(p.Data))
		}
		want = binary.LittleEndian.AppendUint32(want, uint32(14+len(name)+len(data)))
		want = binary.LittleEndian.AppendUint32(want, uint32(p.Type))
		want = binary.LittleEndian.AppendUint16(want, uint16(len(name)))
		want = append(want, name...)
		want = binary.LittleEndian.AppendUint32(want, uint32(len(data)))
		want = append(want, data...)
	}
	binary.LittleEndian.PutUint32(want, uint32(len(want)))
	return want
}

// checkMSOS reads the Microsoft OS descriptors as Windows would: the 0xEE
// string, the extended compat ID descriptor (device recipient, wIndex 4)
// and each interface's extended properties (interface recipient, wValue the
// interface, wIndex 5), and compares them byte for byte with d.
func checkMSOS(t *testing.T, dev string, d *Descriptors) {
	t.Helper()
	h := openHostDevice(t, dev)
	sig, err := h.in(0x80, 0x06, 0x03ee, 0, 18)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]byte{18, 3}, utf16le("MSFT100")...), msVendorCode, 0); !bytes.Equal(sig, want) {
		t.Fatalf("OS string descriptor % x, want % x", sig, want)
	}

	n := len(d.Interfaces)
	want := binary.LittleEndian.AppendUint32(nil, uint32(16+24*n)) // dwLength
	want = append(want, 0x00, 0x01, 0x04, 0x00, byte(n))           // bcdVersion 1.00, wIndex 4, bCount
	want = append(want, make([]byte, 7)...)
	for i, in := range d.Interfaces {
		sec := make([]byte, 24)
		sec[0], sec[1] = byte(i), 1 // bFirstInterfaceNumber, Reserved1
		copy(sec[2:10], in.CompatibleID)
		copy(sec[10:18], in.SubCompatibleID)
		want = append(want, sec...)
	}
	compat, err := h.in(0xc0, msVendorCode, 0, 4, len(want))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compat, want) {
		t.Errorf("extended compat ID descriptor:\n got % x\nwant % x", compat, want)
	}

	for i, in := range d.Interfaces {
		if len(in.Properties) == 0 {
			continue
		}
		want := wantExtProps(in.Properties)
		got, err := h.in(0xc1, msVendorCode, uint16(i), 5, len(want))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("interface %d extended properties:\n got % x\nwant % x", i, got, want)
		}
	}
}

// TestKernelPropertyTypes writes one extended property of each type,
// bypassing Validate where it refuses, and checks that the host receives
// exactly the types Validate accepts and gets a stall for the others.
func TestKernelPropertyTypes(t *testing.T) {
	guest.Require(t)
	for _, p := range []Property{
		StringProperty("DeviceInterfaceGUID", "{6e45736a-2b1b-4078-b772-b3af2b6fde5a}"),
		{Name: "Path", Type: PropExpandString, Data: []byte("%SystemRoot%\\x\x00")},
		{Name: "Blob", Type: PropBinary, Data: []byte{0, 1, 2, 0xff}},
		{Name: "Link", Type: PropLink, Data: []byte("\\??\\C:\x00")},
		{Name: "Count", Type: PropDWordLittleEndian, Data: []byte{1, 0, 0, 0}},
		{Name: "Count", Type: PropDWordBigEndian, Data: []byte{0, 0, 0, 1}},
		{Name: "DeviceInterfaceGUIDs", Type: PropMultiString, Data: []byte("{6e45736a-2b1b-4078-b772-b3af2b6fde5a}\x00\x00")},
	} {
		t.Run(p.Type.String(), func(t *testing.T) {
			d, s := kernelTestFunction()
			d.Interfaces[1].Properties = []Property{p}
			valid := d.Validate()
			d.Interfaces[1].Properties = nil
			blob, err := d.Blob()
			if err != nil {
				t.Fatal(err)
			}
			prop := ExtProp{Type: p.Type, Name: []byte(p.Name + "\x00"), Data: p.Data}
			blob.OS = append(blob.OS, OSDescriptor{Interface: 1, BCDVersion: osBCDVersion, Index: osIndexExtProp,
				Length: uint32(osHeaderSize + extPropFixedSize + len(prop.Name) + len(prop.Data)), Properties: []ExtProp{prop}})
			descs, err := blob.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			strs, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			g, err := setupFFS(t, "h1prop"+strings.ToLower(strings.ReplaceAll(p.Type.String(), "_", "")), descs, strs)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.BindTo("dummy_udc.0"); err != nil {
				t.Fatal(err)
			}
			dev, err := guest.WaitHostDevice(g.Serial, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := wantExtProps([]Property{p})
			got, err := openHostDevice(t, dev).in(0xc1, msVendorCode, 1, 5, len(want))
			switch {
			case valid == nil && err != nil:
				t.Fatalf("Validate accepts, the host cannot read it: %v", err)
			case valid == nil && !bytes.Equal(got, want):
				t.Fatalf("host reads\n% x\nwant\n% x", got, want)
			case valid != nil && !errors.Is(err, syscall.EPIPE):
				t.Fatalf("Validate rejects (%v), the host's request gives % x, %v (want a stall)", valid, got, err)
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
