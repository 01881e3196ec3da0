package bench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gadgetkit/gadgetkit/config"
)

// The gadgetd files the sweep writes are valid gadget files with the
// requested personality, queue and request size.
func TestGadgetdFileParses(t *testing.T) {
	for _, c := range []struct {
		kind, pattern string
	}{{"sourcesink", "      pattern: zeros\n"}, {"loopback", ""}} {
		body := fmt.Sprintf(gadgetdFile, "bench-x-1", benchVID, benchPID, "gadgetd-"+c.kind, "x-1", "dummy_udc.1",
			"/dev/usb-ffs/bench-x-1", c.kind, 16, 65536, c.pattern)
		cfg, err := config.Parse("bench.yaml", strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.kind, err, body)
		}
		if len(cfg.Functions) != 1 || cfg.Functions[0].FunctionFS == nil || cfg.Functions[0].Name != "bench-x-1" {
			t.Fatalf("%s: functions %+v, want one ffs function bench-x-1", c.kind, cfg.Functions)
		}
		p := cfg.Functions[0].FunctionFS.Personality
		if string(p.Kind) != c.kind || p.QueueDepth != 16 || p.RequestSize != 65536 {
			t.Errorf("%s: personality %+v, want kind %s, queue 16, request size 65536", c.kind, p, c.kind)
		}
	}
}
