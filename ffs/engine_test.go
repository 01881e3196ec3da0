package ffs

// Host tests of the AIO engine: regular files and pipes stand in for
// endpoint files, which exist only under FunctionFS. Kernel AIO completes
// I/O on them synchronously, which exercises every path except a transfer
// that stays pending (those tests run in the guest).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/usb"
)

// fileEP opens path as the endpoint file of an endpoint with address addr.
func fileEP(t *testing.T, path string, addr usb.EndpointAddress) *EP {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &EP{file: EndpointFile{Name: filepath.Base(path), Address: addr, Type: usb.Bulk}, fd: fd}
}

func pipeEPs(t *testing.T) (in, out *EP, toHost, fromHost *os.File) {
	t.Helper()
	var a, b [2]int
	if err := unix.Pipe2(a[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if err := unix.Pipe2(b[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(a[1]); unix.Close(b[0]) })
	in = &EP{file: EndpointFile{Name: "ep1", Address: usb.Address(1, usb.In), Type: usb.Bulk}, fd: a[1]}
	out = &EP{file: EndpointFile{Name: "ep2", Address: usb.Address(2, usb.Out), Type: usb.Bulk}, fd: b[0]}
	return in, out, os.NewFile(uintptr(a[0]), "host-in"), os.NewFile(uintptr(b[1]), "host-out")
}

func startEngine(t *testing.T, eps []*EP, depth, size int) *engine {
	t.Helper()
	e, err := newEngine(eps, depth, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.close() })
	return e
}

func TestEngineReadWriteFile(t *testing.T) {
	dir := t.TempDir()
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	in := fileEP(t, filepath.Join(dir, "ep2"), usb.Address(2, usb.In))
	e := startEngine(t, []*EP{out, in}, 4, 100)
	if got := in.RequestSize(); got != os.Getpagesize() {
		t.Fatalf("RequestSize %d, want the request size rounded up to a page (%d)", got, os.Getpagesize())
	}
	ctx := context.Background()
	msg := []byte("from the gadget")
	if n, err := in.Write(ctx, msg); err != nil || n != len(msg) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "ep2"))
	if !bytes.Equal(got, msg) {
		t.Fatalf("IN endpoint file holds %q, want %q", got, msg)
	}
	if err := os.WriteFile(filepath.Join(dir, "ep1"), []byte("from the host"), 0o600); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := out.Read(ctx, buf)
	if err != nil || string(buf[:n]) != "from the host" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	// With wMaxPacketSize 8 a 4-byte read is rounded up to one packet: the
	// file yields 8 bytes, 4 fit.
	out.maxPacket.Store(8)
	short := make([]byte, 4)
	if n, err := out.Read(ctx, short); !errors.Is(err, io.ErrShortBuffer) || string(short[:n]) != "from" {
		t.Fatalf("Read into 4 bytes = %q, %v; want \"from\" and io.ErrShortBuffer", short[:n], err)
	}
	if s := (Stats{Submitted: e.submitted.Load(), Completed: e.completed.Load(), Unexpected: e.unexpected.Load()}); s.Submitted != 3 || s.Completed != 3 || s.Unexpected != 0 {
		t.Fatalf("stats %+v, want 3 submitted and completed, none unexpected", s)
	}
}

// A cancel that reaches a request the kernel already completed gets EINVAL,
// and Wait returns the real completion, once.
func TestCancelAfterCompletionReturnsRealResult(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ep1"), bytes.Repeat([]byte{7}, 300), 0o600); err != nil {
		t.Fatal(err)
	}
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	e := startEngine(t, []*EP{out}, 2, 512)
	ctx := context.Background()
	for range 100 {
		r, err := out.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Submit(512); err != nil {
			t.Fatal(err)
		}
		r.cancel() // a file read completes inside io_submit: the cancel always loses
		if r.CancelErrno() != syscall.EINVAL {
			t.Fatalf("io_cancel of a completed read answered %v, want EINVAL", r.CancelErrno())
		}
		n, err := r.Wait(ctx)
		if err != nil || n != 300 {
			t.Fatalf("Wait after a lost cancel = %d, %v; want the real 300 bytes", n, err)
		}
		r.Release()
	}
	if c, u := e.completed.Load(), e.unexpected.Load(); c != 100 || u != 0 {
		t.Fatalf("%d completions (%d unexpected) for 100 requests", c, u)
	}
}

