package ffs

// Kernel tests: they run in the vmtest guest against dummy_hcd, with the
// guest's own usbcore as the host and usbfs (internal/linux) as the host peer.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// testDescriptors is one vendor interface with bulk OUT 1 (ep1) and bulk
// IN 2 (ep2).
func testDescriptors() *Descriptors {
	return &Descriptors{Interfaces: []Interface{{
		Class: usb.ClassVendorSpecific,
		Name:  1,
		Endpoints: []Endpoint{
			{Address: usb.Address(1, usb.Out), Type: usb.Bulk},
			{Address: usb.Address(2, usb.In), Type: usb.Bulk},
		},
	}}}
}

func testStrings() *Strings {
	return &Strings{Languages: []Language{{ID: usb.LangEnglishUS, Strings: []string{"gadgetkit ffs test"}}}}
}

type rig struct {
	f       *Function
	g       *guest.Gadget
	out, in *EP
	host    int // usbfs fd of the enumerated gadget
	// The UDC picks the endpoint numbers (dummy_hcd has ep1in, ep2out, ...):
	// the host uses the addresses of the descriptors in use.
	hostOut, hostIn uint8
	runErr          chan error
}

// newRig opens a Function on a fresh gadget, binds it, waits for ENABLE
// and opens the host side through usbfs.
func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	guest.Require(t)
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{"ffs.t"}})
	cfg.Descriptors = testDescriptors()
	cfg.Strings = testStrings()
	f, err := Open(g.FFS("t"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{f: f, g: g, out: f.EP("ep1"), in: f.EP("ep2"), host: -1, runErr: make(chan error, 1)}
	ctx, stop := context.WithCancel(context.Background())
	go func() { r.runErr <- f.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if r.host >= 0 {
			unix.Close(r.host)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-r.runErr; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			t.Errorf("Run: %v", err)
		}
	})
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	r.waitEnabled(t)
	r.openHost(t)
	return r
}

func (r *rig) waitEnabled(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.f.WaitState(ctx, StateEnabled); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) openHost(t *testing.T) {
	t.Helper()
	if r.host >= 0 {
		unix.Close(r.host)
	}
	dev, err := guest.WaitHostDevice(r.g.Serial, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	node, err := guest.DevNode(dev)
	if err != nil {
		t.Fatal(err)
	}
	r.host, err = unix.Open(node, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", node, err)
	}
	aOut, err := r.out.HostAddress()
	if err != nil {
		t.Fatal(err)
	}
	aIn, err := r.in.HostAddress()
	if err != nil {
		t.Fatal(err)
	}
	if aOut.IsIn() || !aIn.IsIn() {
		t.Fatalf("host addresses %v and %v: directions differ from the descriptors", aOut, aIn)
	}
	r.hostOut, r.hostIn = uint8(aOut), uint8(aIn)
}

// hostWrite sends p to the gadget's OUT endpoint; hostRead reads from IN.
func (r *rig) hostWrite(p []byte) (int, error) { return linux.USBBulk(r.host, r.hostOut, p, 5000) }
func (r *rig) hostRead(p []byte) (int, error)  { return linux.USBBulk(r.host, r.hostIn, p, 5000) }

func isCancelled(err error) bool {
	return errors.Is(err, ErrCancelled) && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EINTR))
}

// rawCancelled is a raw completion of a cancelled request: -ECONNRESET, or
// -EINTR on the stable kernels that generate completions in io_cancel.
func rawCancelled(res int64) bool {
	return res == -int64(syscall.ECONNRESET) || res == -int64(syscall.EINTR)
}

