package gadget

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/usb"
)

func parse(t *testing.T, name, text string) *config.Config {
	t.Helper()
	c, err := config.Parse(name, strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parseFile(t *testing.T, name string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, name, string(b))
}

const twoInterfaces = `
gadget: {name: g, vid: 0x1234, pid: 0x5678, strings: {0x409: {serial: "7"}}}
udc: auto
configurations:
  - functions: [f]
    strings: {0x409: cfg}
functions:
  - name: f
    type: ffs
    speeds: [full, high]
    interfaces:
      - name: {0x409: first, 0x407: erste}
        endpoints:
          - {direction: in, type: bulk}
          - {direction: out, type: bulk, max_packet: {full: 32, high: 512}}
      - class: 0x03
        endpoints:
          - {direction: in, type: interrupt, max_packet: 8, interval: 4ms}
      - name: {0x409: third, 0x407: dritte}
    personality: {kind: sourcesink, pattern: mod63}
`

func TestDescriptors(t *testing.T) {
	c := parse(t, "two.yaml", twoInterfaces)
	d, s, err := c.Functions[0].FunctionFS.Descriptors()
	if err != nil {
		t.Fatal(err)
	}
	want := &ffs.Descriptors{
		Speeds: []usb.Speed{usb.SpeedFull, usb.SpeedHigh},
		// sourcesink answers gadget zero's device-recipient vendor requests.
		Flags: ffs.FlagAllCtrlRecip,
		Interfaces: []ffs.Interface{
			{Class: usb.ClassVendorSpecific, Name: 1, Endpoints: []ffs.Endpoint{
				{Address: usb.Address(1, usb.In), Type: usb.Bulk, MaxPacketSize: 64},
				{Address: usb.Address(1, usb.Out), Type: usb.Bulk, MaxPacketSize: 32},
			}},
			{Class: 0x03, Endpoints: []ffs.Endpoint{
				{Address: usb.Address(2, usb.In), Type: usb.Interrupt, MaxPacketSize: 8, Interval: 4e6, Transactions: 1},
			}},
			{Class: usb.ClassVendorSpecific, Name: 2},
		},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("descriptors (-want +got):\n%s", diff)
	}
	wantStrings := &ffs.Strings{Languages: []ffs.Language{
		{ID: 0x409, Strings: []string{"first", "third"}},
		{ID: 0x407, Strings: []string{"erste", "dritte"}},
	}}
	if diff := cmp.Diff(wantStrings, s); diff != "" {
		t.Errorf("strings (-want +got):\n%s", diff)
	}
}

func TestDescriptorsOfEveryConfig(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no configs/*.yaml")
	}
	for _, path := range files {
		c := parseFile(t, filepath.Base(path))
		for _, f := range c.Functions {
			if f.FunctionFS == nil {
				continue
			}
			d, s, err := f.FunctionFS.Descriptors()
			if err != nil {
				t.Errorf("%s: %s: %v", path, f.Name, err)
				continue
			}
			// The blobs must encode: that is what ep0 is given.
			if _, err := d.MarshalBinary(); err != nil {
				t.Errorf("%s: %s: descriptors: %v", path, f.Name, err)
			}
			if _, err := s.MarshalBinary(); err != nil {
				t.Errorf("%s: %s: strings: %v", path, f.Name, err)
			}
		}
		if err := Tree(c).Validate(); err != nil {
			t.Errorf("%s: tree: %v", path, err)
		}
	}
}

func TestTree(t *testing.T) {
	c := parseFile(t, "loopback.yaml")
	g := Tree(c)
	want := &configfs.Gadget{
		Name:      "gadgetkit-loopback",
		VendorID:  0x1d6b,
		ProductID: 0x0104,
		BCDDevice: 0x0100,
		Strings:   []configfs.DeviceStrings{{Lang: 0x409, Manufacturer: "gadgetkit", Product: "gadgetkit loopback", SerialNumber: "0001"}},
		Functions: []configfs.Function{configfs.FunctionFS("loop")},
		Configs: []configfs.Config{{Number: 1, Attributes: 0x80, MaxPowerMA: 120,
			Strings: []configfs.ConfigStrings{{Lang: 0x409, Configuration: "loopback"}}, Functions: []string{"ffs.loop"}}},
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("tree of configs/loopback.yaml (-want +got):\n%s", diff)
	}
}

func TestCheckAbortActions(t *testing.T) {
	c := parseFile(t, "abort.yaml")
	if err := Check(c); err != nil {
		t.Fatalf("abort.yaml (action cancel): %v", err)
	}
	c.Functions[0].FunctionFS.Personality.Abort.Action = "halt"
	err := Check(c)
	if err == nil || !strings.Contains(err.Error(), "functions[0] (abort): personality.abort.action: \"halt\"") {
		t.Fatalf("Check with action halt = %v, want an error naming functions[0] (abort): personality.abort.action", err)
	}
}