func TestStreamAdaptersOverPipes(t *testing.T) {
	in, out, toHost, fromHost := pipeEPs(t)
	startEngine(t, []*EP{in, out}, 8, 4096)
	ctx := context.Background()
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte(i * 7 / 5)
	}

	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(toHost)
		got <- b
	}()
	w := in.NewWriter(ctx)
	if n, err := w.Write(payload); err != nil || n != len(payload) {
		t.Fatalf("Writer.Write = %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	unix.Close(in.fd) // EOF for the host side
	in.fd = -1
	if b := <-got; !bytes.Equal(b, payload) {
		t.Fatalf("host received %d bytes, not the %d written in order", len(b), len(payload))
	}

	go func() {
		fromHost.Write(payload)
		fromHost.Close()
	}()
	rd := out.NewReader(ctx)
	b, err := io.ReadAll(io.LimitReader(rd, int64(len(payload))))
	if err != nil || !bytes.Equal(b, payload) {
		t.Fatalf("Reader: %d bytes, %v; want the %d bytes the host wrote, in order", len(b), err, len(payload))
	}
	rd.Close()
	if len(out.free) != out.QueueDepth() || len(in.free) != in.QueueDepth() {
		t.Fatalf("requests not returned to the pools: %d/%d and %d/%d", len(out.free), out.QueueDepth(), len(in.free), in.QueueDepth())
	}
}

// The steady state of a full queue allocates nothing: resubmit the oldest
// request as soon as it completes.
func TestFullQueueZeroAllocs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ep1"), make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	const depth = 16
	startEngine(t, []*EP{out}, depth, 4096)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ring := make([]*Request, depth)
	for i := range ring {
		r, err := out.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Submit(4096); err != nil {
			t.Fatal(err)
		}
		ring[i] = r
	}
	head := 0
	var failed error
	allocs := testing.AllocsPerRun(2000, func() {
		r := ring[head]
		if _, err := r.Wait(ctx); err != nil {
			failed = err
		}
		if err := r.Submit(4096); err != nil {
			failed = err
		}
		head = (head + 1) % depth
	})
	if failed != nil {
		t.Fatal(failed)
	}
	for _, r := range ring {
		r.Wait(ctx)
		r.Release()
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per request in the steady state, want 0", allocs)
	}
}

func TestCloseWithRequestsHeld(t *testing.T) {
	dir := t.TempDir()
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	e, err := newEngine([]*EP{out}, 2, 512)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := out.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Submit(512); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after close: %v, want ErrClosed", err)
	}
	if _, err := out.Get(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after close: %v, want ErrClosed", err)
	}
	r.Buf()[0] = 1 // still mapped while held: this would fault after munmap
	if e.unmapped {
		t.Fatal("memory unmapped while a request is held")
	}
	r.Release()
	if !e.unmapped {
		t.Fatal("memory still mapped after the last request came back to a closed engine")
	}
}

func TestRunReturnsErrClosed(t *testing.T) {
	// A pipe stands in for ep0: Run parks on it until Close.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	f := &Function{ep0: os.NewFile(uintptr(p[0]), "ep0"), changed: make(chan struct{})}
	var err error
	if f.ep0raw, err = f.ep0.SyscallConn(); err != nil {
		t.Fatal(err)
	}
	if f.eng, err = newEngine(nil, 1, 1); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- f.Run(context.Background()) }()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v, want ErrClosed", err)
	}
	if f.State() != StateClosed {
		t.Fatalf("state %v after Close", f.State())
	}
}

// Seq numbers completions across endpoints in the order the kernel made
// them: file AIO completes in io_submit, so that is the submission order.
func TestSeqOrdersCompletionsAcrossEndpoints(t *testing.T) {
	dir := t.TempDir()
	a := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.In))
	b := fileEP(t, filepath.Join(dir, "ep2"), usb.Address(2, usb.In))
	startEngine(t, []*EP{a, b}, 2, 64)
	ctx := context.Background()
	var order []*Request
	for _, ep := range []*EP{a, b, a, b} {
		r, err := ep.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		if err := r.Submit(1); err != nil {
			t.Fatal(err)
		}
		order = append(order, r)
	}
	// Reap in reverse: the numbers follow the kernel's order, not ours.
	for i := len(order) - 1; i >= 0; i-- {
		if _, err := order[i].Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range order {
		if want := uint64(i + 1); r.Seq() != want {
			t.Fatalf("completion %d (%s) has Seq %d, want %d", i, r.EP().Name(), r.Seq(), want)
		}
	}
	if err := order[0].Submit(1); err != nil {
		t.Fatal(err)
	}
	if _, err := order[0].Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := order[0].Seq(); got != 5 {
		t.Fatalf("a resubmitted request's Seq is %d, want 5 (its last completion)", got)
	}
}

