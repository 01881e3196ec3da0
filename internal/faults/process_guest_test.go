//go:build cgo

package faults

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/internal/testkit"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// daemonProc runs this test binary as a gadgetd of configs/loopback.yaml
// (see TestMain).
func daemonProc(t *testing.T, stderr *testkit.Log) *exec.Cmd {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "configs", "loopback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envDaemon+"="+path)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestKillWithIOInFlightThenRestart SIGKILLs a daemon with requests in
// flight both ways: the host sees the device leave, the killed run's
// configfs tree and mount stay behind, and a new daemon replaces them and
// carries a checked stream. SIGTERM then leaves nothing behind.
//
// No OUT data may be arriving when the daemon dies: on 6.1, 6.12 and 7.2
// that can deadlock f_fs (README, Known problems). So the host first sends
// four requests' worth and reads their echo back up to one packet into
// the fourth: the daemon has then reaped every OUT completion that carried
// data (it forwarded the last one), and is killed with the fourth IN
// request part read and all its OUT requests queued and empty.
func TestKillWithIOInFlightThenRestart(t *testing.T) {
	guest.Require(t)
	cfg := loadConfig(t, "loopback.yaml")
	r := &rig{t: t, cfg: cfg, serial: cfg.Gadget.Strings[0].Serial}
	t.Cleanup(func() {
		if r.d != nil {
			r.d.Close()
		}
	})
	var log1, log2 testkit.Log
	first := daemonProc(t, &log1)
	r.reopen()
	r.check("first daemon")

	size := cfg.Functions[0].FunctionFS.Personality.RequestSize
	sent := make([]byte, 4*size)
	for i := range sent {
		sent[i] = byte(i % 251)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if _, err := r.p.Out.WriteContext(ctx, sent); err != nil {
		t.Fatalf("write of %d bytes: %v", len(sent), err)
	}
	echo := make([]byte, 3*size+r.p.MaxPacket)
	for n := 0; n < len(echo); {
		got, err := r.p.In.ReadContext(ctx, echo[n:])
		n += got
		if err != nil || !bytes.Equal(echo[:n], sent[:n]) {
			t.Fatalf("the echo: %d of %d bytes, equal to what was sent %v: %v", n, len(echo), bytes.Equal(echo[:n], sent[:n]), err)
		}
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("killed daemon exited with %v", err)
	}
	if err := guest.WaitHostGone(r.serial, hangGuard); err != nil {
		t.Fatalf("after SIGKILL: %v (the last file closing should unbind the gadget)\nkernel stacks:\n%s", err, guest.KernelStacks())
	}
	rest := make([]byte, size)
	if n, err := r.p.In.ReadContext(ctx, rest); err == nil {
		t.Errorf("read %d bytes of the killed daemon's IN request from a device that left", n)
	}
	names, err := (&configfs.Root{}).Gadgets()
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := configfs.FunctionFSMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || len(mounts) != 1 {
		t.Fatalf("after SIGKILL: gadgets %v and mounts %+v, want the killed run's one of each", names, mounts)
	}

	second := daemonProc(t, &log2)
	r.reopen()
	r.check("restarted daemon")
	if !strings.Contains(log2.String(), "stale gadget tree") {
		t.Errorf("the restarted daemon did not report replacing the stale tree:\n%s", log2.String())
	}
	r.d.Close()
	r.d = nil
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("SIGTERM: daemon exited with %v\n%s", err, log2.String())
	}
	testkit.AssertNoResidue(t)
}

// TestMoveBetweenUDCs reloads dummy_hcd with three UDCs and moves the
// served gadget from each to the next, with full queues each time: the
// host finds it on another bus and the loopback carries a checked stream.
func TestMoveBetweenUDCs(t *testing.T) {
	guest.Require(t)
	if err := guest.ReloadDummyHCD("num=3"); err != nil {
		t.Fatal(err)
	}
	// Registered before start's cleanup, so it runs after the gadget is gone.
	t.Cleanup(func() {
		if err := guest.ReloadDummyHCD(""); err != nil {
			t.Errorf("restore dummy_hcd: %v", err)
		}
	})
	udcs := guest.UDCs()
	if len(udcs) != 3 {
		t.Fatalf("UDCs %v after num=3", udcs)
	}
	r := start(t, "loopback.yaml")
	r.check("first UDC")
	var base usage
	from := r.g.UDC()
	for i := range 2 * len(udcs) {
		to := udcs[(indexOf(udcs, from)+1)%len(udcs)]
		bus := r.d.Info.Bus
		r.fill()
		r.bindTo("")
		if err := guest.WaitHostGone(r.serial, hangGuard); err != nil {
			t.Fatal(err)
		}
		r.waitState("unbound")
		r.bindTo(to)
		r.reopen()
		if r.d.Info.Bus == bus {
			t.Fatalf("moved from %s to %s, the host still sees the device on bus %d", from, to, bus)
		}
		r.check("moved to " + to)
		if i == 0 {
			base = measure()
		}
		from = to
	}
	u := assertNoGrowth(t, "moves", base, 8<<10)
	t.Logf("%d moves across %v; usage %+v -> %+v", 2*len(udcs), udcs, base, u)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