func TestCancelPendingThenCarryData(t *testing.T) {
	r := newRig(t, Config{QueueDepth: 4, RequestSize: 4096})
	if mp := r.out.MaxPacketSize(); mp != 512 {
		t.Fatalf("OUT wMaxPacketSize %d after ENABLE at high speed, want 512", mp)
	}
	for _, ep := range []*EP{r.out, r.in} {
		req, err := ep.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := req.Submit(4096); err != nil { // > 64 bytes: dummy_hcd's FIFO does not swallow it
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		n, err := req.Wait(ctx)
		cancel()
		if n != 0 || !isCancelled(err) {
			t.Fatalf("%s: idle transfer cancelled through its context: %d, %v; want 0 and ErrCancelled/ECONNRESET", ep.Name(), n, err)
		}
		if !rawCancelled(req.RawResult()) {
			t.Fatalf("%s: raw completion %d, want -104 (ECONNRESET)", ep.Name(), req.RawResult())
		}
		t.Logf("%s: io_cancel answered %v; cancelled in %v; %v", ep.Name(), req.CancelErrno(), time.Since(start), err)
		req.Release()
	}

	// The same endpoints then carry data both ways.
	// 512 bytes: one full packet, which ends the transfer only because the
	// read asks for exactly 512.
	msg := bytes.Repeat([]byte("0123456789abcdef"), 32)
	herr := make(chan error, 1)
	go func() { _, err := r.hostWrite(msg); herr <- err }()
	buf := make([]byte, 512)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := r.out.Read(ctx, buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("OUT after cancel: %d bytes, %v; want the host's 512", n, err)
	}
	if err := <-herr; err != nil {
		t.Fatal(err)
	}
	reply := bytes.Repeat([]byte{0xa5}, 1000)
	werr := make(chan error, 1)
	go func() { _, err := r.in.Write(ctx, reply); werr <- err }()
	hb := make([]byte, 1024)
	hn, err := r.hostRead(hb)
	if err != nil || !bytes.Equal(hb[:hn], reply) {
		t.Fatalf("IN after cancel: host read %d bytes, %v; want the 1000 written", hn, err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}

// resources counts what the Function must give back on Close.
type resources struct{ fds, goroutines int }

func countResources(t *testing.T) resources {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return resources{fds: len(fds), goroutines: runtime.NumGoroutine()}
}

// mapped reports whether b's first byte lies in a mapping of
// /proc/self/maps (the kernel may merge it with its neighbours).
func mapped(t *testing.T, b []byte) bool {
	t.Helper()
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := strconv.ParseUint(strings.TrimPrefix(fmt.Sprintf("%p", &b[0]), "0x"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(maps)) {
		var lo, hi uint64
		if _, err := fmt.Sscanf(line, "%x-%x", &lo, &hi); err == nil && lo <= addr && addr < hi {
			return true
		}
	}
	return false
}

func TestSubmitCancelCycles(t *testing.T) {
	guest.Require(t)
	before := countResources(t)
	const depth, cycles = 16, 10000
	var stats Stats
	var mem []byte // the engine's mapping, to see it go
	t.Run("cycles", func(t *testing.T) {
		r := newRig(t, Config{QueueDepth: depth, RequestSize: 4096})
		mem = r.f.eng.mem.Bytes()
		if !mapped(t, mem) {
			t.Fatal("the request memory is not in /proc/self/maps")
		}
		poison := func(req *Request) {
			b := req.Buf()
			for i := range b {
				b[i] = 0x5a
			}
		}
		untouched := func(req *Request) bool {
			for _, c := range req.Buf() {
				if c != 0x5a {
					return false
				}
			}
			return true
		}
		var mu sync.Mutex
		var failures []string
		fail := func(format string, args ...any) {
			mu.Lock()
			failures = append(failures, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		start := time.Now()
		var wg sync.WaitGroup
		for _, ep := range []*EP{r.out, r.in} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reqs := make([]*Request, depth)
				for batch := range (cycles + 2*depth - 1) / (2 * depth) {
					for i := range reqs {
						req, err := ep.Get(context.Background())
						if err != nil {
							fail("%s get: %v", ep.Name(), err)
							return
						}
						if batch > 0 && !untouched(req) {
							fail("%s: a released buffer was written", ep.Name())
						}
						if err := req.Submit(4096); err != nil {
							fail("%s submit: %v", ep.Name(), err)
							return
						}
						reqs[i] = req
					}
					// Alternate the two ways to cancel: each Wait's own
					// context, and CancelAll for the endpoint.
					ctx, cancel := context.WithCancel(context.Background())
					if batch%2 == 0 {
						cancel()
					} else if err := ep.CancelAll(context.Background()); err != nil {
						fail("%s CancelAll: %v", ep.Name(), err)
					}
					for _, req := range reqs {
						n, err := req.Wait(ctx)
						if n != 0 || !isCancelled(err) {
							fail("%s: cancelled idle transfer gave %d, %v", ep.Name(), n, err)
						}
						poison(req)
						req.Release()
					}
					cancel()
				}
			}()
		}
		wg.Wait()
		for _, f := range failures[:min(len(failures), 10)] {
			t.Error(f)
		}
		stats = r.f.Stats()
		t.Logf("%d submit/cancel cycles in %v: %+v", stats.Submitted, time.Since(start), stats)
		if stats.Submitted != stats.Completed || stats.Unexpected != 0 || stats.InFlight != 0 {
			t.Fatalf("not exactly one completion per request: %+v", stats)
		}
		if stats.Submitted < cycles {
			t.Fatalf("only %d cycles ran", stats.Submitted)
		}
	})
	// Close ran in the subtest's cleanup; the gadget's removal too.
	var after resources
	// The Run goroutine and the reaper exit asynchronously. Fewer than
	// before is no leak: a goroutine of an earlier test may have ended.
	// The deadline only guards a hang.
	settled := func() bool { return after.fds <= before.fds && after.goroutines <= before.goroutines }
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if after = countResources(t); settled() || time.Now().After(deadline) {
			break
		}
	}
	if !settled() {
		t.Fatalf("resources before Open %+v, after Close %+v", before, after)
	}
	if mapped(t, mem) {
		t.Fatal("request memory still mapped after Close")
	}
}

// A cancel racing a completion: the host streams numbered packets while the
// gadget reads with contexts that expire at random moments. Every packet the
// host sent must arrive exactly once, in order: a cancel that lost the race
// returns the real data, a cancel that won returns none.
func TestCancelRacesCompletion(t *testing.T) {
	r := newRig(t, Config{QueueDepth: 1, RequestSize: 512})
	const packets = 300
	hostErr := make(chan error, 1)
	go func() {
		p := make([]byte, 512)
		for i := range packets {
			binary.LittleEndian.PutUint32(p, uint32(i))
			if _, err := r.hostWrite(p); err != nil {
				hostErr <- fmt.Errorf("host packet %d: %w", i, err)
				return
			}
		}
		hostErr <- nil
	}()
	req, err := r.out.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer req.Release()
	next, cancelled, lostRace := 0, 0, 0
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; next < packets; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d packets after 60s", next, packets)
		}
		if err := req.Submit(512); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*100*time.Microsecond)
		n, err := req.Wait(ctx)
		cancel()
		switch {
		case err == nil && n == 512:
			if got := int(binary.LittleEndian.Uint32(req.Buf())); got != next {
				t.Fatalf("packet %d arrived when %d was due: a cancelled transfer lost or repeated data", got, next)
			}
			next++
			if req.CancelErrno() == syscall.EINVAL {
				lostRace++
			}
		case isCancelled(err) && n == 0:
			cancelled++
		default:
			t.Fatalf("transfer %d: %d bytes, %v", i, n, err)
		}
	}
	if err := <-hostErr; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d packets in order; %d transfers cancelled; %d cancels lost the race and returned the data", packets, cancelled, lostRace)
	if cancelled == 0 {
		t.Fatal("no transfer was cancelled: the test did not exercise the race")
	}
}

