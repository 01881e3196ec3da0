package conformance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// poison fills an io_event so that any write by the kernel shows.
func poison() linux.Event {
	return linux.Event{Data: 0x5a5a5a5a5a5a5a5a, Obj: 0x5a5a5a5a5a5a5a5a, Res: 0x5a5a5a5a5a5a5a5a, Res2: 0x5a5a5a5a5a5a5a5a}
}

// res2Shape says what res2 was relative to res.
func res2Shape(ev linux.Event) (string, bool) {
	switch ev.Res2 {
	case 0:
		return "0", true
	case ev.Res:
		return "= res", true
	}
	return fmt.Sprintf("%d (res %d)", ev.Res2, ev.Res), false
}

// TestCancelPending cancels an idle OUT read and an idle IN write (4 KiB:
// more than dummy_hcd's 64-byte FIFO, which would complete a small IN
// request at once), cancels each again before and after reaping, and then
// completes a transfer on the same endpoint to compare res2 and to cancel
// a completed request.
func TestCancelPending(t *testing.T) {
	r := newRig(t)
	pend := observe(t, "cancel-pending")
	untouched := observe(t, "result-untouched")
	twice := observe(t, "cancel-twice")
	r2 := observe(t, "res2")
	done := observe(t, "cancel-completed")
	efd := observe(t, "cancel-eventfd")

	var res2s []string
	for i, dir := range []string{"OUT", "IN"} {
		var cb *linux.IOCB
		if dir == "OUT" {
			cb = r.read(i, 4096)
		} else {
			cb = r.write(i, 4096)
		}
		r.posted() // still pending: nothing in the ring
		r.drainEventfd()
		res := poison()
		err := r.ctx.CancelAt(cb.Addr(), &res)
		again := poison()
		err2 := r.ctx.CancelAt(cb.Addr(), &again) // before the completion is reaped
		if r.signalled() {
			efd.see("cancelled %s: signalled", dir)
		} else {
			efd.depart("cancelled %s: the eventfd was not signalled", dir)
		}
		ev := r.events(1)[0]
		if ev.Obj != cb.Addr() || ev.Data != uint64(i) {
			pend.depart("%s: the event is not the cancelled request's: %+v", dir, ev)
		}
		pend.see("%s: io_cancel %s, event res %s", dir, errnoName(err), resName(ev.Res))
		switch {
		case errors.Is(err, unix.EINPROGRESS) && ev.Res == -int64(unix.ECONNRESET):
		case err == nil && ev.Res == -int64(unix.EINTR):
		default:
			pend.depart("%s: io_cancel %s with res %s", dir, errnoName(err), resName(ev.Res))
		}
		if res != poison() || again != poison() {
			untouched.depart("%s: the result argument was written: %+v / %+v", dir, res, again)
		}
		err3 := r.ctx.CancelAt(cb.Addr(), &again) // after
		twice.see("%s: before reaping %s, after %s", dir, errnoName(err2), errnoName(err3))
		if !errors.Is(err2, unix.EINVAL) || !errors.Is(err3, unix.EINVAL) {
			twice.depart("%s: a repeated io_cancel answered %s then %s", dir, errnoName(err2), errnoName(err3))
		}
		r.posted() // no second event
		s, ok := res2Shape(ev)
		res2s = append(res2s, fmt.Sprintf("cancelled %s: %s", dir, s))
		if !ok {
			r2.depart("unknown res2 shape for a cancelled %s request: %s", dir, s)
		}
	}
	untouched.see("result argument left as filled (0x5a...) by io_cancel of pending OUT and IN requests, by the repeated io_cancel and by io_cancel of a completed request")

	// A completed OUT transfer: its event is signalled (in the ring, not
	// reaped), io_cancel of it, then reaped and io_cancel again.
	r.drainEventfd()
	cb := r.read(2, 512)
	p := pattern(512, 1)
	h := r.hostWriteAsync(p)
	if !r.signalled() { // the event is in the ring, not reaped
		t.Fatal("the completed transfer's event was not signalled")
	}
	res := poison()
	errPosted := r.ctx.CancelAt(cb.Addr(), &res)
	ev := r.events(1)[0]
	errReaped := r.ctx.CancelAt(cb.Addr(), &res)
	r.hostDone("one packet", h)
	if ev.Res != 512 || !bytes.Equal(r.buf(2, 512), p) {
		done.depart("the transfer itself: res %s, data intact %v", resName(ev.Res), bytes.Equal(r.buf(2, 512), p))
	}
	done.see("completed, not reaped: %s; reaped: %s", errnoName(errPosted), errnoName(errReaped))
	if !errors.Is(errPosted, unix.EINVAL) || !errors.Is(errReaped, unix.EINVAL) {
		done.depart("io_cancel of a completed request answered %s / %s", errnoName(errPosted), errnoName(errReaped))
	}
	if res != poison() {
		untouched.depart("io_cancel of a completed request wrote the result argument: %+v", res)
	}
	s, ok := res2Shape(ev)
	res2s = append(res2s, "completed OUT (512 bytes): "+s)
	if !ok {
		r2.depart("unknown res2 shape for a completed request: %s", s)
	}
	r2.see("%s", strings.Join(res2s, "; "))
	r.posted()
}

