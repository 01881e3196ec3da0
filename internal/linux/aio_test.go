package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestLayout(t *testing.T) {
	var cb IOCB
	keyOff, flagsOff := uintptr(8), uintptr(12)
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 { // big endian: aio_rw_flags first
		keyOff, flagsOff = 12, 8
	}
	iocb := []struct {
		name      string
		got, want uintptr
	}{
		{"aio_data", unsafe.Offsetof(cb.Data), 0},
		{"aio_key", unsafe.Offsetof(cb.Key), keyOff},
		{"aio_rw_flags", unsafe.Offsetof(cb.RWFlags), flagsOff},
		{"aio_lio_opcode", unsafe.Offsetof(cb.Opcode), 16},
		{"aio_reqprio", unsafe.Offsetof(cb.ReqPrio), 18},
		{"aio_fildes", unsafe.Offsetof(cb.Fildes), 20},
		{"aio_buf", unsafe.Offsetof(cb.Buf), 24},
		{"aio_nbytes", unsafe.Offsetof(cb.Nbytes), 32},
		{"aio_offset", unsafe.Offsetof(cb.Offset), 40},
		{"aio_flags", unsafe.Offsetof(cb.Flags), 56},
		{"aio_resfd", unsafe.Offsetof(cb.ResFD), 60},
		{"sizeof(struct iocb)", unsafe.Sizeof(cb), 64},
	}
	var ev Event
	events := []struct {
		name      string
		got, want uintptr
	}{
		{"data", unsafe.Offsetof(ev.Data), 0},
		{"obj", unsafe.Offsetof(ev.Obj), 8},
		{"res", unsafe.Offsetof(ev.Res), 16},
		{"res2", unsafe.Offsetof(ev.Res2), 24},
		{"sizeof(struct io_event)", unsafe.Sizeof(ev), 32},
	}
	for _, f := range append(iocb, events...) {
		if f.got != f.want {
			t.Errorf("%s at %d, want %d", f.name, f.got, f.want)
		}
	}
}

// testRig is a context, an eventfd and a region holding iocbs then buffers.
type testRig struct {
	ctx   Context
	efd   int
	efile *os.File
	mem   *Region
}

