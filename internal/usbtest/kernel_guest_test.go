package usbtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// kernelGadget binds a configfs gadget with one kernel function (its
// attributes set first) and waits for usbtest to claim its interface.
func kernelGadget(t *testing.T, id ID, function string, attrs map[string]string) (*guest.Gadget, Device) {
	t.Helper()
	guest.Require(t)
	if err := guest.LoadModule("usbtest", ""); err != nil {
		t.Fatal(err)
	}
	spec := guest.GadgetSpec{VID: id.Vendor, PID: id.Product, Functions: []string{function}, Attrs: map[string]string{}}
	for k, v := range attrs {
		spec.Attrs["functions/"+function+"/"+k] = v
	}
	g := guest.NewGadget(t, spec)
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev, err := Wait(ctx, func(d Device) bool { return d.Serial == g.Serial })
	if err != nil {
		t.Fatal(err)
	}
	return g, dev
}

func runLogged(t *testing.T, dev Device, tests []Params) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rs, err := RunSuite(ctx, dev, tests)
	var b bytes.Buffer
	WriteTable(&b, rs, true)
	t.Logf("%s %v:\n%s", dev.Path, dev.ID, b.String())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func requirePassed(t *testing.T, rs []Result) {
	t.Helper()
	for _, r := range rs {
		if r.Status != Passed {
			t.Errorf("test %d (%s) %+v: %s: %v", r.Params.Test, Tests[r.Params.Test].Name, r.Params, r.Status, r.Err)
		}
	}
}

// The kernel's SourceSink with its default attributes, bound by usbtest as
// gadget zero, passes the whole suite.
func TestKernelSourceSinkSuite(t *testing.T) {
	_, dev := kernelGadget(t, GadgetZero, "SourceSink.0", nil)
	rs := runLogged(t, dev, SourceSinkSuite())
	requirePassed(t, rs)
	if len(rs) != len(SourceSinkSuite()) {
		t.Errorf("%d results for %d tests", len(rs), len(SourceSinkSuite()))
	}
}

