//go:build cgo

package host

import (
	"strings"
	"testing"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/usb"
)

const loopbackYAML = `
gadget:
  name: lb
  vid: 0x1d6b
  pid: 0x0104
  bcd_device: 0x0100
  strings:
    0x409:
      manufacturer: gadgetkit
      product: gadgetkit loopback
      serial: "0001"
udc: auto
configurations:
  - max_power_ma: 120
    strings:
      0x409: loopback
    functions: [loop]
functions:
  - name: loop
    type: ffs
    interfaces:
      - class: vendor-specific
        name: gadgetkit loopback
        endpoints:
          - direction: in
            type: bulk
          - direction: out
            type: bulk
    personality:
      kind: loopback
`

// seenLoopback is what a host sees at high speed from loopbackYAML on a UDC
// that numbered the OUT endpoint 2.
func seenLoopback() *Snapshot {
	bulk := func(a usb.EndpointAddress) Endpoint {
		return Endpoint{EndpointDescriptor: usb.EndpointDescriptor{Address: a, Attributes: 2, MaxPacketSize: 512}}
	}
	return &Snapshot{
		Device: usb.DeviceDescriptor{USB: 0x0200, MaxPacketSize0: 64, Vendor: 0x1d6b, Product: 0x0104, Device: 0x0100,
			ManufacturerIndex: 1, ProductIndex: 2, SerialIndex: 3, NumConfigurations: 1},
		Configs: []Configuration{{
			ConfigDescriptor: usb.ConfigDescriptor{TotalLength: 32, NumInterfaces: 1, ConfigurationValue: 1, ConfigurationIndex: 4, Attributes: 0x80, MaxPower: 60},
			Interfaces: []AltSetting{{
				InterfaceDescriptor: usb.InterfaceDescriptor{NumEndpoints: 2, Class: 0xff, InterfaceIndex: 5},
				Endpoints:           []Endpoint{bulk(0x81), bulk(0x02)},
			}},
		}},
		Strings: map[usb.LangID]map[uint8]string{0x409: {1: "gadgetkit", 2: "gadgetkit loopback", 3: "0001", 4: "loopback", 5: "gadgetkit loopback"}},
	}
}

func TestExpectFromConfig(t *testing.T) {
	c, err := config.Parse("loopback.yaml", strings.NewReader(loopbackYAML))
	if err != nil {
		t.Fatal(err)
	}
	got := seenLoopback()
	want, err := Expect(c, got, usb.SpeedHigh)
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(want, got); len(d) != 0 {
		t.Errorf("the device made from the file differs from it: %v", d)
	}

	// Each deliberate change is named.
	changes := []struct {
		change func(s *Snapshot)
		path   string
	}{
		{func(s *Snapshot) { s.Device.Product = 0x0105 }, "device.idProduct"},
		{func(s *Snapshot) { s.Configs[0].MaxPower = 50 }, "config[1].bMaxPower"},
		{func(s *Snapshot) { s.Configs[0].Interfaces[0].Endpoints[1].MaxPacketSize = 64 }, "config[1].interface[0,0].endpoint[ep2out].wMaxPacketSize"},
		{func(s *Snapshot) { s.Configs[0].Interfaces[0].Endpoints[1].Attributes = 3 }, "config[1].interface[0,0].endpoint[ep2out].bmAttributes"},
		{func(s *Snapshot) { s.Configs[0].Interfaces[0].Class = 0x08 }, "config[1].interface[0,0].bInterfaceClass"},
		{func(s *Snapshot) { s.Strings[0x409][5] = "other" }, "strings[0x0409][5]"},
		{func(s *Snapshot) { s.Strings[0x409][3] = "0002" }, "strings[0x0409][3]"},
	}
	for _, ch := range changes {
		got := seenLoopback()
		ch.change(got)
		want, err := Expect(c, got, usb.SpeedHigh)
		if err != nil {
			t.Fatal(err)
		}
		d := Compare(want, got)
		if len(d) != 1 || d[0].Path != ch.path {
			t.Errorf("change at %s: diffs %v", ch.path, d)
		}
	}

	// At SuperSpeed the file asks for 1024-byte packets and companions.
	want, err = Expect(c, seenLoopback(), usb.SpeedSuper)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range Compare(want, seenLoopback()) {
		paths = append(paths, d.Path)
	}
	wantPaths := "config[1].bMaxPower config[1].interface[0,0].endpoint[ep1in].wMaxPacketSize config[1].interface[0,0].endpoint[ep1in].companion " +
		"config[1].interface[0,0].endpoint[ep2out].wMaxPacketSize config[1].interface[0,0].endpoint[ep2out].companion"
	if strings.Join(paths, " ") != wantPaths {
		t.Errorf("high-speed device against a SuperSpeed expectation: %v", paths)
	}
}

