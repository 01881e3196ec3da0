//go:build cgo

package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/internal/usbtest"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// startShipped starts gadgetd's gadget package on configs/sourcesink.yaml,
// after edit (if any) changed the parsed file, with usbtest loaded with
// params, and returns the interface usbtest claimed.
func startShipped(t *testing.T, params string, edit func(*config.Personality)) (*gadget.Gadget, usbtest.Device) {
	t.Helper()
	guest.Require(t)
	if err := guest.LoadModule("usbtest", params); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := guest.UnloadModule("usbtest"); err != nil {
			t.Error(err)
		}
	})
	cfg, err := config.ParseFile(filepath.Join("..", "..", "configs", "sourcesink.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&cfg.Functions[0].FunctionFS.Personality)
	}
	cfg.StatusSocket = ""
	g, err := gadget.Start(cfg, gadget.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("gadget teardown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	serial := cfg.Gadget.Strings[0].Serial
	dev, err := usbtest.Wait(ctx, func(d usbtest.Device) bool { return d.Serial == serial })
	if err != nil {
		t.Fatal(err)
	}
	return g, dev
}

func runSuite(t *testing.T, dev usbtest.Device, suite []usbtest.Params) []usbtest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rs, err := usbtest.RunSuite(ctx, dev, suite)
	var b bytes.Buffer
	usbtest.WriteTable(&b, rs, true)
	t.Logf("usbtest against gadgetd sourcesink (%s):\n%s", dev.Path, b.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(suite) {
		t.Fatalf("%d results for %d tests", len(rs), len(suite))
	}
	return rs
}

// noPatternErrors fails t if the sink counted OUT data that broke its
// pattern.
func noPatternErrors(t *testing.T, g *gadget.Gadget) {
	t.Helper()
	for _, ep := range g.Status().Functions[0].Endpoints {
		if n := ep.Errors["pattern"]; n != 0 {
			t.Errorf("%s: %d OUT transfers broke the pattern (%s)", ep.Name, n, ep.LastError)
		}
	}
}

// TestSourceSinkTestusbAll is testusb -a, the kernel's usbtest loaded
// without parameters (pattern 0), against gadgetd serving the shipped
// configs/sourcesink.yaml as it is: every test passes or is one usbtest
// cannot run on this interface. usbtest binds 0525:a4a0 as gadget zero
// (autoconf, iso, interrupt, control writes, altsetting 0) and takes the
// endpoints of the first altsetting with a bulk pair: this function has
// no isochronous or interrupt endpoints, so the iso tests (15, 16, 22,
// 23) and interrupt tests (25, 26) are EOPNOTSUPP, as they are against
// the kernel's own SourceSink, which has no interrupt endpoints and keeps
// its isochronous ones on altsetting 1, which usbtest passes over (and
// which it drops on dummy_hcd, a UDC without isochronous endpoints). An
// altsetting 1 here would fail test 9 where f_fs has no get_alt: usbtest
// sets every altsetting, and the kernel stalls SET_INTERFACE 1.
// testusb -a's defaults (length 512, vary 512) make usbtest refuse the
// control write tests 14 and 21 (vary must be less than length), so those
// run after it with parameters usbtest accepts.
func TestSourceSinkTestusbAll(t *testing.T) {
	g, dev := startShipped(t, "", nil)
	if p, err := usbtest.GetPattern(); err != nil || p != usbtest.PatternZeros {
		t.Fatalf("usbtest's pattern without parameters: %v, %v; want zeros", p, err)
	}
	all, skipped := usbtest.AllTests(usbtest.DefaultParams())
	if len(skipped) != 2 {
		t.Errorf("testusb -a leaves out %v, want tests 14 and 21", skipped)
	}
	rs := runSuite(t, dev, all)
	unsupported := []int{15, 16, 22, 23, 25, 26}
	for _, r := range rs {
		want := usbtest.Passed
		if slices.Contains(unsupported, r.Params.Test) {
			want = usbtest.Unsupported
		}
		if r.Status != want {
			t.Errorf("test %d (%s) %+v: %s (%v), want %s", r.Params.Test, usbtest.Tests[r.Params.Test].Name, r.Params, r.Status, r.Err, want)
		}
	}
	// 100 iterations, not testusb's 1000: on a loaded machine one vendor
	// write in about a thousand found its data stage stale (EIDRM) in the
	// gadget and failed test 14 with EBADMSG; README "Known problems".
	for _, r := range runSuite(t, dev, []usbtest.Params{
		{Test: 14, Iterations: 100, Length: 1024, Vary: 63},
		{Test: 21, Iterations: 100, Length: 1024, Vary: 63},
	}) {
		if r.Status != usbtest.Passed {
			t.Errorf("test %d %+v: %s (%v)", r.Params.Test, r.Params, r.Status, r.Err)
		}
	}
	noPatternErrors(t, g)
}

// TestSourceSinkUsbtestMod63 runs the suite the kernel's SourceSink passes
// with usbtest's pattern=1 against the sourcesink switched to mod63
// (gadget zero's pattern=1): every read is checked against the pattern,
// and every write is checked by the sink. usbtest runs its performance
// tests 27 and 28 with pattern 0 only.
func TestSourceSinkUsbtestMod63(t *testing.T) {
	g, dev := startShipped(t, "pattern=1", func(p *config.Personality) { p.Pattern = config.PatternMod63 })
	for _, r := range runSuite(t, dev, usbtest.SourceSinkSuite()) {
		want := usbtest.Passed
		if r.Params.Test == 27 || r.Params.Test == 28 {
			want = usbtest.Unsupported
		}
		if r.Status != want {
			t.Errorf("test %d %+v: %s (%v), want %s", r.Params.Test, r.Params, r.Status, r.Err, want)
		}
	}
	noPatternErrors(t, g)
}