// TestCancelInvalidArguments covers io_cancel's argument checks on a
// request that is really pending, which must survive every one of them.
func TestCancelInvalidArguments(t *testing.T) {
	r := newRig(t)
	never := observe(t, "iocb-never-submitted")
	null := observe(t, "iocb-null")
	badCtx := observe(t, "ctx-invalid")

	pending := r.read(0, 4096)

	fresh := r.cb(1)
	fresh.PrepRead(r.outFD, r.buf(1, 4096), 1, r.efd)
	res := poison()
	errKey0 := r.ctx.CancelAt(fresh.Addr(), &res)
	fresh.Key = 1
	errKey1 := r.ctx.CancelAt(fresh.Addr(), &res)
	never.see("aio_key 0: %s; aio_key 1: %s", errnoName(errKey0), errnoName(errKey1))
	if !errors.Is(errKey0, unix.EINVAL) || !errors.Is(errKey1, unix.EINVAL) {
		never.depart("answers %s / %s", errnoName(errKey0), errnoName(errKey1))
	}

	errNull := r.ctx.CancelAt(0, &res)
	null.see("%s", errnoName(errNull))
	if errNull == nil || cancelOK(errNull) {
		null.depart("NULL iocb answered %s", errnoName(errNull))
	} else if !errors.Is(errNull, unix.EFAULT) {
		null.see("(the specification says EFAULT)")
	}

	errZero := linux.Context(0).CancelAt(pending.Addr(), &res)
	dead, err := linux.Setup(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Destroy(); err != nil {
		t.Fatal(err)
	}
	errDead := dead.CancelAt(pending.Addr(), &res)
	other := cancelInOtherProcess(t, r)
	badCtx.see("ctx 0: %s; destroyed ctx: %s; %s", errnoName(errZero), errnoName(errDead), other.summary)
	if !errors.Is(errZero, unix.EINVAL) || !errors.Is(errDead, unix.EINVAL) || !errors.Is(other.err, unix.EINVAL) {
		badCtx.depart("answers %s / %s / %s", errnoName(errZero), errnoName(errDead), errnoName(other.err))
	}
	if !other.ok {
		badCtx.depart("the other process: %s", other.summary)
	}
	if res != poison() {
		t.Errorf("an io_cancel that failed wrote its result argument: %+v", res)
	}

	// The pending request survived all of it and cancels normally.
	r.posted()
	if err := r.ctx.CancelAt(pending.Addr(), &res); !cancelOK(err) {
		t.Fatalf("io_cancel of the pending request after the bad calls: %s", errnoName(err))
	}
	if ev := r.events(1)[0]; !isCancelRes(ev.Res) {
		t.Fatalf("the pending request ended with %s", resName(ev.Res))
	}
}

// envHelper makes the test binary the other process of ctx-invalid: it
// opens the endpoint file it names, submits a read and reports its
// context and iocb addresses.
const envHelper = "CONFORMANCE_OTHER_PROCESS_EP"

type otherResult struct {
	err     error // this process's io_cancel with the other's ctx and iocb
	ok      bool  // the other process saw its request survive and cancel normally
	summary string
}

func cancelInOtherProcess(t *testing.T, r *rig) otherResult {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+r.outPath)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	lines := bufio.NewScanner(stdout)
	line := func() string {
		if !lines.Scan() {
			t.Fatalf("the other process ended early: %v", lines.Err())
		}
		return lines.Text()
	}
	var ctx, iocb uint64
	if _, err := fmt.Sscanf(line(), "ctx %x iocb %x", &ctx, &iocb); err != nil {
		t.Fatalf("the other process: %v", err)
	}
	res := poison()
	out := otherResult{err: linux.Context(ctx).CancelAt(r.cb(0).Addr(), &res)}
	errTheirs := linux.Context(ctx).CancelAt(iocb, &res)
	fmt.Fprintln(stdin, "go")
	report := line()
	stdin.Close()
	waited = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the other process: %v (%s)", err, report)
	}
	out.ok = (report == "pending EINPROGRESS -ECONNRESET" || report == "pending 0 -EINTR") && errTheirs != nil && !cancelOK(errTheirs)
	out.summary = fmt.Sprintf("another process's ctx with this process's pending iocb: %s; with the other process's iocb address: %s (the address is read before the ctx is looked up); the other process then saw: %s",
		errnoName(out.err), errnoName(errTheirs), report)
	return out
}

