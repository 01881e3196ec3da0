package gadget

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/internal/testkit"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// loadConfig parses a file of the repository's configs directory, with the
// status socket moved to a temporary directory.
func loadConfig(t *testing.T, name string) (*config.Config, string) {
	t.Helper()
	path := filepath.Join("..", "configs", name)
	cfg, err := config.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StatusSocket = filepath.Join(t.TempDir(), "status.sock")
	return cfg, path
}

// writeConfig writes cfg's file with the status socket line replaced, for
// a daemon process.
func writeConfig(t *testing.T, src, socket string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "status_socket:") {
			continue
		}
		out = append(out, l)
	}
	out = append(out, "status_socket: "+socket)
	path := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertNoMountPoint fails if a mount point the gadget made is still there.
func assertNoMountPoint(t *testing.T, cfg *config.Config) {
	t.Helper()
	for _, f := range cfg.Functions {
		if f.FunctionFS != nil {
			if _, err := os.Stat(f.FunctionFS.Mount.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("mount point %s left behind (stat: %v)", f.FunctionFS.Mount.Dir, err)
			}
		}
	}
}

// waitStatus polls the status until ok accepts it.
func waitStatus(t *testing.T, get func() (*Status, error), what string, ok func(*Status) bool) *Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := get()
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last status %+v, err %v", what, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outQueueFull: the host configured the function and every OUT request of
// the first function is queued.
func outQueueFull(depth int) func(*Status) bool {
	return func(st *Status) bool {
		if len(st.Functions) == 0 || st.Functions[0].State != "enabled" {
			return false
		}
		for _, ep := range st.Functions[0].Endpoints {
			if strings.HasSuffix(ep.Address, "out") && ep.InFlight == int64(depth) {
				return true
			}
		}
		return false
	}
}