func TestDisconnectWithFullQueueThenResume(t *testing.T) {
	const depth = 8
	r := newRig(t, Config{QueueDepth: depth, RequestSize: 4096})
	var reqs []*Request
	for _, ep := range []*EP{r.out, r.in} {
		for range depth {
			req, err := ep.Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := req.Submit(4096); err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, req)
		}
	}
	udc := r.g.UDC()
	if err := guest.SoftConnect(udc, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, req := range reqs {
		n, err := req.Wait(ctx)
		if n != 0 || !errors.Is(err, ErrShutdown) || !errors.Is(err, syscall.ESHUTDOWN) {
			t.Fatalf("%s: in flight at disconnect: %d, %v (raw %d, cancel %v); want ErrShutdown", req.EP().Name(), n, err, req.RawResult(), req.CancelErrno())
		}
		req.Release()
	}
	if err := r.f.WaitState(ctx, StateBound); err != nil {
		t.Fatal(err)
	}
	// While disconnected, a transfer fails at once with ErrNotEnabled.
	if _, err := r.out.Read(ctx, make([]byte, 512)); !errors.Is(err, ErrNotEnabled) || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("read while disconnected: %v, want ErrNotEnabled", err)
	}
	// Debian 6.1's dummy_hcd leaves ep0 mute after soft_connect connect
	// (see vmtest/guest), so reconnect by rebinding: the Function
	// and its open files carry on.
	if err := guest.SoftConnect(udc, true); err != nil {
		t.Fatal(err)
	}
	if err := r.g.Unbind(); err != nil {
		t.Fatal(err)
	}
	if err := r.f.WaitState(ctx, StateUnbound); err != nil {
		t.Fatal(err)
	}
	if err := guest.WaitHostGone(r.g.Serial, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := r.g.BindTo(udc); err != nil {
		t.Fatal(err)
	}
	r.waitEnabled(t)
	r.openHost(t)
	msg := bytes.Repeat([]byte{0x3c}, 700)
	go r.hostWrite(msg)
	buf := make([]byte, 1024)
	n, err := r.out.Read(ctx, buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("after reconnect: read %d bytes, %v; want the host's 700", n, err)
	}
}

