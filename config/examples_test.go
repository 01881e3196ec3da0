package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gadgetkit/gadgetkit/usb"
)

// examplesDir holds the example gadget files, relative to this package.
const examplesDir = "../configs"

func parseFile(t *testing.T, path string) *Config {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(path, f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestExamples parses every file in configs/ and checks what each is for;
// a new example file fails here until it is checked too.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]func(t *testing.T, c *Config){
		"loopback.yaml":   checkLoopback,
		"sourcesink.yaml": checkSourceSink,
		"composite.yaml":  checkComposite,
		"abort.yaml":      checkAbort,
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			check, ok := checks[name]
			if !ok {
				t.Fatalf("%s has no check in TestExamples", file)
			}
			check(t, parseFile(t, file))
		})
	}
	for name := range checks {
		if !seen[name] {
			t.Errorf("%s is missing from %s", name, examplesDir)
		}
	}
}

func bulkPair(in, out int) []Endpoint {
	return []Endpoint{
		{Address: usb.Address(in, usb.In), Type: usb.Bulk, MaxPacket: MaxPacket{64, 512, 1024}, Transactions: 1},
		{Address: usb.Address(out, usb.Out), Type: usb.Bulk, MaxPacket: MaxPacket{64, 512, 1024}, Transactions: 1},
	}
}

var allSpeeds = []usb.Speed{usb.SpeedFull, usb.SpeedHigh, usb.SpeedSuper}

func checkLoopback(t *testing.T, c *Config) {
	want := &Config{
		Gadget: Gadget{
			Name: "gadgetkit-loopback", VendorID: 0x1d6b, ProductID: 0x0104, BCDDevice: 0x0100,
			Strings: []DeviceStrings{{Lang: 0x409, Manufacturer: "gadgetkit", Product: "gadgetkit loopback", Serial: "0001"}},
		},
		UDC: "auto",
		Configurations: []Configuration{{
			Number: 1, Attributes: 0x80, MaxPowerMA: 120,
			Strings:   []LangString{{0x409, "loopback"}},
			Functions: []string{"loop"},
		}},
		Functions: []Function{{
			Name: "loop", Type: TypeFunctionFS,
			FunctionFS: &FunctionFS{
				Mount:  Mount{Dir: "/dev/usb-ffs/loop", RMode: 0o600, FMode: 0o600},
				Speeds: allSpeeds,
				Interfaces: []Interface{{
					Class:     usb.ClassVendorSpecific,
					Name:      []LangString{{0x409, "gadgetkit loopback"}},
					Endpoints: bulkPair(1, 1),
				}},
				Personality: Personality{Kind: PersonalityLoopback, QueueDepth: 8, RequestSize: 16384},
			},
		}},
		StatusSocket: "/run/gadgetd/loopback.sock",
		Log:          Log{Format: "text", Level: "info"},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("loopback.yaml (-want +got):\n%s", diff)
	}
}

