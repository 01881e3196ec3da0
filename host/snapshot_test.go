//go:build cgo

package host

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/google/go-cmp/cmp"
)

// fakeDevice answers standard GET_DESCRIPTOR and the MS OS vendor requests
// from tables, and stalls everything else, as a device does.
type fakeCtl struct {
	desc    map[[3]uint16][]byte // {type<<8|index, lang} -> bytes
	vendor  map[[2]uint16][]byte // {bRequest, wIndex} -> bytes
	control [][5]uint16
	fail    error // returned instead of a stall for a missing descriptor, when set
}

var errStall = fmt.Errorf("fake: %w", ErrStall)

func (f *fakeCtl) Control(rType, req uint8, val, idx uint16, data []byte) (int, error) {
	f.control = append(f.control, [5]uint16{uint16(rType), uint16(req), val, idx, uint16(len(data))})
	var b []byte
	var ok bool
	switch {
	case rType == 0x80 && req == 6:
		b, ok = f.desc[[3]uint16{val, idx}]
	case rType == 0xc0:
		b, ok = f.vendor[[2]uint16{uint16(req), idx}]
	}
	if !ok {
		if f.fail != nil {
			return 0, f.fail
		}
		return 0, errStall
	}
	return copy(data, b), nil
}

func stringDesc(s string) []byte {
	b := []byte{0, byte(usb.TypeString)}
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	b[0] = byte(len(b))
	return b
}

func marshal(t *testing.T, ds ...usb.Descriptor) []byte {
	t.Helper()
	b, err := usb.MarshalDescriptors(ds)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sourceSinkSnapshot is what the kernel's SourceSink function presents at
// high speed in a one-configuration gadget: a vendor interface, alt 0 with
// bulk IN/OUT, alt 1 adding isochronous endpoints.
func sourceSinkSnapshot() *Snapshot {
	bulk := func(a usb.EndpointAddress) Endpoint {
		return Endpoint{EndpointDescriptor: usb.EndpointDescriptor{Address: a, Attributes: 2, MaxPacketSize: 512}}
	}
	iso := func(a usb.EndpointAddress) Endpoint {
		return Endpoint{EndpointDescriptor: usb.EndpointDescriptor{Address: a, Attributes: 1, MaxPacketSize: 1024, Interval: 4}}
	}
	return &Snapshot{
		Device: usb.DeviceDescriptor{USB: 0x0200, MaxPacketSize0: 64, Vendor: 0x1d6b, Product: 0x0104, Device: 0x0100,
			ManufacturerIndex: 1, ProductIndex: 2, SerialIndex: 3, NumConfigurations: 1},
		Configs: []Configuration{{
			ConfigDescriptor: usb.ConfigDescriptor{TotalLength: 9 + 9 + 7 + 7 + 9 + 7*4, NumInterfaces: 1, ConfigurationValue: 1, ConfigurationIndex: 4, Attributes: 0x80, MaxPower: 1},
			Interfaces: []AltSetting{
				{InterfaceDescriptor: usb.InterfaceDescriptor{NumEndpoints: 2, Class: 0xff, InterfaceIndex: 5}, Endpoints: []Endpoint{bulk(0x81), bulk(0x01)}},
				{InterfaceDescriptor: usb.InterfaceDescriptor{AlternateSetting: 1, NumEndpoints: 4, Class: 0xff, InterfaceIndex: 5},
					Endpoints: []Endpoint{bulk(0x81), bulk(0x01), iso(0x82), iso(0x02)}},
			},
		}},
		Strings: map[usb.LangID]map[uint8]string{0x0409: {1: "gadgetkit", 2: "sourcesink", 3: "0001", 4: "ss config", 5: "source and sink data"}},
	}
}

// fakeFromSnapshot serves the descriptors of s.
func fakeFromSnapshot(t *testing.T, s *Snapshot) *fakeCtl {
	f := &fakeCtl{desc: map[[3]uint16][]byte{}, vendor: map[[2]uint16][]byte{}}
	dev := marshal(t, s.Device)
	f.desc[[3]uint16{0x0100, 0}] = dev
	for i, c := range s.Configs {
		ds := []usb.Descriptor{c.ConfigDescriptor}
		for _, a := range c.Interfaces {
			ds = append(ds, a.InterfaceDescriptor)
			for _, e := range a.Endpoints {
				ds = append(ds, e.EndpointDescriptor)
				if e.Companion != nil {
					ds = append(ds, *e.Companion)
				}
			}
		}
		f.desc[[3]uint16{0x0200 | uint16(i), 0}] = marshal(t, ds...)
	}
	langs := []byte{0, 3}
	for lang, m := range s.Strings {
		langs = binary.LittleEndian.AppendUint16(langs, uint16(lang))
		for i, str := range m {
			f.desc[[3]uint16{0x0300 | uint16(i), uint16(lang)}] = stringDesc(str)
		}
	}
	langs[0] = byte(len(langs))
	f.desc[[3]uint16{0x0300, 0}] = langs
	return f
}

func TestReadSnapshot(t *testing.T) {
	want := sourceSinkSnapshot()
	f := fakeFromSnapshot(t, want)
	got, err := ReadSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadSnapshot (-want +got):\n%s", diff)
	}
	if d := Compare(want, got); len(d) != 0 {
		t.Errorf("Compare of equal snapshots: %v", d)
	}
	// Every control request must have a data stage that fits wLength.
	for _, c := range f.control {
		if c[4] == 0 {
			t.Errorf("control request %v with no data stage", c)
		}
	}
}