// bMaxPower is rounded down and capped as the kernel does.
func TestExpectMaxPower(t *testing.T) {
	tests := []struct {
		ma    string
		speed usb.Speed
		want  uint8
	}{
		{"100", usb.SpeedHigh, 50},
		{"100", usb.SpeedSuper, 12},  // 96 mA: 100/8 rounded down
		{"700", usb.SpeedHigh, 250},  // capped at 500 mA
		{"900", usb.SpeedSuper, 112}, // 896 mA
	}
	for _, tt := range tests {
		y := strings.Replace(loopbackYAML, "max_power_ma: 120", "max_power_ma: "+tt.ma, 1)
		c, err := config.Parse("lb.yaml", strings.NewReader(y))
		if err != nil {
			t.Fatal(err)
		}
		want, err := Expect(c, seenLoopback(), tt.speed)
		if err != nil {
			t.Fatal(err)
		}
		if got := want.Configs[0].MaxPower; got != tt.want {
			t.Errorf("%s mA at %v: bMaxPower %d, want %d", tt.ma, tt.speed, got, tt.want)
		}
	}
}

// Alternate settings of a file are expected as well: each with its own
// endpoints, and a setting the file lacks or changed is named.
func TestExpectAltSettings(t *testing.T) {
	text := strings.Replace(loopbackYAML, "    personality:\n", `        alt_settings:
          - endpoints:
              - {direction: in, type: interrupt, max_packet: 64, interval: 1ms}
              - {direction: out, type: interrupt, max_packet: 64, interval: 1ms}
    personality:
`, 1)
	c, err := config.Parse("alts.yaml", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	seen := func() *Snapshot {
		s := seenLoopback()
		intr := func(a usb.EndpointAddress) Endpoint {
			return Endpoint{EndpointDescriptor: usb.EndpointDescriptor{Address: a, Attributes: 3, MaxPacketSize: 64, Interval: 4}}
		}
		s.Configs[0].Interfaces = append(s.Configs[0].Interfaces, AltSetting{
			InterfaceDescriptor: usb.InterfaceDescriptor{AlternateSetting: 1, NumEndpoints: 2, Class: 0xff},
			Endpoints:           []Endpoint{intr(0x83), intr(0x04)},
		})
		return s
	}
	want, err := Expect(c, seen(), usb.SpeedHigh)
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(want, seen()); len(d) != 0 {
		t.Errorf("the device made from the file differs from it: %v", d)
	}
	got := seen()
	got.Configs[0].Interfaces[1].Endpoints[1].Attributes = 2
	want, err = Expect(c, got, usb.SpeedHigh)
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(want, got); len(d) != 1 || d[0].Path != "config[1].interface[0,1].endpoint[ep4out].bmAttributes" {
		t.Errorf("bulk where the file has interrupt on setting 1: %v", d)
	}
	got = seenLoopback()
	want, err = Expect(c, got, usb.SpeedHigh)
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(want, got); len(d) != 1 || !strings.Contains(d[0].Path, "interface[0,1]") {
		t.Errorf("a device without setting 1: %v", d)
	}
}
