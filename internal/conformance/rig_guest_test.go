package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/internal/testkit"
	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// A generous hang guard for a loaded 2-core machine under -race, and for
// 5.10's dummy_hcd, which ticks on a 4 ms jiffies timer.
const guard = 20 * time.Second

const (
	bufSize  = 64 << 10
	nBufs    = 16
	nIOCBs   = 32
	regionSz = 4096 + nBufs*bufSize
)

// rig is one gadget with one FunctionFS function: package ffs writes the
// descriptors and serves ep0 (the toolkit's own path to ENABLE), while the
// tests drive the data endpoints through their own files, AIO context and
// memory, so that every io_submit and io_cancel is exactly the one the
// claim is about. The host is the guest's usbcore, through usbfs.
type rig struct {
	t               *testing.T
	g               *guest.Gadget
	f               *ffs.Function
	udc             string
	outPath, inPath string
	outFD, inFD     int
	ctx             linux.Context
	efd             int
	efile           *os.File
	mem             *linux.Region
	host            int
	hostOut, hostIn uint8
}

func fdCount() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	guest.Require(t)
	fds, gor := fdCount(), runtime.NumGoroutine()
	// Registered first, so it runs last: after the gadget is gone.
	t.Cleanup(func() {
		testkit.AssertNoResidue(t)
		if n := fdCount(); n > fds {
			t.Errorf("fd leak: %d open after teardown, %d before the rig", n, fds)
		}
		deadline := time.Now().Add(guard)
		for runtime.NumGoroutine() > gor && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > gor {
			t.Errorf("goroutine leak: %d after teardown, %d before the rig", n, gor)
		}
	})
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{"ffs.c"}})
	f, err := ffs.Open(g.FFS("c"), ffs.Config{
		Descriptors: &ffs.Descriptors{Interfaces: []ffs.Interface{{
			Class: usb.ClassVendorSpecific,
			Name:  1,
			Endpoints: []ffs.Endpoint{
				{Address: usb.Address(1, usb.Out), Type: usb.Bulk},
				{Address: usb.Address(2, usb.In), Type: usb.Bulk},
			},
		}}},
		Strings:     &ffs.Strings{Languages: []ffs.Language{{ID: usb.LangEnglishUS, Strings: []string{"gadgetkit conformance"}}}},
		QueueDepth:  1,
		RequestSize: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, g: g, f: f, outFD: -1, inFD: -1, efd: -1, host: -1,
		outPath: filepath.Join(f.Dir(), "ep1"), inPath: filepath.Join(f.Dir(), "ep2")}
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- f.Run(runCtx) }()
	t.Cleanup(func() {
		// io_destroy cancels what a test left in flight and waits for it,
		// so the memory can go after it.
		if r.ctx != 0 {
			if err := r.ctx.Destroy(); err != nil {
				t.Errorf("io_destroy: %v", err)
			}
		}
		for _, fd := range []int{r.outFD, r.inFD, r.host} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		if r.efile != nil {
			r.efile.Close()
		}
		if r.mem != nil {
			if err := r.mem.Unmap(); err != nil {
				t.Error(err)
			}
		}
		stop()
		if err := f.Close(); err != nil {
			t.Errorf("ffs Close: %v", err)
		}
		if err := <-ran; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ffs.ErrClosed) {
			t.Errorf("ffs Run: %v", err)
		}
	})
	for _, p := range []struct {
		path string
		fd   *int
	}{{r.outPath, &r.outFD}, {r.inPath, &r.inFD}} {
		// O_NONBLOCK: a request on a disabled endpoint fails with EAGAIN
		// instead of blocking io_submit.
		if *p.fd, err = unix.Open(p.path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err != nil {
			t.Fatalf("open %s: %v", p.path, err)
		}
	}
	if r.ctx, err = linux.Setup(nIOCBs); err != nil {
		t.Fatal(err)
	}
	if r.efd, r.efile, err = linux.NewEventfd(); err != nil {
		t.Fatal(err)
	}
	if r.mem, err = linux.Map(regionSz); err != nil {
		t.Fatal(err)
	}
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	r.udc = g.UDC()
	wctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := f.WaitState(wctx, ffs.StateEnabled); err != nil {
		t.Fatalf("the host did not enable the function: %v", err)
	}
	r.openHost()
	return r
}

func (r *rig) openHost() {
	t := r.t
	dev, err := guest.WaitHostDevice(r.g.Serial, guard)
	if err != nil {
		t.Fatal(err)
	}
	node, err := guest.DevNode(dev)
	if err != nil {
		t.Fatal(err)
	}
	if r.host, err = unix.Open(node, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
		t.Fatalf("open %s: %v", node, err)
	}
	out, err := r.f.EP("ep1").HostAddress()
	if err != nil {
		t.Fatal(err)
	}
	in, err := r.f.EP("ep2").HostAddress()
	if err != nil {
		t.Fatal(err)
	}
	r.hostOut, r.hostIn = uint8(out), uint8(in)
}

// cb is iocb i; buf is buffer i's first n bytes.
func (r *rig) cb(i int) *linux.IOCB { return &r.mem.IOCBs(i*linux.IOCBSize, 1)[0] }
func (r *rig) buf(i, n int) []byte  { return r.mem.Bytes()[4096+i*bufSize : 4096+i*bufSize+n] }