// otherProcess is the helper's side: a read pending on ep, its addresses
// on stdout; once told, whether it is still pending and how its own
// io_cancel goes.
func otherProcess(ep string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "other process:", err); return 1 }
	fd, err := unix.Open(ep, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	ctx, err := linux.Setup(1)
	if err != nil {
		return fail(err)
	}
	defer ctx.Destroy()
	mem, err := linux.Map(8192)
	if err != nil {
		return fail(err)
	}
	cb := &mem.IOCBs(0, 1)[0]
	cb.PrepRead(fd, mem.Bytes()[4096:], 7, -1)
	if err := ctx.SubmitOne(cb); err != nil {
		return fail(err)
	}
	fmt.Printf("ctx %x iocb %x\n", uintptr(ctx), cb.Addr())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return fail(errors.New("no go-ahead"))
	}
	evs := make([]linux.Event, 1)
	if n, _ := ctx.GetEvents(0, evs, &unix.Timespec{}); n != 0 {
		fmt.Printf("completed %s\n", resName(evs[0].Res))
		return 0
	}
	var res linux.Event
	cerr := ctx.CancelAt(cb.Addr(), &res)
	ts := unix.NsecToTimespec(int64(guard))
	n, err := ctx.GetEvents(1, evs, &ts)
	if err != nil || n != 1 {
		fmt.Printf("pending %s no-event %v\n", errnoName(cerr), err)
		return 0
	}
	fmt.Printf("pending %s %s\n", errnoName(cerr), resName(evs[0].Res))
	return 0
}

// TestPartialOut gives a 4 KiB read one full packet (512 bytes, which
// does not end the transfer), then cancels it.
func TestPartialOut(t *testing.T) {
	r := newRig(t)
	o := observe(t, "partial-out")
	fill(r.buf(0, 4096), 0xee)
	cb := r.read(0, 4096)
	first := pattern(512, 3)
	if n, err := r.hostWrite(first); err != nil || n != 512 {
		t.Fatalf("host write of one packet: %d, %v", n, err)
	}
	// The host's transfer is done, so the packet is in the gadget's request,
	// which waits for more: nothing in the ring.
	r.posted()
	var res linux.Event
	err := r.ctx.CancelAt(cb.Addr(), &res)
	ev := r.events(1)[0]
	kept := r.buf(0, 4096)
	o.see("host sent 512 of 4096, io_cancel %s, res %s", errnoName(err), resName(ev.Res))
	switch {
	case cancelOK(err) && isCancelRes(ev.Res):
		if allAre(kept, 0xee) {
			o.see("buffer untouched (the 512 bytes are lost)")
		} else {
			o.depart("the buffer changed although res is %s", resName(ev.Res))
		}
	case ev.Res == 512:
		if bytes.Equal(kept[:512], first) {
			o.see("the partial bytes were delivered")
		} else {
			o.depart("res 512 but the buffer does not hold the host's bytes")
		}
	default:
		o.depart("unexpected io_cancel %s with res %s", errnoName(err), resName(ev.Res))
	}
	// The next read gets the host's next transfer only.
	next := pattern(100, 4)
	fill(r.buf(1, 4096), 0xee)
	r.read(1, 4096)
	h := r.hostWriteAsync(next)
	ev = r.events(1)[0]
	r.hostDone("the next transfer", h)
	if ev.Res != 100 || !bytes.Equal(r.buf(1, 100), next) {
		o.depart("the next read got %s bytes, not the host's next 100 alone", resName(ev.Res))
	} else {
		o.see("the next read got only the next transfer (100 bytes)")
	}
}

