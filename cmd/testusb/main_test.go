package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/usbtest"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

func execute(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd := newRoot(&o, &e)
	cmd.SetArgs(args)
	cmd.SetOut(&o)
	cmd.SetErr(&e)
	err = cmd.ExecuteContext(context.Background())
	return o.String(), e.String(), err
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "say which interfaces"},
		{[]string{"-a", "-t", "30"}, "test: 30 "},
		{[]string{"-a", "-t", "14"}, "vary: 512 must be less than length 512"},
		{[]string{"-a", "-c", "0"}, "iterations: "},
		{[]string{"-a", "-g", "129"}, "sglen: 129 "},
		{[]string{"--bind", "1d6b"}, `--bind: VID:PID "1d6b"`},
		{[]string{"--bind", "1d6b:0104", "--like", "x"}, `--like: VID:PID "x"`},
		{[]string{"-a", "--count", "-1"}, "count"},
		{[]string{"extra"}, "unknown command"},
		{[]string{"-a", "--pattern", "2"}, `--pattern: "2"`},
	} {
		_, _, err := execute(c.args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("testusb %q: %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
}

// In the guest: the kernel's SourceSink as gadget zero, driven through the
// command line, table and JSON.
func TestCommandSourceSink(t *testing.T) {
	guest.Require(t)
	if err := guest.LoadModule("usbtest", ""); err != nil {
		t.Fatal(err)
	}
	g := guest.NewGadget(t, guest.GadgetSpec{VID: usbtest.GadgetZero.Vendor, PID: usbtest.GadgetZero.Product, Functions: []string{"SourceSink.0"}})
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev, err := usbtest.Wait(ctx, func(d usbtest.Device) bool { return d.Serial == g.Serial })
	if err != nil {
		t.Fatal(err)
	}

	out, _, err := execute("-n")
	if err != nil || !strings.Contains(out, dev.Path) || !strings.Contains(out, g.Serial) {
		t.Errorf("-n: %v\n%s", err, out)
	}

	out, stderr, err := execute("-D", dev.Path, "-c", "20")
	t.Logf("all tests:\n%s%s", out, stderr)
	if err != nil {
		t.Errorf("all tests: %v", err)
	}
	for _, want := range []string{"  27    pass ", "  28    pass ", "unsupported test runs not shown"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}

	out, _, err = execute("-D", dev.Path, "-t", "28", "-c", "50", "-s", "65536", "-g", "8", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rs []map[string]any
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rs) != 1 || rs[0]["status"] != "pass" || rs[0]["bytes"] != float64(50*8*65536) || rs[0]["mb_per_s"].(float64) <= 0 {
		t.Errorf("test 28 JSON: %s", out)
	}

	// With the pattern that SourceSink does not source, reads fail; the
	// old pattern is back afterwards.
	out, _, err = execute("-D", dev.Path, "-t", "2", "-c", "5", "--pattern", "mod63")
	if !errors.Is(err, errFailed) || !strings.Contains(out, "broke its pattern") {
		t.Errorf("--pattern mod63 against zeros: %v\n%s", err, out)
	}
	if p, err := usbtest.GetPattern(); err != nil || p != usbtest.PatternZeros {
		t.Errorf("pattern after the run: %v, %v; want zeros back", p, err)
	}

	// A test the interface cannot run, asked for alone, is shown and
	// does not fail the run; a failing one does.
	out, _, err = execute("-D", dev.Path, "-t", "15", "-c", "1")
	if err != nil || !strings.Contains(out, "unsupported") {
		t.Errorf("-t 15: %v\n%s", err, out)
	}
	out, _, err = execute("-D", dev.Path, "-t", "14", "-c", "1", "-s", "8192", "-v", "1")
	if !errors.Is(err, errFailed) || !strings.Contains(out, "fail") {
		t.Errorf("-t 14 beyond SourceSink's ep0 buffer: %v\n%s", err, out)
	}
}