// Vendor requests of the test function (recipient interface, wIndex 0).
const (
	reqGetID  = 0x01 // IN, wLength 8: "gadgetkt"
	reqSetVal = 0x02 // OUT, wLength 4
	reqPoke   = 0x03 // no data
)

func TestControlRequests(t *testing.T) {
	var mu sync.Mutex
	stored := make(chan []byte, 1)
	var handlerErrs []error
	cfg := Config{
		OnControl: func(c *Control) error {
			switch {
			case c.RequestType == 0xc1 && c.Request == reqGetID:
				if c.Length != 8 {
					return fmt.Errorf("GET_ID wLength %d, want 8", c.Length)
				}
				return c.Write([]byte("gadgetkt"))
			case c.RequestType == 0x41 && c.Request == reqSetVal:
				if c.Length != 4 {
					return fmt.Errorf("SET_VAL wLength %d, want 4", c.Length)
				}
				b := make([]byte, 4)
				if _, err := c.Read(b); err != nil {
					return err
				}
				stored <- b
				return nil
			case c.RequestType == 0x41 && c.Request == reqPoke:
				return c.Ack()
			case c.RequestType == 0xc1 && c.Request == 0x66:
				panic("handler bug")
			}
			return errors.New("unknown request")
		},
		OnError: func(err error) {
			mu.Lock()
			handlerErrs = append(handlerErrs, err)
			mu.Unlock()
		},
	}
	r := newRig(t, cfg)
	ctl := func(rt, req uint8, data []byte) (int, error) {
		return linux.USBControl(r.host, rt, req, 0, 0, data, 2000)
	}
	buf := make([]byte, 8)
	if n, err := ctl(0xc1, reqGetID, buf); err != nil || string(buf[:n]) != "gadgetkt" {
		t.Fatalf("IN data stage: %q, %v", buf[:n], err)
	}
	if _, err := ctl(0x41, reqSetVal, []byte{1, 2, 3, 4}); err != nil {
		t.Fatalf("OUT data stage: %v", err)
	}
	// The host's status stage can complete before the handler stores.
	select {
	case got := <-stored:
		if !bytes.Equal(got, []byte{1, 2, 3, 4}) {
			t.Fatalf("gadget received %v, want 1 2 3 4", got)
		}
	case <-time.After(10 * time.Second): // only a hang guard
		t.Fatal("the SET_VAL handler stored nothing 10 s after the host's request was answered")
	}
	if _, err := ctl(0x41, reqPoke, nil); err != nil {
		t.Fatalf("no-data request: %v", err)
	}
	stalls := []struct {
		name    string
		rt, req uint8
		data    []byte
	}{
		{"unknown request", 0xc1, 0x7f, make([]byte, 4)},
		{"wrong wLength", 0xc1, reqGetID, make([]byte, 9)},
		{"wrong wLength OUT", 0x41, reqSetVal, make([]byte, 3)},
		{"handler panic", 0xc1, 0x66, make([]byte, 2)},
	}
	for _, s := range stalls {
		if _, err := ctl(s.rt, s.req, s.data); !errors.Is(err, syscall.EPIPE) {
			t.Errorf("%s: host got %v, want a stall (EPIPE)", s.name, err)
		}
	}
	// The function still answers after the stalls.
	if n, err := ctl(0xc1, reqGetID, buf); err != nil || string(buf[:n]) != "gadgetkt" {
		t.Fatalf("IN data stage after stalls: %q, %v", buf[:n], err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handlerErrs) != len(stalls) {
		t.Fatalf("OnError saw %d errors, want one per stalled request (%d): %v", len(handlerErrs), len(stalls), handlerErrs)
	}
	if !strings.Contains(handlerErrs[3].Error(), "handler panic: handler bug") {
		t.Errorf("panic reported as %v", handlerErrs[3])
	}
}

func TestFullQueueZeroAllocsOnUSB(t *testing.T) {
	const depth = 16
	r := newRig(t, Config{QueueDepth: depth, RequestSize: 512})
	stop := make(chan struct{})
	hostDone := make(chan struct{})
	go func() { // the host drains IN as fast as it can
		defer close(hostDone)
		p := make([]byte, 512)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := r.hostRead(p); err != nil && !errors.Is(err, syscall.ETIMEDOUT) {
				t.Errorf("host read: %v", err)
				return
			}
		}
	}()
	ctx := context.Background()
	ring := make([]*Request, depth)
	for i := range ring {
		req, err := r.in.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := req.Submit(512); err != nil {
			t.Fatal(err)
		}
		ring[i] = req
	}
	head := 0
	var failed error
	allocs := testing.AllocsPerRun(500, func() {
		req := ring[head]
		if n, err := req.Wait(ctx); err != nil || n != 512 {
			failed = fmt.Errorf("transfer: %d, %w", n, err)
		}
		if err := req.Submit(512); err != nil {
			failed = err
		}
		head = (head + 1) % depth
	})
	close(stop)
	for _, req := range ring {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		req.Wait(wctx)
		cancel()
		req.Release()
	}
	<-hostDone
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per request with a full queue on a real endpoint, want 0", allocs)
	}
}