// TestCancelRace cancels a one-packet request while the host is moving
// that packet, with a varying head start, many times in each direction:
// an OUT read while the host writes, an IN write while the host reads.
func TestCancelRace(t *testing.T) {
	r := newRig(t)
	o := observe(t, "cancel-race")
	budget := time.Now().Add(60 * time.Second)
	for _, dir := range []string{"OUT", "IN"} {
		const rounds = 200
		var cancelled, completed, ran int
		for i := 0; i < rounds && time.Now().Before(budget) && !o.bad; i++ {
			ran++
			p := pattern(512, byte(i))
			var cb *linux.IOCB
			var host <-chan hostResult
			if dir == "OUT" {
				fill(r.buf(0, 512), 0)
				cb = r.read(0, 512)
				host = r.hostWriteAsync(p)
			} else {
				copy(r.buf(0, 512), p)
				cb = r.write(0, 512)
				host = r.hostReadAsync(512)
			}
			spin := time.Duration(i%25) * 40 * time.Microsecond
			for start := time.Now(); time.Since(start) < spin; {
			}
			var res linux.Event
			err := r.ctx.CancelAt(cb.Addr(), &res)
			ev := r.events(1)[0]
			switch {
			case cancelOK(err) && isCancelRes(ev.Res):
				cancelled++
				// The host's transfer is still waiting: the next request
				// carries the packet, whole.
				fill(r.buf(1, 512), 0)
				if dir == "OUT" {
					r.read(1, 512)
				} else {
					copy(r.buf(1, 512), p)
					r.write(1, 512)
				}
				h := r.hostDone(fmt.Sprintf("%s round %d, after the cancel", dir, i), host)
				ev2 := r.events(1)[0]
				got := h.data
				if dir == "OUT" {
					got = r.buf(1, 512)
				}
				if ev2.Res != 512 || !bytes.Equal(got, p) {
					o.depart("%s round %d: cancelled (%s), then the next request got %s, data intact %v", dir, i, errnoName(err), resName(ev2.Res), bytes.Equal(got, p))
				}
			case errors.Is(err, unix.EINVAL) && ev.Res == 512:
				completed++
				h := r.hostDone(fmt.Sprintf("%s round %d", dir, i), host)
				got := h.data
				if dir == "OUT" {
					got = r.buf(0, 512)
				}
				if !bytes.Equal(got, p) {
					o.depart("%s round %d: completed first but the data differs", dir, i)
				}
			default:
				o.depart("%s round %d: io_cancel %s with res %s", dir, i, errnoName(err), resName(ev.Res))
				return
			}
			r.posted()
		}
		o.see("%s: %d rounds, %d cancelled (the packet went with the next request), %d completed first (io_cancel EINVAL)", dir, ran, cancelled, completed)
	}
}

// TestDestroyPending destroys the context with a read and a write pending,
// then has the host send to and read from the endpoints through requests
// of a new context; the old buffers must stay as they were.
func TestDestroyPending(t *testing.T) {
	r := newRig(t)
	o := observe(t, "destroy-pending")
	fill(r.buf(0, 4096), 0xee)
	fill(r.buf(1, 4096), 0xdd)
	r.read(0, 4096)
	r.write(1, 4096)
	r.posted()
	err := r.ctx.Destroy()
	o.see("io_destroy: %s", errnoName(err))
	if err != nil {
		o.depart("io_destroy with two requests pending failed: %v", err)
		return
	}
	if r.ctx, err = linux.Setup(nIOCBs); err != nil {
		t.Fatal(err)
	}
	p := pattern(700, 11)
	fill(r.buf(2, 4096), 0)
	r.read(2, 4096)
	h := r.hostWriteAsync(p)
	ev := r.events(1)[0]
	r.hostDone("OUT after io_destroy", h)
	q := pattern(1000, 12)
	copy(r.buf(3, 1000), q)
	r.write(3, 1000)
	in := r.hostReadAsync(4096)
	hin := r.hostDone("IN after io_destroy", in)
	evIn := r.events(1)[0]
	if ev.Res != 700 || !bytes.Equal(r.buf(2, 700), p) || evIn.Res != 1000 || !bytes.Equal(hin.data, q) {
		o.depart("the new context's transfers: OUT %s, IN %s (host read %d bytes)", resName(ev.Res), resName(evIn.Res), len(hin.data))
	} else {
		o.see("a new context's OUT read and IN write carried the host's 700 and 1000 bytes")
	}
	if !allAre(r.buf(0, 4096), 0xee) || !allAre(r.buf(1, 4096), 0xdd) {
		o.depart("a destroyed request's buffer changed")
	} else {
		o.see("the destroyed requests' buffers untouched")
	}
	r.posted()
}

