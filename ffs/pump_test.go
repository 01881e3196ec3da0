package ffs

// Host tests of Pump on regular files, which kernel AIO completes inside
// io_submit: the pump never waits, so these test its bookkeeping, stopping
// and sharing of the context; a transfer that stays pending is tested on
// a real endpoint in the guest (TestPumpOverUSB).

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gadgetkit/gadgetkit/usb"
)

var errEnough = errors.New("enough")

// pumpFiles makes an OUT endpoint on a file of 4 KiB of 7s and an IN
// endpoint on an empty file, in one engine of the given depth.
func pumpFiles(t *testing.T, depth int) (e *engine, out, in *EP, dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ep1"), bytes.Repeat([]byte{7}, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	out = fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	in = fileEP(t, filepath.Join(dir, "ep2"), usb.Address(2, usb.In))
	e = startEngine(t, []*EP{out, in}, depth, 4096)
	return e, out, in, dir
}

// allBack checks that every request of ep is in its pool and none in flight.
func allBack(t *testing.T, ep *EP) {
	t.Helper()
	if n := ep.InFlight(); n != 0 {
		t.Errorf("%s: %d requests in flight after Pump returned, want 0", ep.Name(), n)
	}
	if n := len(ep.free); n != ep.QueueDepth() {
		t.Errorf("%s: %d of %d requests back in the pool after Pump returned", ep.Name(), n, ep.QueueDepth())
	}
}

// Every completion reaches done once, in the kernel's order, with what Wait
// would return; resubmissions carry done's size; done's error stops the
// pump, which returns it with every request back in its pool.
func TestPumpStreamsInKernelOrder(t *testing.T) {
	const depth = 4
	e, out, in, dir := pumpFiles(t, depth)
	starts := map[*EP]int{}
	var seqs []uint64
	var outBytes, inBytes int
	start := func(r *Request) int {
		starts[r.EP()]++
		if r.EP() == in {
			copy(r.Buf(), "pumped")
			return 6
		}
		return 100
	}
	done := func(r *Request, n int, err error) (int, error) {
		if err != nil {
			t.Errorf("%s: completion error %v", r.EP().Name(), err)
			return 0, err
		}
		seqs = append(seqs, r.Seq())
		if k := r.EP().InFlight(); k >= depth {
			t.Errorf("%s: %d of %d requests in flight while one is in done", r.EP().Name(), k, depth)
		}
		if r.EP() == out {
			if n != 512 { // 100 rounded up to the packet size below
				t.Errorf("OUT read %d bytes, want 512", n)
			}
			outBytes += n
		} else {
			inBytes += n
		}
		if len(seqs) == 1000 {
			return 0, errEnough
		}
		if r.EP() == in {
			return 6, nil
		}
		return 100, nil
	}
	out.maxPacket.Store(512)
	if err := Pump(context.Background(), []*EP{out, in}, start, done); !errors.Is(err, errEnough) {
		t.Fatalf("Pump = %v, want done's error", err)
	}
	if starts[out] != depth || starts[in] != depth {
		t.Errorf("start called %d (OUT) and %d (IN) times, want %d each", starts[out], starts[in], depth)
	}
	if len(seqs) < 1000 {
		t.Fatalf("%d completions, want at least 1000", len(seqs))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("completion %d has Seq %d after %d: not the kernel's order", i, seqs[i], seqs[i-1])
		}
	}
	if outBytes == 0 || inBytes == 0 {
		t.Errorf("moved %d bytes OUT and %d IN, want both", outBytes, inBytes)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "ep2"))
	if string(got) != "pumped" {
		t.Errorf("IN file holds %q, want %q", got, "pumped")
	}
	allBack(t, out)
	allBack(t, in)
	if e.inflight.Load() != 0 {
		t.Errorf("engine has %d requests in flight", e.inflight.Load())
	}
}

