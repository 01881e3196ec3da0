package linux

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Context is an aio_context_t returned by io_setup.
type Context uintptr

// Setup creates a context able to hold nr requests in flight (io_setup).
func Setup(nr int) (Context, error) {
	var c Context
	_, _, errno := unix.Syscall(unix.SYS_IO_SETUP, uintptr(nr), uintptr(unsafe.Pointer(&c)), 0)
	if errno != 0 {
		return 0, os.NewSyscallError("io_setup", errno)
	}
	return c, nil
}

// SubmitOne submits one request (io_submit with nr = 1). cb must stay valid
// until its completion is reaped, which is why callers keep iocbs in Map memory.
func (c Context) SubmitOne(cb *IOCB) error {
	p := cb
	n, _, errno := unix.Syscall(unix.SYS_IO_SUBMIT, uintptr(c), 1, uintptr(unsafe.Pointer(&p)))
	if errno != 0 {
		return os.NewSyscallError("io_submit", errno)
	}
	if n != 1 {
		return os.NewSyscallError("io_submit", unix.EAGAIN)
	}
	return nil
}

// Submit submits cbs and returns how many the kernel accepted; when that is
// fewer than len(cbs) without an error, the rest were not queued.
func (c Context) Submit(cbs []*IOCB) (int, error) {
	if len(cbs) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall(unix.SYS_IO_SUBMIT, uintptr(c), uintptr(len(cbs)), uintptr(unsafe.Pointer(&cbs[0])))
	if errno != 0 {
		return 0, os.NewSyscallError("io_submit", errno)
	}
	return int(n), nil
}

// GetEvents reaps between min and len(events) completions (io_getevents).
// A nil timeout waits until min are available; a zero one never waits.
// io_getevents answers EINTR, having reaped nothing, when a signal reaches
// the thread, even with a zero timeout; the Go runtime signals its threads
// (SIGURG, to preempt goroutines), so GetEvents calls it again then. The
// clock is read only once interrupted (reaping stays free of it): a
// timeout then counts again from the first interruption, so an
// interrupted wait lasts at most twice its timeout.
func (c Context) GetEvents(min int, events []Event, timeout *unix.Timespec) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	left := timeout
	var deadline time.Time
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_GETEVENTS, uintptr(c), uintptr(min), uintptr(len(events)),
			uintptr(unsafe.Pointer(&events[0])), uintptr(unsafe.Pointer(left)), 0)
		if errno == 0 {
			return int(n), nil
		}
		if errno != unix.EINTR {
			return 0, os.NewSyscallError("io_getevents", errno)
		}
		if timeout != nil && timeout.Nano() > 0 {
			if deadline.IsZero() {
				deadline = time.Now().Add(time.Duration(timeout.Nano()))
			}
			ts := unix.NsecToTimespec(max(0, int64(time.Until(deadline))))
			left = &ts
		}
	}
}

// Cancel asks the kernel to cancel cb (io_cancel). Whatever it returns, the
// request's completion is delivered through the ring: EINPROGRESS (the
// mainline answer) and nil (some stable kernels, which then post -EINTR) mean
// the cancellation is under way; EINVAL means the request had already
// completed or was never submitted.
func (c Context) Cancel(cb *IOCB) error {
	var unused Event // the kernel no longer fills it, but it must be writable
	_, _, errno := unix.Syscall(unix.SYS_IO_CANCEL, uintptr(c), uintptr(unsafe.Pointer(cb)), uintptr(unsafe.Pointer(&unused)))
	if errno != 0 {
		return os.NewSyscallError("io_cancel", errno)
	}
	return nil
}

// CancelErrno is Cancel without an error value to allocate: it returns
// io_cancel's errno, 0 for success.
func (c Context) CancelErrno(cb *IOCB) syscall.Errno {
	var unused Event
	_, _, errno := unix.Syscall(unix.SYS_IO_CANCEL, uintptr(c), uintptr(unsafe.Pointer(cb)), uintptr(unsafe.Pointer(&unused)))
	return errno
}

// Destroy cancels every request in flight, waits for all of them to finish,
// and frees the context (io_destroy). After it returns the kernel no longer
// touches any iocb or buffer of this context.
func (c Context) Destroy() error {
	_, _, errno := unix.Syscall(unix.SYS_IO_DESTROY, uintptr(c), 0, 0)
	if errno != 0 {
		return os.NewSyscallError("io_destroy", errno)
	}
	return nil
}