// shutdown submits four reads and four writes, ends them with end, and
// checks every completion.
func shutdown(t *testing.T, r *rig, o *obs, end func() error) {
	t.Helper()
	var cbs []*linux.IOCB
	for i := range 4 {
		cbs = append(cbs, r.read(i, 4096), r.write(4+i, 4096))
	}
	r.posted()
	r.drainEventfd()
	if err := end(); err != nil {
		t.Fatal(err)
	}
	if r.signalled() {
		o.see("eventfd signalled")
	} else {
		o.depart("the eventfd was not signalled by the shutdown's completions")
	}
	counts := map[string]int{}
	for _, ev := range r.events(len(cbs)) {
		counts[resName(ev.Res)]++
		if ev.Res != -int64(unix.ESHUTDOWN) {
			o.depart("request %d ended with %s", ev.Data, resName(ev.Res))
		}
	}
	var seen []string
	for res, n := range counts {
		seen = append(seen, fmt.Sprintf("%d x %s", n, res))
	}
	slices.Sort(seen)
	o.see("8 requests (4 OUT, 4 IN): %s", strings.Join(seen, ", "))
	var errs []string
	for _, cb := range cbs {
		var res linux.Event
		if err := r.ctx.CancelAt(cb.Addr(), &res); !errors.Is(err, unix.EINVAL) {
			errs = append(errs, errnoName(err))
		}
	}
	if len(errs) > 0 {
		o.depart("io_cancel after the shutdown answered %v", errs)
	} else {
		o.see("io_cancel of them afterwards: EINVAL")
	}
}

func TestShutdownDisconnect(t *testing.T) {
	r := newRig(t)
	o := observe(t, "shutdown-disconnect")
	t.Cleanup(func() { guestSoftConnect(t, r.udc, true) })
	shutdown(t, r, o, func() error { return guestSoftConnect(t, r.udc, false) })
}

// TestShutdownDeconfigure has the guest's host side select configuration
// 0 through sysfs (usb_set_configuration sends SET_CONFIGURATION 0), which
// disables the function without a disconnect, then configuration 1 again.
func TestShutdownDeconfigure(t *testing.T) {
	r := newRig(t)
	o := observe(t, "shutdown-deconfigure")
	dev, err := guest.WaitHostDevice(r.g.Serial, guard)
	if err != nil {
		t.Fatal(err)
	}
	setConfig := func(v string) error {
		return os.WriteFile(filepath.Join(dev, "bConfigurationValue"), []byte(v), 0)
	}
	shutdown(t, r, o, func() error { return setConfig("0") })
	if err := setConfig("1"); err != nil {
		t.Fatal(err)
	}
	p := pattern(512, 9)
	fill(r.buf(0, 512), 0)
	r.read(0, 512)
	h := r.hostWriteAsync(p)
	ev := r.events(1)[0]
	r.hostDone("after SET_CONFIGURATION 1", h)
	if ev.Res != 512 || !bytes.Equal(r.buf(0, 512), p) {
		o.depart("after SET_CONFIGURATION 1 a read got %s", resName(ev.Res))
	} else {
		o.see("after SET_CONFIGURATION 1 a read got the host's 512 bytes")
	}
}

func TestShutdownUnbind(t *testing.T) {
	r := newRig(t)
	o := observe(t, "shutdown-unbind")
	shutdown(t, r, o, r.g.Unbind)

	// Unbound, the endpoint is disabled: a new request must not block.
	d := observe(t, "submit-disabled")
	cb := r.cb(8)
	cb.PrepRead(r.outFD, r.buf(8, 4096), 8, r.efd)
	if err := r.ctx.SubmitOne(cb); err != nil {
		d.see("io_submit: %s", errnoName(err))
		if !errors.Is(err, unix.EAGAIN) {
			d.depart("io_submit on a disabled endpoint answered %s", errnoName(err))
		}
		return
	}
	ev := r.events(1)[0]
	d.see("io_submit returned at once; the request completed with %s", resName(ev.Res))
	if ev.Res != -int64(unix.EAGAIN) {
		d.depart("completed with %s", resName(ev.Res))
	}
}

