package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetkit/gadgetkit/usb"
)

// FuzzParse checks that Parse never panics, that every error is a one-line
// *Error for the file, and that what it accepts keeps the promises the
// daemon relies on. Seeds: testdata/fuzz/FuzzParse, plus every example.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", bytes.NewReader(data))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), "f.yaml") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %T %q is not a one-line *Error for f.yaml", err, err)
			}
			return
		}
		checkInvariants(t, c)
	})
}

func checkInvariants(t *testing.T, c *Config) {
	if c.UDC == "" || len(c.Configurations) == 0 || checkName(c.Gadget.Name) != nil {
		t.Fatalf("accepted udc %q, %d configurations, gadget name %q", c.UDC, len(c.Configurations), c.Gadget.Name)
	}
	names := map[string]bool{}
	for _, f := range c.Functions {
		if names[f.Name] || checkName(f.Name) != nil {
			t.Fatalf("function name %q accepted twice or invalid", f.Name)
		}
		names[f.Name] = true
	}
	for _, cfg := range c.Configurations {
		if cfg.Number < 1 || cfg.Number > 255 || cfg.Attributes&0x80 == 0 {
			t.Fatalf("configuration %+v", cfg)
		}
		for _, name := range cfg.Functions {
			if !names[name] {
				t.Fatalf("configuration links undefined function %q", name)
			}
		}
	}
	for _, f := range c.Functions {
		ffs := f.FunctionFS
		if (f.Type == TypeFunctionFS) != (ffs != nil) {
			t.Fatalf("function %q of type %q: FunctionFS set = %v", f.Name, f.Type, ffs != nil)
		}
		if ffs == nil {
			continue
		}
		if len(ffs.Interfaces) == 0 || ffs.Personality.RequestSize < 1 || ffs.Personality.RequestSize > maxRequestSize {
			t.Fatalf("function %q: %d interfaces, request size %d", f.Name, len(ffs.Interfaces), ffs.Personality.RequestSize)
		}
		used := map[usb.EndpointAddress]bool{}
		for _, intf := range ffs.Interfaces {
			for _, ep := range intf.Endpoints {
				if n := ep.Address.Number(); n < 1 || n > 15 || used[ep.Address] {
					t.Fatalf("function %q: endpoint %v invalid or used twice", f.Name, ep.Address)
				}
				used[ep.Address] = true
				for _, s := range ffs.Speeds {
					v := map[usb.Speed]uint16{usb.SpeedFull: ep.MaxPacket.Full, usb.SpeedHigh: ep.MaxPacket.High,
						usb.SpeedSuper: ep.MaxPacket.Super}[s]
					if why := checkMaxPacket(ep.Type, s, v); why != "" {
						t.Fatalf("function %q: %v max packet %d at %v: %s", f.Name, ep.Address, v, s, why)
					}
				}
			}
		}
	}
}