// Cancelling the context stops the pump with the context's error; a
// request may not be resubmitted with a size its endpoint refuses.
func TestPumpStops(t *testing.T) {
	_, out, in, _ := pumpFiles(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Pump(ctx, []*EP{out, in}, func(*Request) int { return 512 }, func(r *Request, n int, err error) (int, error) {
		if calls++; calls == 50 {
			cancel()
		}
		return 512, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Pump after cancel = %v, want context.Canceled", err)
	}
	allBack(t, out)
	allBack(t, in)

	err = Pump(context.Background(), []*EP{out}, func(*Request) int { return 512 }, func(r *Request, n int, err error) (int, error) {
		return 1 << 20, nil
	})
	var se *SubmitError
	if !errors.As(err, &se) || se.EP != out || !strings.Contains(err.Error(), "request size is 4096") {
		t.Fatalf("Pump resubmitting 1 MiB = %v, want a SubmitError of %s naming the request size", err, out.Name())
	}
	allBack(t, out)

	if err := Pump(ctx, []*EP{out}, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pump with a done context = %v, want context.Canceled before any submission", err)
	}
	allBack(t, out)
}

// Pump refuses endpoints of two functions, the same endpoint twice and no
// endpoint, taking no request.
func TestPumpRefusesBadEndpoints(t *testing.T) {
	_, out, in, _ := pumpFiles(t, 2)
	_, other, _, _ := pumpFiles(t, 2)
	nop := func(*Request) int { return 1 }
	for _, c := range []struct {
		eps  []*EP
		want string
	}{
		{nil, "no endpoints"},
		{[]*EP{out, other}, "not of the same function"},
		{[]*EP{out, in, out}, "ep1 twice"},
	} {
		err := Pump(context.Background(), c.eps, nop, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Pump(%d endpoints) = %v, want an error saying %q", len(c.eps), err, c.want)
		}
	}
	allBack(t, out)
	allBack(t, in)
	allBack(t, other)
}

// While a pump reaps the context, a Wait on another endpoint of the same
// function still gets its completion, delivered by the pump.
func TestPumpDeliversOtherCompletions(t *testing.T) {
	dir := t.TempDir()
	a := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.In))
	b := fileEP(t, filepath.Join(dir, "ep2"), usb.Address(2, usb.In))
	startEngine(t, []*EP{a, b}, 2, 64)
	waited := make(chan error, 1)
	pumping := make(chan struct{})
	go func() {
		<-pumping
		r, err := b.Get(context.Background())
		if err != nil {
			waited <- err
			return
		}
		defer r.Release()
		if err := r.Submit(3); err != nil {
			waited <- err
			return
		}
		n, err := r.Wait(context.Background())
		if err == nil && n != 3 {
			err = errors.New("short write")
		}
		waited <- err
	}()
	var werr error
	first := true
	err := Pump(context.Background(), []*EP{a}, func(*Request) int { return 1 }, func(r *Request, n int, err error) (int, error) {
		if first {
			first = false
			close(pumping)
		}
		select {
		case werr = <-waited:
			return 0, errEnough
		default:
			return 1, nil
		}
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("Pump = %v, want it stopped once the other Wait returned", err)
	}
	if werr != nil {
		t.Fatalf("Wait on %s during the pump: %v", b.Name(), werr)
	}
	allBack(t, a)
	allBack(t, b)
}

// Closing the function stops a pump with ErrClosed, and Close returns
// once the pump has given the kernel's requests back.
func TestPumpEndsOnClose(t *testing.T) {
	dir := t.TempDir()
	out := fileEP(t, filepath.Join(dir, "ep1"), usb.Address(1, usb.Out))
	in := fileEP(t, filepath.Join(dir, "ep2"), usb.Address(2, usb.In))
	e, err := newEngine([]*EP{out, in}, 4, 4096) // closed by the test, not by a cleanup
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	calls := 0
	err = Pump(context.Background(), []*EP{out, in}, func(*Request) int { return 512 }, func(r *Request, n int, err error) (int, error) {
		if calls++; calls == 20 {
			go func() { closed <- e.close() }()
		}
		return 512, nil
	})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Pump during Close = %v, want ErrClosed", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !e.unmapped {
		t.Error("the request memory is still mapped after Close and Pump returned")
	}
}

// A pump allocates nothing per request in the steady state. The Go runtime
// may allocate for itself meanwhile: when a system call outlasts sysmon's
// tick, sysmon hands the P to another M and may create one (an allocation
// profile of a failing exact-zero version of this test showed
// runtime.allocm under sysmon's retake, in 6 to 13 runs of 300). That is a
// handful per run, not one per completion, which would make 5000.
func TestPumpZeroAllocs(t *testing.T) {
	_, out, in, _ := pumpFiles(t, 16)
	var before, after runtime.MemStats
	calls := 0
	err := Pump(context.Background(), []*EP{out, in}, func(*Request) int { return 4096 }, func(r *Request, n int, err error) (int, error) {
		switch calls++; calls {
		case 500:
			runtime.ReadMemStats(&before)
		case 5500:
			runtime.ReadMemStats(&after)
			return 0, errEnough
		}
		return 4096, nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatal(err)
	}
	if n := after.Mallocs - before.Mallocs; n >= 50 {
		t.Fatalf("%d allocations over 5000 completions of a pump, want 0 per completion (fewer than 50 in all, the runtime's own)", n)
	} else if n > 0 {
		t.Logf("%d allocations over 5000 completions: the runtime's own (new Ms), not per request", n)
	}
}