// TestUserRing reads cancelled requests' completions straight from the
// ring, as ffs does when the ring's header is the one it knows.
func TestUserRing(t *testing.T) {
	r := newRig(t)
	o := observe(t, "aio-ring")
	if !r.ctx.HasUserRing() {
		o.see("the ring's header is not the known layout: ffs reaps with io_getevents on this kernel")
		return
	}
	o.see("known header")
	cbs := []*linux.IOCB{r.read(0, 4096), r.write(1, 4096)}
	r.posted()
	r.drainEventfd()
	for _, cb := range cbs {
		if err := r.ctx.CancelAt(cb.Addr(), new(linux.Event)); !cancelOK(err) {
			t.Fatalf("io_cancel: %s", errnoName(err))
		}
	}
	evs := make([]linux.Event, 4)
	got := 0
	for got < len(cbs) {
		if n := r.ctx.ReapRing(evs[got:]); n > 0 {
			got += n
			continue
		}
		if !r.signalled() {
			o.depart("%d of %d completions appeared in the ring", got, len(cbs))
			return
		}
	}
	for i, ev := range evs[:got] {
		// ffs matches completions by aio_data, not by their order.
		if ev.Data >= uint64(len(cbs)) || ev.Obj != cbs[ev.Data].Addr() || !isCancelRes(ev.Res) {
			o.depart("event %d read from the ring: %+v", i, ev)
		}
	}
	if got != len(cbs) {
		o.depart("%d events read from the ring for %d requests", got, len(cbs))
	}
	r.posted()
	o.see("both cancelled requests' events read from the ring, io_getevents then found none")
}

// TestIoUring reads the OUT endpoint through io_uring, makes sure the
// read is in the UDC (the host's first, full packet is taken only by a
// queued request), then asks IORING_OP_ASYNC_CANCEL to cancel it. Every
// io_uring request is finished before the ring is closed: a process exiting
// with one pending on an endpoint may hang in the ring's teardown.
func TestIoUring(t *testing.T) {
	r := newRig(t)
	rd := observe(t, "io-uring-read")
	cn := observe(t, "io-uring-cancel")
	ring, err := linux.NewUring(4)
	if err != nil {
		t.Fatal(err)
	}
	efd, efile, err := linux.NewEventfd()
	if err != nil {
		t.Fatal(err)
	}
	u := &uring{Uring: ring, efile: efile}
	readDone := false
	t.Cleanup(func() {
		if !readDone {
			// Unbinding ends the read with -ESHUTDOWN.
			if err := r.g.Unbind(); err != nil {
				t.Error(err)
			}
			if _, ok := u.wait(t, 1); !ok {
				t.Error("the io_uring read did not end on unbind: leaving the ring open")
				return
			}
		}
		u.Close()
		efile.Close()
	})
	if err := u.RegisterEventfd(efd); err != nil {
		t.Fatal(err)
	}
	buf := r.buf(0, 4096)
	fill(buf, 0xee)
	if err := u.Submit(linux.UringSQE{Opcode: linux.UringOpRead, FD: int32(r.outFD), Addr: linux.BufAddr(buf), Len: 4096, UserData: 1}); err != nil {
		t.Fatal(err)
	}
	first := pattern(512, 5)
	if n, err := r.hostWrite(first); err != nil || n != 512 {
		rd.depart("the host's first packet was not taken: %d, %v", n, err)
		return
	}
	got := u.reapAll()
	if len(got) != 0 {
		rd.depart("the read completed after one full packet: %+v", got)
		return
	}
	rd.see("queued in the UDC (took the host's first full packet), still pending")

	if err := u.Submit(linux.UringSQE{Opcode: linux.UringOpAsyncCancel, FD: -1, Addr: 1, UserData: 2}); err != nil {
		t.Fatal(err)
	}
	cres, ok := u.wait(t, 2)
	if !ok {
		t.Fatal("no completion for IORING_OP_ASYNC_CANCEL")
	}
	readCQEs := append(u.seen, u.reapAll()...)
	u.seen = nil
	cn.see("ASYNC_CANCEL res %s", resName(int64(cres.Res)))
	for _, c := range append(got, readCQEs...) {
		if c.UserData == 1 {
			readDone = true
			cn.see("it reached the request: the read ended with %s", resName(int64(c.Res)))
			if c.Res >= 0 {
				cn.depart("the read ended with data after a cancel")
			}
		}
	}
	if readDone {
		if cres.Res != 0 {
			cn.depart("the read ended but ASYNC_CANCEL said %s", resName(int64(cres.Res)))
		}
		return
	}
	cn.see("it did not reach usb_ep_dequeue: the read stayed pending")
	if cres.Res == 0 {
		cn.depart("ASYNC_CANCEL said 0 but the read is still pending")
	}
	// Finish the read from the host: a short packet ends the transfer.
	rest := pattern(100, 6)
	if n, err := r.hostWrite(rest); err != nil || n != 100 {
		rd.depart("the host's short packet: %d, %v", n, err)
		return
	}
	c, ok := u.wait(t, 1)
	if !ok {
		rd.depart("the read did not complete after the host's short packet")
		return
	}
	readDone = true
	want := append(append([]byte(nil), first...), rest...)
	rd.see("completed with %s bytes when the host ended the transfer", resName(int64(c.Res)))
	if c.Res != int32(len(want)) || !bytes.Equal(buf[:len(want)], want) {
		rd.depart("the data is not the host's %d bytes", len(want))
	}
}