// The sourcesink's pump keeps every request of both endpoints queued while
// the host moves nothing, and the status says so from the engine's count;
// Close cancels them all and the count is back to 0.
func TestSourceSinkInFlight(t *testing.T) {
	guest.Require(t)
	cfg, _ := loadConfig(t, "sourcesink.yaml")
	g, err := Start(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	depth := cfg.Functions[0].FunctionFS.Personality.QueueDepth
	waitStatus(t, func() (*Status, error) { return QueryStatus(context.Background(), cfg.StatusSocket) },
		"both queues to fill", func(st *Status) bool {
			if len(st.Functions) == 0 || st.Functions[0].State != "enabled" || len(st.Functions[0].Endpoints) != 2 {
				return false
			}
			for _, ep := range st.Functions[0].Endpoints {
				if ep.InFlight != int64(depth) {
					return false
				}
			}
			return true
		})
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ep := range g.Status().Functions[0].Endpoints {
		if ep.InFlight != 0 || ep.Cancellations != uint64(depth) {
			t.Errorf("%s after Close: %d in flight, %d cancelled; want 0 and the %d queued", ep.Name, ep.InFlight, ep.Cancellations, depth)
		}
	}
	testkit.AssertNoResidue(t)
}

func TestStartServeClose(t *testing.T) {
	guest.Require(t)
	cfg, _ := loadConfig(t, "loopback.yaml")
	var logs testkit.Log
	g, err := Start(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if g.UDC() == "" {
		t.Fatal("not bound to a UDC")
	}
	depth := cfg.Functions[0].FunctionFS.Personality.QueueDepth
	st := waitStatus(t, func() (*Status, error) { return QueryStatus(context.Background(), cfg.StatusSocket) },
		"the OUT queue to fill", outQueueFull(depth))
	if st.UDCState != "configured" {
		t.Errorf("UDC state %q, want configured", st.UDCState)
	}
	if got := st.Functions[0].Events["enable"]; got != 1 {
		t.Errorf("%d ENABLE events, want 1", got)
	}
	start := time.Now()
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v\n%s", err, logs.String())
	}
	t.Logf("teardown with %d OUT requests queued took %v", depth, time.Since(start))
	teardownOrder(t, logs.String())
	testkit.AssertNoResidue(t)
	assertNoMountPoint(t, cfg)
	if _, err := os.Stat(cfg.StatusSocket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status socket left behind: %v", err)
	}
	out := g.Status().Functions[0].Endpoints
	for _, ep := range out {
		if ep.InFlight != 0 {
			t.Errorf("%s: %d requests in flight after Close", ep.Name, ep.InFlight)
		}
		// Nothing came from the host: Close cancelled the full queue.
		if strings.HasSuffix(ep.Address, "out") && (ep.Cancellations != uint64(depth) || ep.Completions != 0) {
			t.Errorf("%s: %d cancelled, %d completed by Close; want the %d queued cancelled", ep.Name, ep.Cancellations, ep.Completions, depth)
		}
	}
}

// TestReconnect takes the host away twice under a serving gadget (the
// host deauthorizes the device, then the UDC is unbound and bound again):
// each time the personality must come back with its queue full.
// (soft_connect is not used: on Debian's 6.1 dummy_hcd a device soft
// disconnected and connected again no longer enumerates, error -71, even
// with the kernel's own Loopback function.)
func TestReconnect(t *testing.T) {
	guest.Require(t)
	cfg, _ := loadConfig(t, "loopback.yaml")
	g, err := Start(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Close(); err != nil {
			t.Error(err)
		}
		testkit.AssertNoResidue(t)
	}()
	depth := cfg.Functions[0].FunctionFS.Personality.QueueDepth
	status := func() (*Status, error) { st := g.Status(); return &st, nil }
	enabledAgain := func(n uint64) func(*Status) bool {
		full := outQueueFull(depth)
		return func(st *Status) bool { return st.Functions[0].Events["enable"] >= n && full(st) }
	}
	waitStatus(t, status, "first enable", enabledAgain(1))

	dev, err := guest.WaitHostDevice(cfg.Gadget.Strings[0].Serial, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(v string) {
		if err := os.WriteFile(filepath.Join(dev, "authorized"), []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	authorize("0")
	waitStatus(t, status, "disable after deauthorize", func(st *Status) bool { return st.Functions[0].State != "enabled" })
	authorize("1")
	waitStatus(t, status, "enable after authorize", enabledAgain(2))

	root := &configfs.Root{}
	if err := root.Rebind(cfg.Gadget.Name); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, status, "enable after rebind", enabledAgain(3))
	// f_fs drops a queued UNBIND when BIND follows before ep0 is read, so
	// only the second BIND is certain.
	if st.Functions[0].Events["bind"] != 2 {
		t.Errorf("rebind: %d BIND events, want 2 (%v)", st.Functions[0].Events["bind"], st.Functions[0].Events)
	}
}

// teardownOrder checks that log holds the teardown steps in the order the
// kernel needs and the final "gadget removed": the personalities stopped
// with every transfer reaped before the files closed, and those before
// the UDC was unbound and the tree removed.
func teardownOrder(t *testing.T, log string) {
	t.Helper()
	at := 0
	for _, step := range []string{"personalities stopped, transfers reaped", "endpoint files and ep0 closed",
		"unbound", "functionfs unmounted", "configfs tree removed", "gadget removed"} {
		i := strings.Index(log[at:], step)
		if i < 0 {
			t.Errorf("teardown: no %q after the steps before it; the log:\n%s", step, log)
			return
		}
		at += i + len(step)
	}
}

// TestSIGTERMFullQueue runs the daemon as a process, waits until its OUT
// queue is full, and sends SIGTERM: it must exit 0, having torn down in
// order (the queued requests cancelled and reaped first), and leave
// nothing in configfs or mounted. A teardown that waited for the queued
// requests would wait for a host that sends nothing: the 20 s bound only
// guards that hang.
func TestSIGTERMFullQueue(t *testing.T) {
	guest.Require(t)
	cfg, src := loadConfig(t, "loopback.yaml")
	file := writeConfig(t, src, cfg.StatusSocket)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// Under -race the runtime sleeps 1 s at exit (atexit_sleep_ms).
	cmd.Env = append(os.Environ(), envHelper+"="+file, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	var stderr testkit.Log
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	depth := cfg.Functions[0].FunctionFS.Personality.QueueDepth
	waitStatus(t, func() (*Status, error) { return QueryStatus(context.Background(), cfg.StatusSocket) },
		"the daemon's OUT queue to fill", outQueueFull(depth))
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon exit: %v\n%s", err, stderr.String())
		}
		t.Logf("SIGTERM to exit 0: %v", time.Since(start))
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("no exit 20 s after SIGTERM\n%s", stderr.String())
	}
	teardownOrder(t, stderr.String())
	testkit.AssertNoResidue(t)
	assertNoMountPoint(t, cfg)
}

// TestStaleAfterSIGKILL kills a daemon and starts the same file again: the
// tree and mount it left are replaced, and the log says so.
func TestStaleAfterSIGKILL(t *testing.T) {
	guest.Require(t)
	cfg, src := loadConfig(t, "loopback.yaml")
	file := writeConfig(t, src, cfg.StatusSocket)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	depth := cfg.Functions[0].FunctionFS.Personality.QueueDepth
	waitStatus(t, func() (*Status, error) { return QueryStatus(context.Background(), cfg.StatusSocket) },
		"the daemon to serve", outQueueFull(depth))
	cmd.Process.Kill()
	cmd.Wait()
	if ok, _ := (&configfs.Root{}).Exists(cfg.Gadget.Name); !ok {
		t.Fatal("SIGKILL left no tree: nothing to test")
	}

	var logs testkit.Log
	g, err := Start(cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("restart after SIGKILL: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "stale gadget tree") {
		t.Errorf("log does not mention the stale tree:\n%s", logs.String())
	}
	waitStatus(t, func() (*Status, error) { return QueryStatus(context.Background(), cfg.StatusSocket) },
		"the restarted daemon to serve", outQueueFull(depth))
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.AssertNoResidue(t)
	// The killed run made the mount point, so the restarted one keeps it.
	os.Remove(cfg.Functions[0].FunctionFS.Mount.Dir)
}

// TestFailureCreatesNothing: a UDC that does not exist fails after the tree
// and mounts were made; everything must be taken down again.
func TestFailureCreatesNothing(t *testing.T) {
	guest.Require(t)
	cfg, _ := loadConfig(t, "loopback.yaml")
	cfg.UDC = "no_such_udc.7"
	g, err := Start(cfg, Options{})
	if err == nil {
		g.Close()
		t.Fatal("Start with a missing UDC succeeded")
	}
	if !strings.Contains(err.Error(), "no_such_udc.7") {
		t.Errorf("error does not name the UDC: %v", err)
	}
	testkit.AssertNoResidue(t)
	assertNoMountPoint(t, cfg)
}

// TestUpDown: up makes the tree and mounts functionfs but cannot bind a
// gadget whose FunctionFS functions have no descriptors yet; a gadget of
// kernel functions only is bound at once. down takes either away.
func TestUpDown(t *testing.T) {
	guest.Require(t)
	cfg, _ := loadConfig(t, "loopback.yaml")
	udc, err := Up(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if udc != "" {
		t.Errorf("up bound a FunctionFS gadget to %s before its descriptors were written", udc)
	}
	root := &configfs.Root{}
	if ok, _ := root.Exists(cfg.Gadget.Name); !ok {
		t.Error("up made no tree")
	}
	mounts, _ := configfs.FunctionFSMounts()
	want := configfs.FunctionFSMount{Instance: "loop", Dir: cfg.Functions[0].FunctionFS.Mount.Dir}
	if len(mounts) != 1 || mounts[0] != want {
		t.Errorf("mounts after up: %+v, want %+v", mounts, want)
	}
	if err := Down(cfg, Options{}); err != nil {
		t.Fatal(err)
	}
	testkit.AssertNoResidue(t)
	os.Remove(want.Dir)

	kernel, err := config.Parse("kernel.yaml", strings.NewReader(`
gadget: {name: kernel-ss, vid: 0x1d6b, pid: 0x0104, strings: {0x409: {serial: kss}}}
udc: auto
configurations: [{functions: [ss]}]
functions: [{name: ss, type: SourceSink, pattern: 1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if udc, err = Up(kernel, Options{}); err != nil {
		t.Fatal(err)
	}
	if udc == "" {
		t.Fatal("up did not bind a gadget of kernel functions")
	}
	if _, err := guest.WaitHostDevice("kss", 5*time.Second); err != nil {
		t.Error(err)
	}
	// A second up of the same file replaces the tree (as after a crash).
	if _, err := Up(kernel, Options{}); err != nil {
		t.Errorf("up again: %v", err)
	}
	if err := Down(kernel, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := guest.WaitHostGone("kss", 5*time.Second); err != nil {
		t.Error(err)
	}
	testkit.AssertNoResidue(t)
	if err := Down(kernel, Options{}); err != nil {
		t.Errorf("down of a gadget already down: %v", err)
	}
}

// TestAbortCancel runs configs/abort.yaml's cancel action with no host
// reading or writing: every queued transfer must end cancelled, and
// io_cancel's answer must be one of the documented shapes.
func TestAbortCancel(t *testing.T) {
	guest.Require(t)
	cfg, _ := loadConfig(t, "abort.yaml")
	a := cfg.Functions[0].FunctionFS.Personality.Abort
	a.Count = 64
	g, err := Start(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Close(); err != nil {
			t.Error(err)
		}
		testkit.AssertNoResidue(t)
	}()
	st := waitStatus(t, func() (*Status, error) { s := g.Status(); return &s, nil }, "64 aborts",
		func(st *Status) bool {
			return st.Functions[0].Aborts["cancelled"]+st.Functions[0].Aborts["completed_first"] >= 64
		})
	ab := st.Functions[0].Aborts
	if ab["cancelled"] < 64 {
		t.Errorf("aborts %v: with no host transfer, every one must end cancelled", ab)
	}
	answers := ab["io_cancel_EINPROGRESS"] + ab["io_cancel_0"] + ab["io_cancel_EINVAL"]
	if answers != ab["cancelled"]+ab["completed_first"] {
		t.Errorf("aborts %v: io_cancel answered something else", ab)
	}
	var cancels uint64
	for _, ep := range st.Functions[0].Endpoints {
		cancels += ep.Cancellations
		if len(ep.Errors) != 0 {
			t.Errorf("%s: errors %v", ep.Name, ep.Errors)
		}
	}
	if cancels != ab["cancelled"] {
		t.Errorf("endpoints counted %d cancellations, the personality %d", cancels, ab["cancelled"])
	}
	t.Logf("aborts: %v", ab)
}