// Tests 27 and 28 with 8 URBs of 64 KiB in flight: the kernel-side
// reference for the benchmarks, for SourceSink's defaults (one 4 KiB
// request per direction) and for 8 requests of 64 KiB.
func TestKernelSourceSinkThroughput(t *testing.T) {
	const iterations = 400 // 200 MiB per direction
	var all []Result
	for _, c := range []struct {
		name  string
		attrs map[string]string
	}{
		{"default", nil},
		{"buflen64k_qlen8", map[string]string{"bulk_buflen": "65536", "bulk_qlen": "8"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, dev := kernelGadget(t, GadgetZero, "SourceSink.0", c.attrs)
			rs := runLogged(t, dev, Throughput(iterations, 64<<10, 8))
			requirePassed(t, rs)
			for _, r := range rs {
				if r.Bytes != iterations*8*64<<10 || r.MBps() <= 0 {
					t.Errorf("test %d: %d bytes, %.1f MB/s", r.Params.Test, r.Bytes, r.MBps())
				}
				t.Logf("SourceSink %s test %d: %.1f MB/s (%d bytes in %v)", c.name, r.Params.Test, r.MBps(), r.Bytes, r.Duration)
			}
			all = append(all, rs...)
		})
	}
	if out := os.Getenv("GADGETKIT_OUT"); out != "" {
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "usbtest-sourcesink-throughput.json"), b, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// The kernel's Loopback passes what applies to it; with the user-mode IDs
// usbtest has no vendor request tests for it.
func TestKernelLoopbackSuite(t *testing.T) {
	_, dev := kernelGadget(t, UserMode, "Loopback.0", nil)
	requirePassed(t, runLogged(t, dev, LoopbackSuite()))
	rs := runLogged(t, dev, []Params{{Test: 14, Iterations: 1, Length: 64, Vary: 1}})
	if rs[0].Status != Unsupported || rs[0].Errno() != syscall.EOPNOTSUPP {
		t.Errorf("test 14 as user mode: %s %v, want unsupported", rs[0].Status, rs[0].Err)
	}
}

// A function without gadget zero's vendor requests, driven as gadget zero:
// test 14 fails with the stall, and says so.
func TestKernelUnsupportedRequestFails(t *testing.T) {
	_, dev := kernelGadget(t, GadgetZero, "Loopback.0", nil)
	rs := runLogged(t, dev, []Params{{Test: 14, Iterations: 1, Length: 64, Vary: 1}})
	r := rs[0]
	if r.Status != Failed || r.Errno() != syscall.EPIPE || !strings.Contains(r.Err.Error(), "stalled") {
		t.Errorf("test 14 on Loopback: %s %v, want a failure naming the stall", r.Status, r.Err)
	}
}

// Bind through new_id where usbtest takes dynamic IDs; where it does not
// (6.1), Bind says so and usbtest leaves the device alone.
func TestKernelBind(t *testing.T) {
	guest.Require(t)
	if err := guest.LoadModule("usbtest", ""); err != nil {
		t.Fatal(err)
	}
	id := ID{0x1d6b, 0x0104}
	g := guest.NewGadget(t, guest.GadgetSpec{VID: id.Vendor, PID: id.Product, Functions: []string{"SourceSink.0"}})
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	if _, err := guest.WaitHostDevice(g.Serial, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	mine := func(d Device) bool { return d.Serial == g.Serial }
	err := Bind(id, GadgetZero)
	if _, serr := os.Stat(filepath.Join(DriverDir, "new_id")); errors.Is(serr, os.ErrNotExist) {
		if !errors.Is(err, ErrNoDynamicID) {
			t.Fatalf("Bind without new_id: %v, want ErrNoDynamicID", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if d, err := Wait(ctx, mine); err == nil {
			t.Errorf("usbtest claimed %v anyway", d)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unbind(id); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev, err := Wait(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	requirePassed(t, runLogged(t, dev, []Params{{Test: 1, Iterations: 10, Length: 512}, {Test: 14, Iterations: 1, Length: 64, Vary: 1}}))
}

// A test that outlives its context: Run and Close return while the
// kernel's test still runs (it can only end when the gadget goes away),
// the Conn refuses another test until the kernel is done, and unplugging
// the gadget ends the kernel's test.
func TestKernelAbandon(t *testing.T) {
	g, dev := kernelGadget(t, GadgetZero, "SourceSink.0", nil)
	c, err := Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	kernelRunning := func() bool {
		select {
		case <-c.running:
			return false
		default:
			return true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r, err := c.Run(ctx, Params{Test: 28, Iterations: 1 << 20, Length: 65536, SGLen: 8}) // 512 GiB
	if err != nil || r.Status != Abandoned || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("Run: %+v, %v; want abandoned", r, err)
	}
	if !kernelRunning() {
		t.Fatal("the kernel's 512 GiB test ended before Run returned: Run waited for it, or it failed")
	}
	if _, err := c.Run(context.Background(), Params{Test: 0, Iterations: 1}); !errors.Is(err, ErrBusy) {
		t.Errorf("Run while the kernel is busy: %v, want ErrBusy", err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if !kernelRunning() {
		t.Error("the kernel's test ended before Close returned: Close waited for it")
	}
	// Unplugging the gadget ends the kernel's test: its URBs fail.
	if err := g.Unbind(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.running:
	case <-time.After(10 * time.Second):
		t.Fatal("the abandoned test still runs 10s after the gadget went away")
	}
}

// What ErrNoDynamicID offers instead: usbtest loaded with vendor= and
// product= takes any IDs, with the control tests only.
func TestKernelModuleParamsControlOnly(t *testing.T) {
	guest.Require(t)
	id := ID{0x1d6b, 0x0104}
	if err := guest.UnloadModule("usbtest"); err != nil {
		t.Fatal(err)
	}
	if err := guest.LoadModule("usbtest", "vendor=0x1d6b product=0x0104"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := guest.UnloadModule("usbtest"); err != nil {
			t.Error(err)
		}
	})
	_, dev := kernelGadget(t, id, "SourceSink.0", nil)
	rs := runLogged(t, dev, []Params{
		{Test: 9, Iterations: 10},
		{Test: 10, Iterations: 10, SGLen: 32},
		{Test: 1, Iterations: 10, Length: 512},
		{Test: 14, Iterations: 1, Length: 64, Vary: 1},
	})
	for _, r := range rs {
		want := Unsupported
		if r.Params.Test == 9 || r.Params.Test == 10 {
			want = Passed
		}
		if r.Status != want {
			t.Errorf("test %d: %s %v, want %s", r.Params.Test, r.Status, r.Err, want)
		}
	}
}

// usbtest checks what it reads against its pattern: SourceSink sourcing
// mod63 passes with PatternMod63 and fails with PatternZeros, and the
// performance tests need PatternZeros.
func TestKernelPattern(t *testing.T) {
	_, dev := kernelGadget(t, GadgetZero, "SourceSink.0", map[string]string{"pattern": "1"})
	t.Cleanup(func() {
		if err := SetPattern(PatternZeros); err != nil {
			t.Error(err)
		}
	})
	read := Params{Test: 2, Iterations: 10, Length: 512}
	for _, c := range []struct {
		pattern Pattern
		want    map[int]Status
	}{
		{PatternMod63, map[int]Status{2: Passed, 28: Unsupported}},
		{PatternZeros, map[int]Status{2: Failed, 28: Passed}},
	} {
		if err := SetPattern(c.pattern); err != nil {
			t.Fatal(err)
		}
		if p, err := GetPattern(); err != nil || p != c.pattern {
			t.Fatalf("GetPattern() = %v, %v; want %v", p, err, c.pattern)
		}
		rs := runLogged(t, dev, []Params{read, {Test: 28, Iterations: 10, Length: 4096, SGLen: 8}})
		for _, r := range rs {
			if want := c.want[r.Params.Test]; r.Status != want {
				t.Errorf("pattern %v, test %d: %s %v, want %s", c.pattern, r.Params.Test, r.Status, r.Err, want)
			}
		}
	}
	if err := SetPattern(2); err == nil || !strings.HasPrefix(err.Error(), "pattern: 2 ") {
		t.Errorf("SetPattern(2): %v", err)
	}
}