// uring is the io_uring under test with the eventfd its completions
// signal and the completions reaped but not yet asked for.
type uring struct {
	*linux.Uring
	efile *os.File
	seen  []linux.UringCQE
}

func (u *uring) reapAll() []linux.UringCQE {
	cqes := make([]linux.UringCQE, 8)
	n := u.Reap(cqes)
	return cqes[:n]
}

// wait waits (through the eventfd) for the completion with userData.
func (u *uring) wait(t *testing.T, userData uint64) (linux.UringCQE, bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for {
		u.seen = append(u.seen, u.reapAll()...)
		for i, c := range u.seen {
			if c.UserData == userData {
				u.seen = append(u.seen[:i], u.seen[i+1:]...)
				return c, true
			}
		}
		if err := u.efile.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		var b [8]byte
		if _, err := u.efile.Read(b[:]); err != nil {
			return linux.UringCQE{}, false
		}
	}
}

// TestDMABuf probes FUNCTIONFS_DMABUF_ATTACH on an enabled O_NONBLOCK
// endpoint, with a udmabuf when the kernel has the exporter.
func TestDMABuf(t *testing.T) {
	r := newRig(t)
	o := observe(t, "dmabuf-attach")
	exporter := "udmabuf (built in)"
	if _, err := os.Stat("/dev/udmabuf"); err != nil {
		exporter = "udmabuf (module)"
		if lerr := guestLoad("udmabuf"); lerr != nil {
			exporter = ""
			t.Logf("udmabuf: %v", lerr)
			o.see("no udmabuf in this kernel (no /dev/udmabuf, no module)")
		}
	}
	dbuf := -1
	if exporter != "" {
		fd, err := linux.NewUdmabuf(64 << 10)
		if err != nil {
			o.see("udmabuf: %v", err)
		} else {
			dbuf = fd
			defer unix.Close(fd)
		}
	}
	if dbuf < 0 {
		// Not a DMA-BUF: a kernel without the ioctl answers ENOTTY and
		// dummy_hcd's EPERM comes before the fd is looked at.
		dbuf = r.efd
		exporter = "an eventfd (no DMA-BUF exporter)"
	}
	for _, ep := range []struct {
		name string
		fd   int
	}{{"OUT", r.outFD}, {"IN", r.inFD}} {
		err := linux.FFSDMABufAttach(ep.fd, dbuf)
		o.see("%s with %s: %s", ep.name, exporter, errnoName(err))
		switch {
		case err == nil:
			if derr := linux.FFSDMABufDetach(ep.fd, dbuf); derr != nil {
				o.depart("attached, but detach failed: %v", derr)
			}
		case errors.Is(err, unix.ENOTTY), errors.Is(err, unix.EPERM):
		default:
			o.depart("%s: unexpected %s", ep.name, errnoName(err))
		}
	}
}
