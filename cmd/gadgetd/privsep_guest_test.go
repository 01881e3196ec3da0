//go:build cgo

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/internal/testkit"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// nobody is the worker's user in these tests: the guest has no
// /etc/passwd, so it is given as numbers.
const nobody = 65534

// envTryWrites makes the test binary try writes (see tryWrites), run as
// nobody by asUser.
const envTryWrites = "GADGETD_TEST_TRY_WRITES"

func init() {
	if list := os.Getenv(envTryWrites); list != "" {
		tryWrites(strings.Split(list, "\n"))
		os.Exit(0)
	}
}

// tryWrites does each "write:PATH" (open for writing and write a line) or
// "mkdir:PATH" and prints one line per try: "refused" (EACCES or EPERM),
// "allowed" or "failed", a tab, the error.
func tryWrites(list []string) {
	for _, what := range list {
		op, path, _ := strings.Cut(what, ":")
		var err error
		switch op {
		case "write":
			err = os.WriteFile(path, []byte("dummy_udc.0\n"), 0)
		case "mkdir":
			err = os.Mkdir(path, 0o755)
		default:
			err = fmt.Errorf("unknown operation %q", op)
		}
		switch {
		case err == nil:
			fmt.Printf("allowed\t%s\n", what)
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			fmt.Printf("refused\t%v\n", err)
		default:
			fmt.Printf("failed\t%v\n", err)
		}
	}
}

// daemon is a `gadgetd run --user 65534:65534` of configs/loopback.yaml,
// with its status socket in a temporary directory; or, with the key, the
// same user given by the file's user key.
type daemon struct {
	cmd    *exec.Cmd
	stderr testkit.Log
	socket string
	exited chan error
}

func startDaemon(t *testing.T, key bool) *daemon {
	t.Helper()
	guest.Require(t)
	src, err := os.ReadFile(filepath.Join("..", "..", "configs", "loopback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d := &daemon{socket: filepath.Join(dir, "status.sock"), exited: make(chan error, 1)}
	text := strings.Replace(string(src), "status_socket: /run/gadgetd/loopback.sock", "status_socket: "+d.socket, 1)
	if text == string(src) {
		t.Fatal("configs/loopback.yaml has no status_socket line to move")
	}
	user := fmt.Sprintf("%d:%d", nobody, nobody)
	args := []string{"--user", user}
	if key {
		text += fmt.Sprintf("user: %q\n", user)
		args = nil
	}
	file := filepath.Join(dir, "loopback.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(os.Args[0], append([]string{"run", "-c", file, "--log-level", "debug"}, args...)...)
	// Under -race the runtime sleeps 1 s at exit (atexit_sleep_ms): not
	// the daemon's time.
	d.cmd.Env = append(os.Environ(), envMain+"=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	d.cmd.Stderr = &d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("gadgetd's log:\n%s", d.stderr.String())
		}
	})
	return d
}

// wait waits for the daemon to exit.
func (d *daemon) wait(t *testing.T, timeout time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case err := <-d.exited:
		d.exited <- err
		return err, time.Since(start)
	case <-time.After(timeout):
		t.Fatalf("gadgetd did not exit within %v", timeout)
		return nil, 0
	}
}

// worker waits until the supervisor has bound the gadget and returns its
// worker's pid.
func (d *daemon) worker(t *testing.T) int {
	t.Helper()
	// Only a hang guard: a loaded machine has taken 21 s to get here.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(d.stderr.String(), "gadget ready") {
			if pids := children(t, d.cmd.Process.Pid); len(pids) == 1 {
				return pids[0]
			} else if len(pids) > 1 {
				t.Fatalf("the supervisor has %d children %v, want one worker", len(pids), pids)
			}
		}
		select {
		case err := <-d.exited:
			t.Fatalf("gadgetd exited before it was ready: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("gadgetd was not ready within 60 s")
	return 0
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			pids = append(pids, n)
		}
	}
	return pids
}

