//go:build cgo

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// kernelGadget builds and binds a gadget with one kernel function (fn is
// "SourceSink" or "Loopback") and waits until the host has enumerated it.
func kernelGadget(t *testing.T, fn string, attrs map[string]string) *guest.Gadget {
	t.Helper()
	guest.Require(t)
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{fn + ".0"}})
	// Function attributes are busy while linked; NewGadget links at once.
	link := filepath.Join(g.Path, "configs/c.1", fn+".0")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	for k, v := range attrs {
		if err := g.Write("functions/"+fn+".0/"+k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(g.Path, "functions", fn+".0"), link); err != nil {
		t.Fatal(err)
	}
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	if _, err := guest.WaitHostDevice(g.Serial, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return g
}

// gadgetFile is the gadget config file guest.NewGadget's defaults amount to.
func gadgetFile(t *testing.T, serial, pid, fn string) string {
	y := `gadget:
  name: g
  vid: 0x1d6b
  pid: ` + pid + `
  strings:
    0x409:
      manufacturer: gadgetkit
      product: gadgetkit test gadget
      serial: "` + serial + `"
udc: auto
configurations:
  - max_power_ma: 100
    strings:
      0x409: test
    functions: [f]
functions:
  - name: f
    type: ` + fn + `
`
	p := filepath.Join(t.TempDir(), "gadget.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func expectExit(t *testing.T, want int, args ...string) (stdout string) {
	t.Helper()
	start := time.Now()
	code, stdout, stderr := runArgs(t, args...)
	t.Logf("hosttest %s: exit %d after %v\n%s%s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), stdout, stderr)
	if code != want {
		t.Errorf("hosttest %v: exit %d, want %d", args, code, want)
	}
	return stdout
}

func TestGuestCLISourceSink(t *testing.T) {
	g := kernelGadget(t, "SourceSink", map[string]string{"pattern": "1"})
	sel := []string{"--serial", g.Serial, "--timeout", "60s"}
	with := func(args ...string) []string { return append(append([]string{}, sel...), args...) }

	expectExit(t, exitOK, with("verify", "-c", gadgetFile(t, g.Serial, "0x0104", "SourceSink"))...)
	out := expectExit(t, exitCheck, with("verify", "-c", gadgetFile(t, g.Serial, "0x0105", "SourceSink"))...)
	if !strings.Contains(out, "device.idProduct: want 261 (0x105), got 260 (0x104)") {
		t.Errorf("verify of a changed idProduct does not name it: %q", out)
	}

	dump := filepath.Join(t.TempDir(), "dump.json")
	if err := os.WriteFile(dump, []byte(expectExit(t, exitOK, with("dump")...)), 0o644); err != nil {
		t.Fatal(err)
	}
	expectExit(t, exitOK, with("verify", "--expect", dump)...)

	out = expectExit(t, exitOK, with("bench", "--json", "--dir", "both", "--size", "16K", "--duration", "700ms", "--pattern", "mod63/512", "--check")...)
	var r host.BenchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench --json output: %v", err)
	}
	if r.In == nil || r.Out == nil || r.In.Transfers == 0 || r.Out.Transfers == 0 || r.RequestSize != 16384 {
		t.Errorf("bench --json: %+v", r)
	}
	expectExit(t, exitCheck, with("bench", "--dir", "in", "--bytes", "64K", "--duration", "0s", "--pattern", "zero", "--check")...)

	expectExit(t, exitOK, with("abort", "--function", "sourcesink", "--pattern", "mod63/512")...)

	// Gadget zero's control test buffer: 0x5b writes it, 0x5c reads it back.
	expectExit(t, exitOK, with("ctrl", "--type", "vendor", "--dir", "out", "--request", "0x5b", "--data", "de ad be ef")...)
	out = expectExit(t, exitOK, with("ctrl", "--type", "vendor", "--dir", "in", "--request", "0x5c", "--length", "4")...)
	if !strings.Contains(out, "4 bytes: deadbeef") {
		t.Errorf("ctrl 0x5c after 0x5b: %q", out)
	}
	// An unknown vendor request stalls: exit 5 with the request named.
	expectExit(t, exitError, with("ctrl", "--type", "vendor", "--dir", "in", "--request", "0x42", "--length", "4")...)
}

func TestGuestCLILoopback(t *testing.T) {
	g := kernelGadget(t, "Loopback", nil)
	sel := []string{"--serial", g.Serial, "--timeout", "90s"}
	with := func(args ...string) []string { return append(append([]string{}, sel...), args...) }

	expectExit(t, exitOK, with("verify", "-c", gadgetFile(t, g.Serial, "0x0104", "Loopback"))...)
	expectExit(t, exitOK, with("loopback")...)
	expectExit(t, exitOK, with("bench", "--dir", "both", "--size", "4K", "--duration", "500ms")...)
	udcFile := filepath.Join(g.Path, "UDC")
	expectExit(t, exitOK, with("abort",
		"--disconnect-cmd", "echo > "+udcFile,
		"--connect-cmd", "echo "+g.UDC()+" > "+udcFile)...)
}

// A gadget that leaves in the middle of a command: exit 3 and a clear
// message, well within the timeout.
func TestGuestCLIGadgetLeaves(t *testing.T) {
	g := kernelGadget(t, "Loopback", nil)
	unbound := make(chan time.Time, 1)
	time.AfterFunc(2*time.Second, func() {
		if err := g.Unbind(); err != nil {
			t.Error(err)
		}
		unbound <- time.Now()
	})
	code, _, stderr := runArgs(t, "--serial", g.Serial, "--timeout", "30s", "loopback", "--sizes", "64M")
	el := time.Since(<-unbound)
	t.Logf("exit %d %v after the unbind: %s", code, el, stderr)
	if code != exitNotFound || !strings.Contains(stderr, "device gone") {
		t.Errorf("exit %d, stderr %q; want %d and device gone", code, stderr, exitNotFound)
	}
	if el > 10*time.Second {
		t.Errorf("exit %v after the unbind", el)
	}
}