// Cancelling a pending read through its context and resubmitting it
// allocates nothing: io_cancel's answer is kept as an errno and the
// cancellation's error is the endpoint's shared one.
func TestCancelZeroAllocsOnUSB(t *testing.T) {
	const depth = 8
	r := newRig(t, Config{QueueDepth: depth, RequestSize: 4096})
	ctx := context.Background()
	ring := make([]*Request, depth)
	for i := range ring {
		req, err := r.out.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := req.Submit(4096); err != nil {
			t.Fatal(err)
		}
		ring[i] = req
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	head := 0
	var failed error
	allocs := testing.AllocsPerRun(300, func() {
		req := ring[head]
		if _, err := req.Wait(done); !isCancelled(err) {
			failed = fmt.Errorf("cancelled read: %w", err)
		}
		if err := req.Submit(4096); err != nil {
			failed = err
		}
		head = (head + 1) % depth
	})
	for _, req := range ring {
		req.Wait(done)
		req.Release()
	}
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per cancel and resubmit on a real endpoint, want 0", allocs)
	}
}

func TestHaltAndClearHalt(t *testing.T) {
	r := newRig(t, Config{QueueDepth: 2, RequestSize: 4096})
	if err := r.in.Halt(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.hostRead(make([]byte, 512)); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("host read of a halted IN endpoint: %v, want EPIPE", err)
	}
	if d, err := r.in.Descriptor(); err != nil || len(d) < 7 || d[2] != r.hostIn || d[4] != 0 || d[5] != 2 {
		t.Fatalf("endpoint descriptor %x, %v; want bEndpointAddress %#x, wMaxPacketSize 512", d, err, r.hostIn)
	}
	if n, err := r.in.Number(); err == nil {
		t.Logf("FUNCTIONFS_ENDPOINT_REVMAP works on this kernel: %d", n)
	} else if !strings.Contains(err.Error(), "kernel returned 255") {
		t.Fatal(err)
	}
	if err := r.in.ClearHalt(); err != nil {
		t.Fatal(err)
	}
	go r.in.Write(context.Background(), []byte("after clear halt"))
	b := make([]byte, 512)
	if n, err := r.hostRead(b); err != nil || string(b[:n]) != "after clear halt" {
		t.Fatalf("host read after ClearHalt: %q, %v", b[:n], err)
	}
	if _, err := r.out.FIFOStatus(); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("FIFO status on dummy_hcd: %v, want EOPNOTSUPP (it keeps no FIFO count)", err)
	}
	if err := r.out.FIFOFlush(); err != nil {
		t.Errorf("FIFO flush: %v", err)
	}
	if i, err := r.f.InterfaceIndex(0); err != nil || i != 0 {
		t.Fatalf("INTERFACE_REVMAP(0) = %d, %v; want 0", i, err)
	}
}