// SubmitBatch queues every request with one io_submit, each completing
// once with its own data, and refuses requests of another endpoint and a
// batch deeper than the queue.
func TestSubmitBatch(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"ep1", "ep2"} {
		if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{9}, 1000), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	other := fileEP(t, filepath.Join(dir, "ep2"), usb.Address(2, usb.Out))
	const depth = 4
	e := startEngine(t, []*EP{out, other}, depth, 4096)
	ctx := context.Background()
	var rs []*Request
	for range depth {
		r, err := out.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	o, err := other.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Release()
	if _, err := out.SubmitBatch([]*Request{rs[0], o}, 512); err == nil || !strings.Contains(err.Error(), "request of ep2") {
		t.Fatalf("a batch with another endpoint's request: %v, want an error naming it", err)
	}
	if _, err := out.SubmitBatch(append(rs, o), 512); err == nil || !strings.Contains(err.Error(), "queue depth is 4") {
		t.Fatalf("a batch deeper than the queue: %v, want an error naming the depth", err)
	}
	before := e.submits.Load()
	for round := range 50 {
		got, err := out.SubmitBatch(rs, 512)
		if err != nil || got != depth {
			t.Fatalf("round %d: SubmitBatch = %d, %v", round, got, err)
		}
		for i, r := range rs {
			n, err := r.Wait(ctx)
			if err != nil || n != 512 || !bytes.Equal(r.Buf()[:n], bytes.Repeat([]byte{9}, 512)) {
				t.Fatalf("round %d: request %d: %d bytes, %v", round, i, n, err)
			}
		}
	}
	if calls := e.submits.Load() - before; calls != 50 {
		t.Fatalf("%d io_submit calls for 50 batches", calls)
	}
	if c, u := e.completed.Load(), e.unexpected.Load(); c != 50*depth || u != 0 {
		t.Fatalf("%d completions (%d unexpected) for %d requests", c, u, 50*depth)
	}
	for _, r := range rs {
		r.Release()
	}
}

// A cancel that loses to the completion, the engine's cancel path up to
// io_cancel's EINVAL, allocates nothing.
func TestLostCancelZeroAllocs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ep1"), make([]byte, 512), 0o600); err != nil {
		t.Fatal(err)
	}
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	startEngine(t, []*EP{out}, 1, 4096)
	r, err := out.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var failed error
	allocs := testing.AllocsPerRun(500, func() {
		if err := r.Submit(512); err != nil {
			failed = err
			return
		}
		r.cancel()
		if r.CancelErrno() != syscall.EINVAL {
			failed = fmt.Errorf("io_cancel answered %v, want EINVAL", r.CancelErrno())
		}
		if _, err := r.Wait(context.Background()); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per submit, lost cancel and wait, want 0", allocs)
	}
}

