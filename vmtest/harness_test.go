package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// bootable returns a kernel and a freshly built vmtest init, or skips when
// this machine cannot boot a guest (no qemu or no cached kernel) unless
// GADGETKIT_REQUIRE_GUEST=1, as under make test, where it fails.
func bootable(t *testing.T) (*Kernel, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU guests")
	}
	_, qerr := exec.LookPath("qemu-system-x86_64")
	k, kerr := testKernel()
	if qerr != nil || kerr != nil {
		why := "cannot boot a guest here: " + errors.Join(qerr, kerr).Error() + " (make deps kernel)"
		if os.Getenv("GADGETKIT_REQUIRE_GUEST") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	init := filepath.Join(t.TempDir(), "vmtest")
	cmd := exec.Command("go", "build", "-o", init, "./cmd/vmtest")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build init: %v\n%s", err, out)
	}
	return k, init
}

// testKernel is the kernel a guest run would boot: the one GADGETKIT_VM_KERNEL
// names (the machine's default when unset).
func testKernel() (*Kernel, error) {
	choice, err := KernelChoice()
	if err != nil {
		return nil, err
	}
	return ResolveKernel(context.Background(), DefaultCacheDir(), choice, func(string, ...any) {})
}

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "payload.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHarnessReportsExitStatusAndResults boots two guests: a kernel test
// binary told to fail on purpose must fail the run with its exit status and
// output, and a passing one must pass with its results copied out.
func TestHarnessReportsExitStatusAndResults(t *testing.T) {
	k, init := bootable(t)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Fatal("busybox not installed (make deps installs busybox-static)")
	}
	root, _ := ModuleRoot(".")
	bin := filepath.Join(t.TempDir(), "guest.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "./vmtest/guest")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build guest tests: %v\n%s", err, out)
	}

	var out bytes.Buffer
	res, err := Run(context.Background(), Options{
		Kernel: k, Init: init, Argv: []string{bin, "-test.run", "TestDummyHCDLoaded", "-test.v"},
		Env: []string{"GADGETKIT_FAIL_ON_PURPOSE=1"}, Stdout: &out, Timeout: 3 * time.Minute,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.ExitCode != 3 || !strings.Contains(out.String(), "failing on purpose") {
		t.Fatalf("deliberate failure: exit %d, output %q; want exit 3 and the test's message", res.ExitCode, out.String())
	}

	out.Reset()
	outDir := t.TempDir()
	// The tree is mirrored at its host path and is the working directory;
	// under /tmp (where CI clones may live) it must stay visible.
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "marker"), []byte("tree-ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = Run(context.Background(), Options{
		Kernel: k, Init: init, Tree: tree, Dir: tree,
		Argv:    []string{script(t, "cat marker && guest.test -test.run TestDummyHCDLoaded -test.v && echo 42 > \"$GADGETKIT_OUT/answer\"\n")},
		Bins:    []string{bin},
		Stdout:  &out,
		OutDir:  outDir,
		Timeout: 3 * time.Minute,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.ExitCode != 0 || !strings.Contains(out.String(), "tree-ok") || !strings.Contains(out.String(), "--- PASS: TestDummyHCDLoaded") {
		t.Fatalf("passing run: exit %d, output %q", res.ExitCode, out.String())
	}
	if got, err := os.ReadFile(filepath.Join(outDir, "answer")); err != nil || string(got) != "42\n" {
		t.Fatalf("result file: %q, %v", got, err)
	}
	t.Logf("guest ready after %v, whole run %v", res.Ready, res.Total)
}

// TestHarnessFailsHungGuest: a payload that never ends must not hang the
// harness; the run fails at the timeout with the console tail, which shows
// that the payload had started. On a loaded machine the guest may not even
// have booted within the timeout: that run proves only half, so the test
// tries again with twice the timeout (up to 4 minutes).
func TestHarnessFailsHungGuest(t *testing.T) {
	k, init := bootable(t)
	for timeout := time.Minute; ; timeout *= 2 {
		res, err := Run(context.Background(), Options{
			Kernel: k, Init: init, Argv: []string{script(t, "echo started; sleep 600\n")},
			// No guest-side payload timeout: the run must end by the host's.
			Stdout: &bytes.Buffer{}, Timeout: timeout, PayloadTimeout: -1,
		})
		if !errors.Is(err, ErrGuest) || !strings.Contains(err.Error(), "no result within "+timeout.String()) {
			t.Fatalf("err = %v, want ErrGuest at the %v timeout", err, timeout)
		}
		if res.Total > timeout+2*time.Minute {
			t.Fatalf("took %v for a %v timeout: the harness does not enforce it", res.Total, timeout)
		}
		if strings.Contains(err.Error(), "vmtest init: modules loaded") {
			return
		}
		if timeout >= 4*time.Minute {
			t.Fatalf("the guest never started the payload, even within %v; the console tail lacks it: %v", timeout, err)
		}
		t.Logf("the guest had not started the payload within %v (loaded machine?); again with %v", timeout, 2*timeout)
	}
}

// TestHarnessDumpsKernelLogOnPayloadTimeout: when the payload outlives its
// timeout, the console log a failed run keeps holds the kernel log, with
// what quiet kept off the console: here a KERN_INFO line the payload wrote
// and sysrq w's output; in a real hang also the blocked tasks' stacks and
// the hung-task reports. (A payload that SIGKILL does not end gets the same
// dump from the timeout's timer; no test can hang the kernel on purpose.)
func TestHarnessDumpsKernelLogOnPayloadTimeout(t *testing.T) {
	k, init := bootable(t)
	console := filepath.Join(t.TempDir(), "console.log")
	const marker = "vmtest-test-hidden-marker"
	_, err := Run(context.Background(), Options{
		Kernel: k, Init: init, Argv: []string{script(t, "echo '<6>"+marker+"' > /dev/kmsg; echo started; sleep 600\n")},
		Stdout: &bytes.Buffer{}, Timeout: 4 * time.Minute, PayloadTimeout: 20 * time.Second, Console: console,
	})
	if !errors.Is(err, ErrGuest) || !strings.Contains(err.Error(), "the payload hit its timeout") {
		t.Fatalf("err = %v, want ErrGuest for the payload's timeout", err)
	}
	b, rerr := os.ReadFile(console)
	if rerr != nil {
		t.Fatal(rerr)
	}
	log := string(b)
	i := strings.Index(log, "vmtest init: payload failed; kernel log follows")
	if i < 0 {
		t.Fatalf("console log has no kernel log dump:\n%s", log)
	}
	if !strings.Contains(log[:i], "Show Blocked State") {
		t.Errorf("console log lacks sysrq w's header before the dump")
	}
	if !strings.Contains(log[i:], "Show Blocked State") {
		t.Errorf("the kernel log dump lacks sysrq w's output")
	}
	if strings.Contains(log[:i], marker) {
		t.Fatalf("the KERN_INFO marker was on the console before the dump: quiet is not in effect, the test proves nothing")
	}
	if !strings.Contains(log[i:], marker) {
		t.Errorf("the kernel log dump lacks the payload's KERN_INFO line %q", marker)
	}
}

// TestHarnessRetriesBootPanic: a kernel that panics before /init runs (here
// on purpose: rdinit names no file, so it looks for a root fs and panics) is booted three
// times, then the run fails saying the kernel panicked before the payload;
// the payload never ran.
func TestHarnessRetriesBootPanic(t *testing.T) {
	k, init := bootable(t)
	var logs []string
	var mu sync.Mutex
	var out bytes.Buffer
	_, err := Run(context.Background(), Options{
		Kernel: k, Init: init, Argv: []string{script(t, "echo payload-ran\n")},
		Stdout: &out, Timeout: 3 * time.Minute, KernelArgs: []string{"rdinit=/no-such-init"},
		Logf: func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() },
	})
	if !errors.Is(err, ErrGuest) || !strings.Contains(err.Error(), "panicked before the payload started") {
		t.Fatalf("err = %v, want ErrGuest naming the boot panic", err)
	}
	if !strings.Contains(err.Error(), "Kernel panic - not syncing") {
		t.Errorf("the error lacks the console's panic line: %v", err)
	}
	retries := 0
	for _, l := range logs {
		if strings.Contains(l, "panicked before running the payload") {
			retries++
		}
	}
	if retries != 2 {
		t.Errorf("%d retries logged, want 2 (three boots): %q", retries, logs)
	}
	if strings.Contains(out.String(), "payload-ran") {
		t.Errorf("the payload ran: %q", out.String())
	}
}