// procStatus reads the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// asUser runs this test binary as nobody (no groups) to try the writes
// and fails unless the kernel refuses each.
func asUser(t *testing.T, writes ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envTryWrites+"="+strings.Join(writes, "\n"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("as %d: %v", nobody, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(writes) {
		t.Fatalf("as %d: %d answers to %d writes:\n%s", nobody, len(lines), len(writes), out)
	}
	for i, l := range lines {
		if verdict, why, _ := strings.Cut(l, "\t"); verdict != "refused" {
			t.Errorf("as %d: %s: %s %s", nobody, writes[i], verdict, why)
		} else {
			t.Logf("as %d: refused: %s", nobody, why)
		}
	}
}

// assertClean fails unless no gadget, no functionfs mount, no status socket
// and (if the daemon made it) no mount point is left.
func assertClean(t *testing.T, d *daemon, madeMountPoint bool) {
	t.Helper()
	testkit.AssertNoResidue(t)
	if _, err := os.Stat("/dev/usb-ffs/loop"); madeMountPoint && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("mount point /dev/usb-ffs/loop left behind (stat: %v)", err)
	}
	if _, err := os.Lstat(d.socket); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("status socket %s left behind (lstat: %v)", d.socket, err)
	}
}

// TestRunAsUser runs gadgetd with --user 65534:65534 on
// configs/loopback.yaml: the worker runs as that user with no capability
// and no_new_privs, the functionfs files are its own and nobody else's, a
// checked loopback stream goes through it, `gadgetd status` reads its
// counters, the user cannot change the gadget, and SIGTERM to the
// supervisor leaves nothing behind.
func TestRunAsUser(t *testing.T) {
	start := time.Now()
	d := startDaemon(t, false)
	w := d.worker(t)
	t.Logf("gadgetd ready in %v", time.Since(start).Round(time.Millisecond))

	st := procStatus(t, w)
	want := fmt.Sprintf("%d\t%d\t%d\t%d", nobody, nobody, nobody, nobody)
	for k, v := range map[string]string{"Uid": want, "Gid": want, "Groups": "", "CapEff": "0000000000000000",
		"CapPrm": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1"} {
		if st[k] != v {
			t.Errorf("worker %d: %s: %q, want %q", w, k, st[k], v)
		}
	}
	if sup := procStatus(t, d.cmd.Process.Pid); !strings.HasPrefix(sup["Uid"], "0\t") {
		t.Errorf("supervisor: Uid %q, want root", sup["Uid"])
	}

	// The mount: the directory 0500 and the files 0600, all the user's.
	files, err := os.ReadDir("/dev/usb-ffs/loop")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Errorf("/dev/usb-ffs/loop holds %d files, want ep0 ep1 ep2", len(files))
	}
	check := func(path string, mode fs.FileMode) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		sys := fi.Sys().(*syscall.Stat_t)
		if sys.Uid != nobody || sys.Gid != nobody || fi.Mode().Perm() != mode {
			t.Errorf("%s: uid %d gid %d mode %v, want %d %d %v", path, sys.Uid, sys.Gid, fi.Mode().Perm(), nobody, nobody, mode)
		}
	}
	check("/dev/usb-ffs/loop", 0o500)
	for _, f := range files {
		check(filepath.Join("/dev/usb-ffs/loop", f.Name()), 0o600)
	}

	// The host carries a checked stream through the worker.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dev, err := host.Open(ctx, host.Options{Selector: host.Selector{Serial: "0001"}})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	p, err := dev.Claim(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, p.MaxPacket - 1, p.MaxPacket, p.MaxPacket + 1, 16384, 16385, 1 << 20, 65536 * 3}
	total := 0
	for _, s := range sizes {
		total += s
	}
	start = time.Now()
	if _, err := host.Loopback(ctx, p.Out, p.In, host.LoopbackOptions{Sizes: sizes, MaxPacket: p.MaxPacket,
		Pattern: host.Pattern{Kind: host.PatternRandom, Seed: 9}}); err != nil {
		t.Fatalf("loopback through the worker: %v", err)
	}
	t.Logf("%d bytes each way through the worker, checked, in %v", total, time.Since(start).Round(time.Millisecond))

	// gadgetd status reads the worker's counters; the last IN completion
	// may be reaped just after the host has its data.
	var status gadget.Status
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _, err := gadgetd(t, "status", "--socket", d.socket, "--json")
		if err != nil {
			t.Fatalf("gadgetd status: %v", err)
		}
		status = gadget.Status{}
		if err := json.Unmarshal([]byte(out), &status); err != nil {
			t.Fatalf("gadgetd status: %v\n%s", err, out)
		}
		if status.Gadget != "gadgetkit-loopback" || status.UDC != "dummy_udc.0" || len(status.Functions) != 1 ||
			len(status.Functions[0].Endpoints) != 2 {
			t.Fatalf("status: %+v", status)
		}
		eps := status.Functions[0].Endpoints
		if eps[0].Bytes == uint64(total) && eps[1].Bytes == uint64(total) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status: endpoints moved %d and %d bytes, want %d each way", eps[0].Bytes, eps[1].Bytes, total)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The user cannot change the gadget.
	tree := (&configfs.Root{}).Path("gadgetkit-loopback")
	asUser(t,
		"write:"+filepath.Join(tree, "UDC"),
		"write:"+filepath.Join(tree, "idVendor"),
		"write:"+filepath.Join(tree, "strings/0x409/serialnumber"),
		"mkdir:"+filepath.Join(tree, "functions/ffs.extra"),
		"mkdir:"+filepath.Join(tree, "configs/c.2"),
		"write:/sys/class/udc/dummy_udc.0/soft_connect")

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Exit 0 says the worker stopped by itself: one that outlives
	// gadget.stopTimeout (10 s) is killed and the exit is 1. The bound
	// beyond it only guards a hang.
	err, took := d.wait(t, 30*time.Second)
	if err != nil {
		t.Fatalf("gadgetd exit after SIGTERM: %v", err)
	}
	t.Logf("SIGTERM to exit 0: %v", took)
	if log := d.stderr.String(); !strings.Contains(log, "gadget removed") || strings.Contains(log, "did not stop") {
		t.Errorf("the supervisor's log does not show the worker stopping and the gadget removed:\n%s", log)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", w)); err == nil {
		t.Errorf("worker %d still runs after the supervisor exited", w)
	}
	assertClean(t, d, true)
}