func newRig(t *testing.T, nr int) *testRig {
	t.Helper()
	ctx, err := Setup(nr)
	if err != nil {
		t.Fatal(err)
	}
	efd, efile, err := NewEventfd()
	if err != nil {
		t.Fatal(err)
	}
	mem, err := Map(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	r := &testRig{ctx: ctx, efd: efd, efile: efile, mem: mem}
	t.Cleanup(func() {
		if err := r.ctx.Destroy(); err != nil {
			t.Error(err)
		}
		r.efile.Close()
		if err := r.mem.Unmap(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// waitEventfd reads the eventfd through the runtime poller and returns its
// counter: how many completions were posted since the last read.
func (r *testRig) waitEventfd(t *testing.T) uint64 {
	t.Helper()
	if err := r.efile.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	if _, err := r.efile.Read(b[:]); err != nil {
		t.Fatalf("eventfd: %v", err)
	}
	return binary.NativeEndian.Uint64(b[:])
}

func TestSubmitGetEventsEventfd(t *testing.T) {
	r := newRig(t, 8)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("hello, kernel aio"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	cbs := r.mem.IOCBs(0, 2)
	buf := r.mem.Bytes()[4096 : 4096+64]
	cbs[0].PrepRead(fd, buf, 0xfeed, r.efd)
	cbs[1].PrepWrite(fd, []byte("HELLO"), 0xbeef, r.efd) // written at offset 0 after the read below
	cbs[1].Offset = 0
	if err := r.ctx.SubmitOne(&cbs[0]); err != nil {
		t.Fatal(err)
	}
	if got := r.waitEventfd(t); got != 1 {
		t.Fatalf("eventfd counter %d after one completion, want 1", got)
	}
	evs := make([]Event, 4)
	n, err := r.ctx.GetEvents(1, evs, &unix.Timespec{Sec: 5})
	if err != nil || n != 1 {
		t.Fatalf("GetEvents = %d, %v; want 1 event", n, err)
	}
	ev := evs[0]
	if ev.Data != 0xfeed || ev.Obj != cbs[0].Addr() || ev.Res != int64(len("hello, kernel aio")) {
		t.Fatalf("event %+v, want data 0xfeed obj %#x res 17", ev, cbs[0].Addr())
	}
	if got := string(buf[:ev.Res]); got != "hello, kernel aio" {
		t.Fatalf("read %q", got)
	}

	// Submit (the batch form) then a zero timeout finds the event without waiting.
	if n, err := r.ctx.Submit([]*IOCB{&cbs[1]}); err != nil || n != 1 {
		t.Fatalf("Submit = %d, %v", n, err)
	}
	r.waitEventfd(t)
	n, err = r.ctx.GetEvents(0, evs, &unix.Timespec{})
	if err != nil || n != 1 || evs[0].Data != 0xbeef || evs[0].Res != 5 {
		t.Fatalf("GetEvents = %d %+v, %v; want the 5-byte write", n, evs[0], err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, []byte("HELLO, kernel aio")) {
		t.Fatalf("file holds %q after AIO write", got)
	}

	// Nothing left: a zero timeout returns at once with no events.
	if n, err := r.ctx.GetEvents(0, evs, &unix.Timespec{}); err != nil || n != 0 {
		t.Fatalf("empty ring: GetEvents = %d, %v", n, err)
	}
	// Cancelling a request already reaped is EINVAL, wrapped with the call name.
	err = r.ctx.Cancel(&cbs[0])
	var se *os.SyscallError
	if !errors.Is(err, unix.EINVAL) || !errors.As(err, &se) || se.Syscall != "io_cancel" {
		t.Fatalf("cancel of a reaped request: %v, want io_cancel: EINVAL", err)
	}
}

// IOCB_CMD_POLL on an empty pipe stays pending and is cancellable: the host's
// stand-in for an idle USB endpoint.
const cmdPoll = 5

func TestCancelPendingCompletesThroughRing(t *testing.T) {
	r := newRig(t, 4)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	cb := &r.mem.IOCBs(0, 1)[0]
	*cb = IOCB{Data: 7, Opcode: cmdPoll, Fildes: uint32(p[0]), Buf: uint64(unix.POLLIN), Flags: FlagResFD, ResFD: uint32(r.efd)}
	if err := r.ctx.SubmitOne(cb); err != nil {
		t.Fatal(err)
	}
	evs := make([]Event, 1)
	if n, _ := r.ctx.GetEvents(0, evs, &unix.Timespec{}); n != 0 {
		t.Fatalf("poll on an empty pipe completed at once: %+v", evs[0])
	}
	err := r.ctx.Cancel(cb)
	if err != nil && !errors.Is(err, unix.EINPROGRESS) {
		t.Fatalf("cancel of a pending request: %v, want EINPROGRESS (or nil)", err)
	}
	r.waitEventfd(t)
	n, err := r.ctx.GetEvents(1, evs, &unix.Timespec{Sec: 5})
	if err != nil || n != 1 || evs[0].Data != 7 {
		t.Fatalf("after cancel GetEvents = %d %+v, %v; want the cancelled request", n, evs[0], err)
	}
	if err := r.ctx.Cancel(cb); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("second cancel: %v, want EINVAL", err)
	}
}

func TestDestroyWithRequestInFlight(t *testing.T) {
	ctx, err := Setup(1)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := Map(4096)
	if err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	cb := &mem.IOCBs(0, 1)[0]
	*cb = IOCB{Opcode: cmdPoll, Fildes: uint32(p[0]), Buf: uint64(unix.POLLIN)}
	if err := ctx.SubmitOne(cb); err != nil {
		t.Fatal(err)
	}
	if err := ctx.Destroy(); err != nil {
		t.Fatalf("destroy with a request in flight: %v", err)
	}
	if err := mem.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := ctx.Destroy(); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("second destroy: %v, want EINVAL", err)
	}
}

func TestSetupError(t *testing.T) {
	if _, err := Setup(-1); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("io_setup(-1): %v, want EINVAL", err)
	}
}

func TestUSBDevfsNumbers(t *testing.T) {
	want := uint(0xc0185500) // <linux/usbdevice_fs.h> on 64-bit
	if unsafe.Sizeof(uintptr(0)) == 4 {
		want = 0xc0105500
	}
	if usbdevfsControl != want {
		t.Fatalf("USBDEVFS_CONTROL = %#x, want %#x", usbdevfsControl, want)
	}
	want = 0xc0185502 // USBDEVFS_BULK
	if unsafe.Sizeof(uintptr(0)) == 4 {
		want = 0xc0105502
	}
	if usbdevfsBulkReq != want {
		t.Fatalf("USBDEVFS_BULK = %#x, want %#x", usbdevfsBulkReq, want)
	}
}

// Completions read from the user-space ring are the ones io_getevents
// would return, the kernel sees them consumed, and the ring wraps.
func TestReapRing(t *testing.T) {
	r := newRig(t, 4)
	if !r.ctx.HasUserRing() {
		t.Fatal("the ring of a fresh context does not have the known layout")
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("ring"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cbs := r.mem.IOCBs(0, 3)
	buf := r.mem.Bytes()[4096:8192]
	evs := make([]Event, 8)
	nr := int(r.ctx.ring().Nr)
	for i := range 3 * nr { // several trips round the ring
		batch := []*IOCB{&cbs[0], &cbs[1], &cbs[2]}[:1+i%3]
		for j, cb := range batch {
			cb.PrepRead(fd, buf[j*16:j*16+16], uint64(i*10+j), r.efd)
		}
		if n, err := r.ctx.Submit(batch); err != nil || n != len(batch) {
			t.Fatalf("submit: %d, %v", n, err)
		}
		got := 0
		for got < len(batch) {
			r.waitEventfd(t)
			n := r.ctx.ReapRing(evs[got:])
			got += n
		}
		for j := range got {
			if evs[j].Data != uint64(i*10+j) || evs[j].Res != 4 {
				t.Fatalf("round %d event %d: %+v, want data %d res 4", i, j, evs[j], i*10+j)
			}
		}
		if n, err := r.ctx.GetEvents(0, evs, &unix.Timespec{}); err != nil || n != 0 {
			t.Fatalf("io_getevents after the ring was reaped: %d, %v; want nothing left", n, err)
		}
	}
}

// A signal to the thread blocked in io_getevents makes the kernel answer
// EINTR; the Go runtime sends its threads SIGURG to preempt goroutines, so
// GetEvents must wait on instead (a make test run failed TestReapRing with
// "io_getevents: interrupted system call"). The thread is signalled for as
// long as GetEvents waits on an idle context.
func TestGetEventsWaitsThroughSignals(t *testing.T) {
	r := newRig(t, 4)
	tids := make(chan int)
	done := make(chan struct{})
	var signals int
	sent := make(chan int)
	go func() {
		tid := <-tids
		n := 0
		for {
			select {
			case <-done:
				sent <- n
				return
			default:
			}
			if err := unix.Tgkill(unix.Getpid(), tid, unix.SIGURG); err == nil {
				n++
			}
			runtime.Gosched()
		}
	}()
	runtime.LockOSThread()
	tids <- unix.Gettid()
	evs := make([]Event, 4)
	n, err := r.ctx.GetEvents(1, evs, &unix.Timespec{Nsec: 200e6})
	close(done)
	signals = <-sent
	runtime.UnlockOSThread()
	if err != nil || n != 0 {
		t.Fatalf("GetEvents on an idle context while its thread got %d signals: %d, %v; want 0, nil", signals, n, err)
	}
	if signals == 0 {
		t.Fatal("no signal reached the thread: the test proved nothing")
	}
}
