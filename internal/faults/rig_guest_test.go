//go:build cgo

package faults

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/internal/testkit"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// hangGuard bounds a wait that only ends early when something hangs. It is
// long because a TCG guest on a loaded 2-core machine can take many seconds
// to enumerate or tear down a gadget; no test passes or fails on how long a
// wait took.
const hangGuard = time.Minute

// loadConfig parses a file of the repository's configs directory without
// its status socket.
func loadConfig(t *testing.T, name string) *config.Config {
	t.Helper()
	path := filepath.Join("..", "..", "configs", name)
	cfg, err := config.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StatusSocket = ""
	return cfg
}

// rig is a gadget served in this process and the host's view of it.
type rig struct {
	t      *testing.T
	cfg    *config.Config
	g      *gadget.Gadget
	log    *testkit.Log
	serial string
	d      *host.Device
	p      *host.Pipe
	seed   uint64 // each checked stream has its own, so stale data shows
}

// start serves configs/NAME with a debug log and opens it from the host
// side. The cleanup closes both and checks that no gadget tree or
// functionfs mount is left.
func start(t *testing.T, name string) *rig {
	t.Helper()
	guest.Require(t)
	r := &rig{t: t, cfg: loadConfig(t, name), log: &testkit.Log{}}
	r.serial = r.cfg.Gadget.Strings[0].Serial
	logger := slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := gadget.Start(r.cfg, gadget.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	t.Cleanup(func() {
		if r.d != nil {
			r.d.Close()
		}
		if err := g.Close(); err != nil {
			t.Errorf("gadget teardown: %v", err)
		}
		testkit.AssertNoResidue(t)
		if t.Failed() {
			t.Logf("gadget log:\n%s", r.log)
		}
	})
	r.reopen()
	return r
}

// reopen opens the device again by its serial number (after it left or
// re-enumerated) and claims interface 0.
func (r *rig) reopen() {
	r.t.Helper()
	if _, err := guest.WaitHostDevice(r.serial, hangGuard); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if r.d == nil {
		// A Linux host waits 5 s for a control transfer
		// (USB_CTRL_GET_TIMEOUT), but a TCG guest on a loaded machine can
		// stall longer than that: a request only fails here when it is not
		// answered or stalled within hangGuard. TestSetupFlood logs the
		// slowest it saw.
		d, err := host.Open(ctx, host.Options{Selector: host.Selector{Serial: r.serial}, ControlTimeout: hangGuard})
		if err != nil {
			r.t.Fatal(err)
		}
		r.d = d
	} else if err := r.d.Reopen(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.claim()
}

func (r *rig) claim() {
	r.t.Helper()
	p, err := r.d.Claim(0, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	r.p = p
}

// streamSizes are the sizes of a checked stream: zero-length, one byte,
// around a packet, around the gadget's 16 KiB request, more than a request
// and more than the whole queue in one transfer.
func (r *rig) streamSizes() []int {
	mp := r.p.MaxPacket
	return []int{0, 1, mp - 1, mp, mp + 1, 16384 - 1, 16384, 16384 + 1, 3*mp + 7, 64 << 10, 300<<10 + 5}
}

// check carries a checked stream through the loopback: every byte comes
// back once, in order, and nothing else comes back.
func (r *rig) check(what string) int {
	r.t.Helper()
	sizes := r.streamSizes()
	n, err := r.stream(sizes)
	if err != nil {
		r.t.Fatalf("%s: checked stream: %v; gadget status %+v", what, err, r.g.Status().Functions[0])
	}
	return n
}

// stream is check without failing the test: the bytes carried each way.
func (r *rig) stream(sizes []int) (int, error) {
	r.seed++
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	_, err := host.Loopback(ctx, r.p.Out, r.p.In, host.LoopbackOptions{
		Sizes: sizes, MaxPacket: r.p.MaxPacket,
		Pattern: host.Pattern{Kind: host.PatternRandom, Seed: r.seed},
	})
	total := 0
	for _, s := range sizes {
		total += s
	}
	return total, err
}

// fill writes to OUT without reading IN until the host's write stays stuck
// for a while: every IN request of the gadget then holds data the host has
// not read, and OUT data waits behind it. It fails unless the gadget
// reports every IN request in flight.
func (r *rig) fill() {
	r.t.Helper()
	depth := int64(r.cfg.Functions[0].FunctionFS.Personality.QueueDepth)
	data := make([]byte, 1<<20)
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.p.Out.WriteContext(ctx, data) // ends with the timeout: the queues are full
		cancel()
		st := r.g.Status().Functions[0]
		for _, ep := range st.Endpoints {
			if strings.HasSuffix(ep.Address, "in") && ep.InFlight == depth {
				return
			}
		}
	}
	r.t.Fatalf("after filling: IN has fewer than %d requests in flight; status %+v", depth, r.g.Status().Functions[0])
}

// gadgetDir is the gadget's configfs directory.
func (r *rig) gadgetDir() string {
	return filepath.Join(guest.GadgetRoot, r.cfg.Gadget.Name)
}

// bindTo writes the gadget's UDC attribute ("" unbinds).
func (r *rig) bindTo(udc string) {
	r.t.Helper()
	if udc == "" {
		udc = "\n"
	}
	if err := os.WriteFile(filepath.Join(r.gadgetDir(), "UDC"), []byte(udc), 0); err != nil {
		r.t.Fatalf("write %q to UDC: %v", udc, err)
	}
}

// waitState waits until the gadget's function reports state.
func (r *rig) waitState(state string) {
	r.t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		st := r.g.Status().Functions[0].State
		if st == state {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("function state %q after %v, want %q", st, hangGuard, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hostDir is the device's sysfs directory on the host side.
func (r *rig) hostDir() string {
	r.t.Helper()
	dir, err := guest.WaitHostDevice(r.serial, hangGuard)
	if err != nil {
		r.t.Fatal(err)
	}
	return dir
}

func writeSysfs(t *testing.T, path, value string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		t.Fatalf("write %q to %s: %v", value, path, err)
	}
}

// usage is what the process holds.
type usage struct {
	goroutines, fds int
	rssKiB          int
}

func measure() usage {
	u := usage{goroutines: runtime.NumGoroutine()}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		u.fds = len(fds)
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				u.rssKiB, _ = strconv.Atoi(strings.Fields(v)[0])
			}
		}
	}
	return u
}

// assertNoGrowth fails if the process holds more goroutines or fds than
// base once it settles (sessions end asynchronously), or if its RSS grew by
// more than slackKiB.
func assertNoGrowth(t *testing.T, what string, base usage, slackKiB int) usage {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		runtime.GC()
		u := measure()
		ok := u.goroutines <= base.goroutines && u.fds <= base.fds
		if ok || time.Now().After(deadline) {
			if !ok {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%s: grew from %+v to %+v\n%s", what, base, u, buf)
			}
			if u.rssKiB > base.rssKiB+slackKiB*rssScale {
				t.Fatalf("%s: RSS grew from %d KiB to %d KiB", what, base.rssKiB, u.rssKiB)
			}
			return u
		}
		time.Sleep(50 * time.Millisecond)
	}
}
