package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

func TestEcho(t *testing.T) {
	guest.Require(t)
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{"ffs.echo"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, g.FFS("echo")) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	// run writes the descriptors; binding before that fails. The deadline
	// only guards a hang.
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err = g.Bind(); err == nil {
			break
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("run returned before the gadget was bound: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("bind: %v", err)
		}
	}
	dev, err := guest.WaitHostDevice(g.Serial, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	read := func(a string) string { b, _ := os.ReadFile(filepath.Join(dev, a)); return strings.TrimSpace(string(b)) }
	fd, err := unix.Open(fmt.Sprintf("/dev/bus/usb/%03s/%03s", read("busnum"), read("devnum")), unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	v := make([]byte, 2)
	if n, err := linux.USBControl(fd, 0xc1, 1, 0, 0, v, 2000); err != nil || n != 2 || v[0] != 1 {
		t.Fatalf("version request: %v %v", v[:n], err)
	}
	if _, err := linux.USBControl(fd, 0xc1, 9, 0, 0, v, 2000); err == nil {
		t.Fatal("unknown request was not stalled")
	}
	// dummy_hcd gives the OUT endpoint 0x02 and the IN one 0x81.
	eps, _ := filepath.Glob(filepath.Join(dev, filepath.Base(dev)+":1.0", "ep_*"))
	var out, in uint8
	for _, ep := range eps {
		var a uint8
		fmt.Sscanf(filepath.Base(ep), "ep_%x", &a)
		if a&0x80 != 0 {
			in = a
		} else {
			out = a
		}
	}
	msg := []byte("hello, echo")
	if _, err := linux.USBBulk(fd, out, msg, 2000); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, 512)
	n, err := linux.USBBulk(fd, in, back, 2000)
	if err != nil || string(back[:n]) != string(msg) {
		t.Fatalf("echo: %q, %v", back[:n], err)
	}
	// A stop by its context (main's signal) is no failure: main exits 0.
	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatalf("run after its context was cancelled: %v, want nil", err)
	}
}

// An ep0 that fails ends the echo with Run's error (main exits 1) instead
// of leaving it waiting for an ENABLE that cannot come. The failure: the
// test puts a write-only /dev/null in place of run's ep0 fd, so Run's next
// read says EBADF.
func TestEchoReportsEP0Failure(t *testing.T) {
	guest.Require(t)
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{"ffs.echo"}})
	dir := g.FFS("echo")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, dir) }()
	// Open has written the descriptors once the endpoint files are there.
	ep0 := -1
	for deadline := time.Now().Add(20 * time.Second); ep0 < 0; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "ep2")); err == nil {
			ep0 = openFD(t, filepath.Join(dir, "ep0"))
		}
		if time.Now().After(deadline) {
			t.Fatal("run did not open ep0 and write the descriptors within 20 s")
		}
	}
	null, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(null)
	if err := unix.Dup3(null, ep0, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, syscall.EBADF) || !strings.Contains(err.Error(), "ep0") {
			t.Fatalf("run returned %v, want ep0's EBADF", err)
		}
		t.Logf("run: %v", err)
	case <-time.After(20 * time.Second): // only a hang guard
		cancel()
		t.Fatalf("run still waits 20 s after ep0 failed (then returned %v)", <-done)
	}
}

// openFD is the number of this process's fd open on path, -1 if none.
func openFD(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			var fd int
			fmt.Sscan(e.Name(), &fd)
			return fd
		}
	}
	return -1
}