func TestReadSnapshotMSOS1AndBOS(t *testing.T) {
	s := sourceSinkSnapshot()
	s.Device.USB = 0x0210
	f := fakeFromSnapshot(t, s)
	// BOS with a USB 2.0 extension capability (LPM) only.
	f.desc[[3]uint16{0x0f00, 0}] = []byte{5, 0x0f, 12, 0, 1, 7, 0x10, 0x02, 0x02, 0, 0, 0}
	sig := stringDesc("MSFT100")
	f.desc[[3]uint16{0x03ee, 0}] = append(sig, 0x21, 0)
	compat := make([]byte, 16+24)
	binary.LittleEndian.PutUint32(compat, uint32(len(compat)))
	compat[8] = 1
	compat[16] = 0 // bFirstInterfaceNumber
	copy(compat[18:], "WINUSB")
	f.vendor[[2]uint16{0x21, 4}] = compat
	got, err := ReadSnapshot(f)
	if err != nil {
		t.Fatal(err)
	}
	wantMS := &MSOS1{VendorCode: 0x21, CompatIDs: []MSCompatID{{CompatibleID: "WINUSB"}}}
	if diff := cmp.Diff(wantMS, got.MSOS1); diff != "" {
		t.Errorf("MSOS1 (-want +got):\n%s", diff)
	}
	wantBOS := []usb.RawDescriptor{{Type: usb.TypeDeviceCapability, Data: []byte{0x02, 0x02, 0, 0, 0}}}
	if diff := cmp.Diff(wantBOS, got.BOS); diff != "" {
		t.Errorf("BOS (-want +got):\n%s", diff)
	}
}

func TestCompareNamesFields(t *testing.T) {
	want := sourceSinkSnapshot()
	got := sourceSinkSnapshot()
	got.Device.Product = 0x0105
	got.Configs[0].Interfaces[1].Endpoints[2].MaxPacketSize = 512
	got.Configs[0].Interfaces[0].Endpoints = got.Configs[0].Interfaces[0].Endpoints[:1]
	got.Strings[0x0409][2] = "other"
	got.Configs[0].Interfaces[0].Endpoints[0].Companion = &usb.SSEndpointCompanionDescriptor{MaxBurst: 1}

	diffs := Compare(want, got)
	var paths []string
	for _, d := range diffs {
		paths = append(paths, d.String())
	}
	wantDiffs := []string{
		`device.idProduct: want 260 (0x104), got 261 (0x105)`,
		`config[1].interface[0,0].endpoint[ep1in].companion: want (absent), got present`,
		`config[1].interface[0,0].endpoint[ep1out]: want present, got (absent)`,
		`config[1].interface[0,1].endpoint[ep2in].wMaxPacketSize: want 1024 (0x400), got 512 (0x200)`,
		`strings[0x0409][2]: want "sourcesink", got "other"`,
	}
	if diff := cmp.Diff(wantDiffs, paths); diff != "" {
		t.Errorf("Compare (-want +got):\n%s", diff)
	}
	if d := Compare(want, got, "device.idProduct", "strings*", "config*"); len(d) != 0 {
		t.Errorf("Compare with everything different ignored: %v", d)
	}
}

// A Snapshot survives JSON (hosttest dump, verify --expect).
func TestSnapshotJSON(t *testing.T) {
	s := sourceSinkSnapshot()
	s.Configs[0].Interfaces[0].Endpoints[0].Companion = &usb.SSEndpointCompanionDescriptor{MaxBurst: 15}
	s.MSOS1 = &MSOS1{VendorCode: 1, CompatIDs: []MSCompatID{{CompatibleID: "WINUSB"}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := Compare(s, &back); len(d) != 0 {
		t.Errorf("after JSON: %v", d)
	}
	if !strings.Contains(string(b), `"1033":{"1":"gadgetkit"`) {
		t.Errorf("strings not keyed by language and index: %s", b)
	}
}

func TestParseConfigErrors(t *testing.T) {
	ep := marshal(t, usb.EndpointDescriptor{Address: 0x81, Attributes: 2, MaxPacketSize: 512})
	cfg := marshal(t, usb.ConfigDescriptor{TotalLength: 9 + 7, ConfigurationValue: 1})
	if _, err := ParseConfiguration(append(cfg, ep...)); err == nil || !strings.Contains(err.Error(), "before any interface") {
		t.Errorf("endpoint before interface: %v", err)
	}
	cfg = marshal(t, usb.ConfigDescriptor{TotalLength: 99, ConfigurationValue: 1})
	if _, err := ParseConfiguration(cfg); err == nil || !strings.Contains(err.Error(), "wTotalLength 99") {
		t.Errorf("wrong wTotalLength: %v", err)
	}
}

// A composite gadget with a second language: kernel functions have en-US
// strings only, so the device stalls those indices in German. The snapshot
// records the holes instead of failing, and a broken device still fails.
func TestReadSnapshotStringHoles(t *testing.T) {
	want := sourceSinkSnapshot()
	want.Strings[0x0407] = map[uint8]string{1: "gadgetkit", 2: "Quelle", 3: "0001", 4: "Konfig"}
	want.MissingStrings = map[usb.LangID][]uint8{0x0407: {5}}
	got, err := ReadSnapshot(fakeFromSnapshot(t, want))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadSnapshot (-want +got):\n%s", diff)
	}

	broken := fakeFromSnapshot(t, want)
	delete(broken.desc, [3]uint16{0x0302, 0x0409})
	broken.fail = errors.New("libusb: i/o error")
	if _, err := ReadSnapshot(broken); err == nil || !strings.Contains(err.Error(), "i/o error") {
		t.Fatalf("a non-stall error reading a string: %v, want it returned", err)
	}
}