// The error of a cancelled transfer is the endpoint's shared one: taking
// it and matching it with errors.Is allocates nothing, and it still says
// which endpoint and what happened.
func TestCancelledResultZeroAllocs(t *testing.T) {
	ep := &EP{file: EndpointFile{Name: "ep2", Address: usb.Address(2, usb.Out), Type: usb.Bulk}}
	ep.makeErrs()
	r := &Request{ep: ep, res: -int64(syscall.ECONNRESET)}
	var err error
	allocs := testing.AllocsPerRun(1000, func() {
		_, err = r.result()
		if !errors.Is(err, ErrCancelled) || !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("%v does not match ErrCancelled and ECONNRESET", err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per cancelled result, want 0", allocs)
	}
	if want := "ffs: ep2 read: "; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %q does not start with %q", err, want)
	}
}

// SwapBuffers hands what an OUT request read to an IN request without a
// copy, and refuses requests in flight or of another function.
func TestSwapBuffers(t *testing.T) {
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("loopback"), 64)
	if err := os.WriteFile(filepath.Join(dir, "ep1"), payload, 0o600); err != nil {
		t.Fatal(err)
	}
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	in := fileEP(t, filepath.Join(dir, "ep2"), usb.Address(2, usb.In))
	startEngine(t, []*EP{out, in}, 1, 4096)
	other := fileEP(t, filepath.Join(dir, "ep3"), usb.Address(3, usb.In))
	startEngine(t, []*EP{other}, 1, 4096)
	ctx := context.Background()
	o, err := out.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Release()
	i, err := in.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer i.Release()
	x, err := other.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Release()
	if err := o.Submit(len(payload)); err != nil {
		t.Fatal(err)
	}
	if err := SwapBuffers(o, i); err == nil || !strings.Contains(err.Error(), "ep1: swap of the buffer of a request in flight") {
		t.Fatalf("swap with a request in flight: %v, want an error naming ep1", err)
	}
	n, err := o.Wait(ctx)
	if err != nil || n != len(payload) {
		t.Fatalf("read %d, %v", n, err)
	}
	outBuf, inBuf := &o.Buf()[0], &i.Buf()[0]
	if err := SwapBuffers(o, x); err == nil || !strings.Contains(err.Error(), "not of the same function") {
		t.Fatalf("swap across functions: %v, want it refused", err)
	}
	if err := SwapBuffers(o, i); err != nil {
		t.Fatal(err)
	}
	if &i.Buf()[0] != outBuf || &o.Buf()[0] != inBuf {
		t.Fatal("the buffers were not exchanged")
	}
	if err := i.Submit(n); err != nil {
		t.Fatal(err)
	}
	if m, err := i.Wait(ctx); err != nil || m != n {
		t.Fatalf("write %d, %v", m, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ep2")); err != nil || !bytes.Equal(b, payload) {
		t.Fatalf("the IN side wrote %q, %v; want what OUT read", b, err)
	}
}

// A done context ends Read and Write before any io_submit: submitting only
// to cancel would cost two system calls and, on a real endpoint, a round
// trip through the UDC driver for a transfer nobody waits for.
func TestDoneContextSubmitsNothing(t *testing.T) {
	dir := t.TempDir()
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	in := fileEP(t, filepath.Join(dir, "ep2"), usb.Address(2, usb.In))
	e := startEngine(t, []*EP{out, in}, 2, 100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	buf := make([]byte, 100)
	if _, err := out.Read(ctx, buf); !errors.Is(err, context.Canceled) {
		t.Errorf("Read(done ctx): %v, want context.Canceled", err)
	}
	if _, err := in.Write(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write(done ctx): %v, want context.Canceled", err)
	}
	if n, err := out.NewReader(ctx).Read(buf); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("Reader.Read(done ctx): %d, %v, want context.Canceled", n, err)
	}
	if s, c := e.submitted.Load(), e.cancels.Load(); s != 0 || c != 0 {
		t.Errorf("%d submitted and %d cancelled for transfers on a done context, want none", s, c)
	}
	// The requests are all back in the pool.
	if _, err := in.Write(context.Background(), []byte("x")); err != nil {
		t.Errorf("Write after: %v", err)
	}
}

// TestRes2IsTheEventsRes2 hands the engine completions whose res2 is what
// 5.10 writes (res repeated) and what 6.1 writes (0): Res2 reports the
// event's field, not res and not a constant.
func TestRes2IsTheEventsRes2(t *testing.T) {
	out := fileEP(t, filepath.Join(t.TempDir(), "ep1"), usb.Address(1, usb.Out))
	e := startEngine(t, []*EP{out}, 1, 512)
	ctx := context.Background()
	for _, ev := range []linux.Event{{Res: -104, Res2: -104}, {Res: 512, Res2: 0}, {Res: -108, Res2: 7}} {
		r, err := out.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r.prep(512) // counted in flight as io_submit would; the event below completes it
		r.submitted()
		ev.Data = r.idx
		e.complete(&ev)
		r.Wait(ctx)
		if r.RawResult() != ev.Res || r.Res2() != ev.Res2 {
			t.Errorf("event res %d res2 %d: RawResult %d, Res2 %d", ev.Res, ev.Res2, r.RawResult(), r.Res2())
		}
		r.Release()
	}
}

// TestDMABufProbeOnAFile: a file that is not an endpoint knows no
// FunctionFS ioctl, so the probe reaches the kernel and names its ENOTTY.
func TestDMABufProbeOnAFile(t *testing.T) {
	ep := fileEP(t, filepath.Join(t.TempDir(), "ep1"), usb.Address(1, usb.In))
	if got := ep.DMABufProbe(); got != syscall.ENOTTY {
		t.Fatalf("DMABufProbe on a regular file = %v (%d), want ENOTTY", got, int(got))
	}
}