func checkSourceSink(t *testing.T, c *Config) {
	if c.Gadget.VendorID != 0x0525 || c.Gadget.ProductID != 0xa4a0 {
		t.Errorf("IDs %04x:%04x, want gadget zero's 0525:a4a0 so that usbtest binds", c.Gadget.VendorID, c.Gadget.ProductID)
	}
	if c.UDC != "dummy_udc.0" {
		t.Errorf("udc %q", c.UDC)
	}
	if got := c.Configurations[0]; got.Attributes != 0xc0 || got.MaxPowerMA != 0 {
		t.Errorf("configuration attributes %#x, max power %d; want 0xc0 (self powered), 0", got.Attributes, got.MaxPowerMA)
	}
	f := c.Functions[0].FunctionFS
	want := Mount{Dir: "/dev/usb-ffs/sourcesink", RMode: 0o755, FMode: 0o660}
	if f.Mount != want {
		t.Errorf("mount %+v, want %+v", f.Mount, want)
	}
	if diff := cmp.Diff(bulkPair(1, 1), f.Interfaces[0].Endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	wantP := Personality{Kind: PersonalitySourceSink, QueueDepth: 8, RequestSize: 64 << 10, Pattern: PatternZeros}
	if f.Personality != wantP {
		t.Errorf("personality %+v, want %+v", f.Personality, wantP)
	}
	if c.Log.Format != "json" || c.StatusSocket != "" {
		t.Errorf("log %+v, status socket %q", c.Log, c.StatusSocket)
	}
}

func checkComposite(t *testing.T, c *Config) {
	g := c.Gadget
	if g.Class != usb.ClassMiscellaneous || g.SubClass != 2 || g.Protocol != 1 {
		t.Errorf("device class %v/%d/%d, want miscellaneous/2/1 (IAD)", g.Class, g.SubClass, g.Protocol)
	}
	if len(g.Strings) != 2 || g.Strings[1].Lang != usb.LangGerman || g.Strings[1].Product != "gadgetkit Verbundgerät" {
		t.Errorf("strings %+v", g.Strings)
	}
	if diff := cmp.Diff(&OSDesc{VendorCode: 0xcd, Sign: "MSFT100", Configuration: 1}, g.OSDesc); diff != "" {
		t.Errorf("os_desc (-want +got):\n%s", diff)
	}
	if got := c.Configurations[0].Functions; !cmp.Equal(got, []string{"GS0", "vendor"}) {
		t.Errorf("configuration functions %q", got)
	}
	if acm := c.Functions[0]; acm.Type != TypeACM || acm.Name != "GS0" {
		t.Errorf("functions[0] %+v, want acm GS0", acm)
	}
	f := c.Functions[1].FunctionFS
	if f.Mount.UID != 1000 || f.Mount.GID != 1000 || f.Mount.FMode != 0o660 {
		t.Errorf("mount %+v", f.Mount)
	}
	intf := f.Interfaces[0]
	wantEP := append(bulkPair(1, 1), Endpoint{
		Address: usb.Address(2, usb.In), Type: usb.Interrupt, MaxPacket: MaxPacket{64, 64, 64},
		Interval: time.Millisecond, Transactions: 1,
	})
	if diff := cmp.Diff(wantEP, intf.Endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	if intf.CompatibleID != "WINUSB" {
		t.Errorf("compatible id %q", intf.CompatibleID)
	}
	wantProp := []Property{{Name: "DeviceInterfaceGUID", Type: PropSZ,
		Strings: []string{"{6e45736a-2b1b-4078-b772-b3af2b6fde1c}"}}}
	if diff := cmp.Diff(wantProp, intf.Properties); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	if got := langsOf(intf.Name); !cmp.Equal(got, []usb.LangID{0x407, 0x409}) {
		t.Errorf("interface name languages %v", got)
	}
}

func checkAbort(t *testing.T, c *Config) {
	f := c.Functions[0].FunctionFS
	if !cmp.Equal(f.Speeds, []usb.Speed{usb.SpeedHigh}) {
		t.Errorf("speeds %v, want high only", f.Speeds)
	}
	if got := f.Interfaces[0].Endpoints[0].MaxPacket.High; got != 512 {
		t.Errorf("max packet at high speed %d", got)
	}
	p := f.Personality
	want := &AbortOptions{Action: "cancel", Count: 1000, Records: "/run/gadgetd/abort.jsonl", Keep: 4096,
		Policies: []CancelPolicy{{After: 5 * time.Millisecond}}}
	if p.Kind != PersonalityAbort || p.QueueDepth != 16 || p.RequestSize != 65536 || !cmp.Equal(p.Abort, want) {
		t.Errorf("personality %+v, abort %+v", p, p.Abort)
	}
	if c.Configurations[0].Number != 1 || c.Configurations[0].Attributes != 0x80 {
		t.Errorf("configuration defaults: number %d, attributes %#x; want 1, 0x80",
			c.Configurations[0].Number, c.Configurations[0].Attributes)
	}
	if c.Log != (Log{Format: "json", Level: "debug"}) {
		t.Errorf("log %+v", c.Log)
	}
}
