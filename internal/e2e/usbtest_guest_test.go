//go:build cgo

package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/internal/config"
	"github.com/gadgetkit/gadgetkit/internal/usbtest"
	"github.com/gadgetkit/gadgetkit/internal/vmtest/guest"
)

// TestSourceSinkUsbtest runs the kernel's usbtest driver against gadgetd's
// sourcesink personality (configs/sourcesink.yaml has gadget zero's IDs, so
// usbtest binds it as gadget zero) with the suite the kernel's own
// SourceSink passes: gadget zero compatibility, proven by gadget zero's
// own host driver. usbtest checks data with its pattern=1 (mod63), the
// file's pattern.
func TestSourceSinkUsbtest(t *testing.T) {
	guest.Require(t)
	if err := guest.LoadModule("usbtest", "pattern=1"); err != nil {
		t.Fatal(err)
	}
	defer guest.UnloadModule("usbtest")
	path := filepath.Join("..", "..", "configs", "sourcesink.yaml")
	cfg, err := config.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Functions[0].FunctionFS.Personality.Pattern != config.PatternMod63 {
		t.Fatalf("configs/sourcesink.yaml no longer uses pattern mod63, which this test loads usbtest with")
	}
	cfg.StatusSocket = ""
	g, err := gadget.Start(cfg, gadget.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Close(); err != nil {
			t.Errorf("gadget teardown: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	serial := cfg.Gadget.Strings[0].Serial
	dev, err := usbtest.Wait(ctx, func(d usbtest.Device) bool { return d.Serial == serial })
	if err != nil {
		t.Fatal(err)
	}
	// usbtest runs its performance tests 27 and 28 only with pattern=0
	// (they skip the data check): those go last, with the parameter
	// switched.
	var checked, perf []usbtest.Params
	for _, p := range usbtest.SourceSinkSuite() {
		if p.Test == 27 || p.Test == 28 {
			perf = append(perf, p)
		} else {
			checked = append(checked, p)
		}
	}
	run := func(suite []usbtest.Params) {
		rs, err := usbtest.RunSuite(ctx, dev, suite)
		var b bytes.Buffer
		usbtest.WriteTable(&b, rs, true)
		t.Logf("usbtest against gadgetd sourcesink (%s):\n%s", dev.Path, b.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Status != usbtest.Passed {
				t.Errorf("test %d %+v: %s: %v", r.Params.Test, r.Params, r.Status, r.Err)
			}
		}
		if len(rs) != len(suite) {
			t.Errorf("%d results for %d tests", len(rs), len(suite))
		}
	}
	run(checked)
	for _, ep := range g.Status().Functions[0].Endpoints {
		if n := ep.Errors["pattern"]; n != 0 {
			t.Errorf("%s: %d OUT transfers broke the pattern (%s)", ep.Name, n, ep.LastError)
		}
	}
	// Tests 27 and 28 send zeros, which the sink counts as pattern errors
	// without failing them (gadget zero would halt the endpoint).
	if err := os.WriteFile("/sys/module/usbtest/parameters/pattern", []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	run(perf)
}