// A handler too slow for the host: the host gives up, sends a new request,
// and the late answer to the old one gets ErrStaleSetup (EIDRM) while the
// new one is answered.
func TestStaleSetup(t *testing.T) {
	errs := make(chan error, 4)
	cfg := Config{
		OnControl: func(c *Control) error {
			if c.Request == 0x10 {
				time.Sleep(500 * time.Millisecond)
			}
			return c.Write([]byte{c.Request})
		},
		OnError: func(err error) { errs <- err },
	}
	r := newRig(t, cfg)
	b := make([]byte, 1)
	if _, err := linux.USBControl(r.host, 0xc1, 0x10, 0, 0, b, 50); !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("slow request: %v, want the host to time out", err)
	}
	if n, err := linux.USBControl(r.host, 0xc1, 0x11, 0, 0, b, 3000); err != nil || n != 1 || b[0] != 0x11 {
		t.Fatalf("request after the stale one: %v %v", b[:n], err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, ErrStaleSetup) || !errors.Is(err, syscall.EIDRM) {
			t.Fatalf("late answer reported %v, want ErrStaleSetup/EIDRM", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the late answer to the stale request reported nothing")
	}
}

func TestUnbindWithTransfersInFlight(t *testing.T) {
	r := newRig(t, Config{QueueDepth: 4, RequestSize: 4096})
	var reqs []*Request
	for _, ep := range []*EP{r.out, r.in} {
		for range 4 {
			req, err := ep.Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := req.Submit(4096); err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, req)
		}
	}
	if err := r.g.Unbind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, req := range reqs {
		if n, err := req.Wait(ctx); n != 0 || !errors.Is(err, ErrShutdown) {
			t.Fatalf("%s in flight at unbind: %d, %v; want ErrShutdown", req.EP().Name(), n, err)
		}
		req.Release()
	}
	if err := r.f.WaitState(ctx, StateUnbound); err != nil {
		t.Fatal(err)
	}
	if err := r.g.Bind(); err != nil {
		t.Fatal(err)
	}
	r.waitEnabled(t)
	r.openHost(t)
	go r.hostWrite([]byte("back"))
	buf := make([]byte, 512)
	if n, err := r.out.Read(ctx, buf); err != nil || string(buf[:n]) != "back" {
		t.Fatalf("after rebind: %q, %v", buf[:n], err)
	}
}