// TestWorkerKilled: SIGKILL to the worker makes the supervisor tear the
// gadget down and exit 1, naming the worker's end. The user is the file's.
func TestWorkerKilled(t *testing.T) {
	d := startDaemon(t, true)
	w := d.worker(t)
	if err := syscall.Kill(w, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err, took := d.wait(t, 10*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("gadgetd exit after its worker was killed: %v, want exit status 1", err)
	}
	t.Logf("worker SIGKILL to supervisor exit 1: %v", took)
	if log := d.stderr.String(); !strings.Contains(log, fmt.Sprintf("worker (pid %d): signal: killed", w)) {
		t.Errorf("the supervisor does not say the worker was killed:\n%s", log)
	}
	assertClean(t, d, true)
}

// TestSupervisorKilled: a worker whose supervisor is SIGKILLed stops too
// (Pdeathsig), and the next run replaces what the killed one left.
func TestSupervisorKilled(t *testing.T) {
	d := startDaemon(t, false)
	w := d.worker(t)
	d.cmd.Process.Kill()
	d.wait(t, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", w)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		// A zombie has no parent to reap it but init: it counts as gone.
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", w)); err == nil && bytes.Contains(st, []byte(") Z ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d still runs 10 s after its supervisor was killed", w)
		}
		time.Sleep(20 * time.Millisecond)
	}
	again := startDaemon(t, false)
	again.worker(t)
	if log := again.stderr.String(); !strings.Contains(log, "stale gadget tree") {
		t.Errorf("the second run does not mention the stale tree:\n%s", log)
	}
	again.cmd.Process.Signal(syscall.SIGTERM)
	if err, _ := again.wait(t, 10*time.Second); err != nil {
		t.Fatalf("second gadgetd exit after SIGTERM: %v", err)
	}
	// The killed run made the mount point, so the second one keeps it.
	assertClean(t, again, false)
	os.Remove("/dev/usb-ffs/loop")
}

// TestWorkerStopped: a worker stopped with SIGTERM of its own (an init
// system signalling every process of the service) is a stop, not a
// failure: the supervisor tears down and exits 0.
func TestWorkerStopped(t *testing.T) {
	d := startDaemon(t, false)
	w := d.worker(t)
	if err := syscall.Kill(w, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err, _ := d.wait(t, 10*time.Second); err != nil {
		t.Fatalf("gadgetd exit after its worker was stopped: %v", err)
	}
	assertClean(t, d, true)
}