// read submits iocb i: a read of n bytes from the OUT endpoint into buffer i.
func (r *rig) read(i, n int) *linux.IOCB {
	r.t.Helper()
	cb := r.cb(i)
	cb.PrepRead(r.outFD, r.buf(i, n), uint64(i), r.efd)
	if err := r.ctx.SubmitOne(cb); err != nil {
		r.t.Fatalf("submit read %d: %v", i, err)
	}
	return cb
}

// write submits iocb i: a write of n bytes of buffer i to the IN endpoint.
func (r *rig) write(i, n int) *linux.IOCB {
	r.t.Helper()
	cb := r.cb(i)
	cb.PrepWrite(r.inFD, r.buf(i, n), uint64(i), r.efd)
	if err := r.ctx.SubmitOne(cb); err != nil {
		r.t.Fatalf("submit write %d: %v", i, err)
	}
	return cb
}

// events reaps exactly n completions, failing the test if they do not all
// arrive within the guard.
func (r *rig) events(n int) []linux.Event {
	r.t.Helper()
	evs := make([]linux.Event, n)
	got := 0
	deadline := time.Now().Add(guard)
	for got < n {
		left := time.Until(deadline)
		if left <= 0 {
			r.t.Fatalf("%d of %d completions within %v: %+v", got, n, guard, evs[:got])
		}
		ts := unix.NsecToTimespec(int64(left))
		k, err := r.ctx.GetEvents(n-got, evs[got:], &ts)
		if err != nil && !errors.Is(err, unix.EINTR) {
			r.t.Fatal(err)
		}
		got += k
	}
	return evs
}

// posted fails the test if any completion is in the ring right now.
// io_getevents with a zero timeout answers EINTR instead of 0 when the ring
// is empty and a signal is pending (Go's preemption signal, often).
func (r *rig) posted() int {
	var evs [nIOCBs]linux.Event
	n, err := r.ctx.GetEvents(0, evs[:], &unix.Timespec{})
	if err != nil && !errors.Is(err, unix.EINTR) {
		r.t.Fatal(err)
	}
	if n > 0 {
		r.t.Fatalf("%d unexpected completions in the ring: %+v", n, evs[:n])
	}
	return n
}

// drainEventfd resets the eventfd's counter.
func (r *rig) drainEventfd() {
	var b [8]byte
	unix.Read(r.efd, b[:])
}

// signalled waits until the eventfd counts at least one completion since
// the last drain, and reports whether it did within the guard.
func (r *rig) signalled() bool {
	if err := r.efile.SetReadDeadline(time.Now().Add(guard)); err != nil {
		r.t.Fatal(err)
	}
	var b [8]byte
	n, err := r.efile.Read(b[:])
	return err == nil && n == 8 && binary.NativeEndian.Uint64(b[:]) > 0
}

// hostWrite sends p to the OUT endpoint in one bulk transfer; it returns
// once the gadget's requests have taken all of it (or the timeout).
func (r *rig) hostWrite(p []byte) (int, error) {
	return linux.USBBulk(r.host, r.hostOut, p, uint32(guard/time.Millisecond))
}

// hostResult is what an asynchronous host transfer ended with.
type hostResult struct {
	data []byte // what an IN transfer read
	err  error
}

// hostWriteAsync runs hostWrite on its own goroutine.
func (r *rig) hostWriteAsync(p []byte) <-chan hostResult {
	done := make(chan hostResult, 1)
	go func() {
		n, err := r.hostWrite(p)
		if err == nil && n != len(p) {
			err = fmt.Errorf("host wrote %d of %d bytes", n, len(p))
		}
		done <- hostResult{err: err}
	}()
	return done
}

// hostReadAsync reads up to n bytes from the IN endpoint in one bulk
// transfer on its own goroutine.
func (r *rig) hostReadAsync(n int) <-chan hostResult {
	done := make(chan hostResult, 1)
	go func() {
		b := make([]byte, n)
		k, err := linux.USBBulk(r.host, r.hostIn, b, uint32(guard/time.Millisecond))
		done <- hostResult{data: b[:k], err: err}
	}()
	return done
}

// hostDone waits for an asynchronous host transfer and fails the test if
// it failed or did not end within the guard.
func (r *rig) hostDone(what string, ch <-chan hostResult) hostResult {
	r.t.Helper()
	select {
	case h := <-ch:
		if h.err != nil {
			r.t.Fatalf("%s: host transfer: %v", what, h.err)
		}
		return h
	case <-time.After(guard + 5*time.Second):
		r.t.Fatalf("%s: the host's transfer did not return", what)
	}
	return hostResult{}
}

func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) ^ seed
	}
	return p
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

func allAre(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

func isCancelRes(res int64) bool {
	return res == -int64(unix.ECONNRESET) || res == -int64(unix.EINTR)
}

// cancelOK is an io_cancel answer that means "cancellation under way".
func cancelOK(err error) bool { return err == nil || errors.Is(err, unix.EINPROGRESS) }

func guestSoftConnect(t *testing.T, udc string, on bool) error {
	t.Helper()
	return guest.SoftConnect(udc, on)
}

func guestLoad(name string) error { return guest.LoadModule(name, "") }