// The streaming adapters over real USB: every byte arrives, in order, both
// ways, with the whole queue in flight. The rates are logged for the record
// (under TCG they measure the emulator, not the code).
func TestStreamsOverUSB(t *testing.T) {
	const chunk, total = 16 << 10, 8 << 20
	r := newRig(t, Config{QueueDepth: 16, RequestSize: chunk})
	data := make([]byte, total)
	for i := range data {
		data[i] = byte(i*31/7 + i>>12)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	w := r.in.NewWriter(ctx)
	werr := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		if err == nil {
			err = w.Close()
		}
		werr <- err
	}()
	start := time.Now()
	buf := make([]byte, chunk)
	for off := 0; off < total; {
		n, err := r.hostRead(buf)
		if err != nil {
			t.Fatalf("host read at %d: %v", off, err)
		}
		if !bytes.Equal(buf[:n], data[off:off+n]) {
			t.Fatalf("IN bytes %d..%d differ from what the gadget wrote", off, off+n)
		}
		off += n
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	t.Logf("IN: %d MiB in %v (%.1f MB/s)", total>>20, time.Since(start), float64(total)/time.Since(start).Seconds()/1e6)

	herr := make(chan error, 1)
	go func() {
		for off := 0; off < total; off += chunk {
			if _, err := r.hostWrite(data[off : off+chunk]); err != nil {
				herr <- fmt.Errorf("host write at %d: %w", off, err)
				return
			}
		}
		herr <- nil
	}()
	start = time.Now()
	rd := r.out.NewReader(ctx)
	defer rd.Close()
	for off := 0; off < total; {
		n, err := rd.Read(buf)
		if err != nil {
			t.Fatalf("Reader at %d: %v", off, err)
		}
		if !bytes.Equal(buf[:n], data[off:off+n]) {
			t.Fatalf("OUT bytes %d..%d differ from what the host wrote", off, off+n)
		}
		off += n
	}
	if err := <-herr; err != nil {
		t.Fatal(err)
	}
	t.Logf("OUT: %d MiB in %v (%.1f MB/s)", total>>20, time.Since(start), float64(total)/time.Since(start).Seconds()/1e6)
}

// A transfer of exactly wMaxPacketSize bytes is not terminated for a host
// reading more; WriteZLP ends it.
func TestWriteZLPEndsTransfer(t *testing.T) {
	r := newRig(t, Config{QueueDepth: 2, RequestSize: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg := bytes.Repeat([]byte{0x77}, 512)
	werr := make(chan error, 1)
	go func() {
		_, err := r.in.Write(ctx, msg)
		if err == nil {
			err = r.in.WriteZLP(ctx)
		}
		werr <- err
	}()
	buf := make([]byte, 4096)
	n, err := r.hostRead(buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("host read %d bytes, %v; want the 512 ended by the ZLP", n, err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
}

// A pump on a real endpoint pair: what the host writes reaches done, the
// host reads what start and done queued, requests stay pending while the
// host is idle, and cancelling the context ends each pending transfer as a
// cancellation, with none left in flight.
func TestPumpOverUSB(t *testing.T) {
	const depth, packets = 8, 64
	r := newRig(t, Config{QueueDepth: depth, RequestSize: 512})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	host := make(chan error, 1)
	go func() {
		defer cancel() // the host is done: stop the pump
		p := bytes.Repeat([]byte{0xa5}, 512)
		for range packets {
			if n, err := r.hostWrite(p); err != nil || n != 512 {
				host <- fmt.Errorf("host write: %d, %v", n, err)
				return
			}
		}
		for range packets {
			n, err := r.hostRead(p)
			if err != nil || n != 512 || p[0] != 0x5a || p[511] != 0x5a {
				host <- fmt.Errorf("host read: %d, %v, first byte %#x", n, err, p[0])
				return
			}
		}
		host <- nil
	}()
	var outData, inDone, cancelled, other int
	start := func(q *Request) int {
		if q.EP() == r.in {
			for i := range q.Buf() {
				q.Buf()[i] = 0x5a
			}
		}
		return 512
	}
	done := func(q *Request, n int, err error) (int, error) {
		switch {
		case isCancelled(err):
			cancelled++
		case err != nil:
			other++
			t.Errorf("%s: %v", q.EP().Name(), err)
		case q.EP() == r.out:
			if n != 512 || q.Buf()[0] != 0xa5 || q.Buf()[511] != 0xa5 {
				t.Errorf("OUT completion of %d bytes, first byte %#x", n, q.Buf()[0])
			}
			outData++
		default:
			inDone++
		}
		return 512, nil
	}
	if err := Pump(ctx, []*EP{r.in, r.out}, start, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pump = %v, want context.Canceled once the host stopped", err)
	}
	if err := <-host; err != nil {
		t.Fatal(err)
	}
	if outData != packets || inDone != packets {
		t.Errorf("done saw %d OUT and %d IN transfers, want %d each", outData, inDone, packets)
	}
	if cancelled < 1 || cancelled > 2*depth {
		t.Errorf("%d cancellations when the pump stopped, want 1..%d (the transfers left pending)", cancelled, 2*depth)
	}
	for _, ep := range []*EP{r.in, r.out} {
		if n := ep.inflight.Load(); n != 0 {
			t.Errorf("%s: %d requests in flight after Pump returned", ep.Name(), n)
		}
		if n := len(ep.free); n != depth {
			t.Errorf("%s: %d of %d requests back in the pool", ep.Name(), n, depth)
		}
	}
}
