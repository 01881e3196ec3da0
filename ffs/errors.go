package ffs

import (
	"errors"
	"syscall"
)

// Sentinel errors. Each matches both its meaning and the errno f_fs reports
// for it: errors.Is(err, ErrCancelled) and errors.Is(err, syscall.ECONNRESET)
// are both true for a cancelled transfer.
var (
	// ErrCancelled: the transfer was dequeued by io_cancel (ECONNRESET; some
	// stable kernels report EINTR instead, which also matches).
	ErrCancelled error = &sentinel{"transfer cancelled", syscall.ECONNRESET}
	// ErrShutdown: the endpoint was disabled under the transfer (host
	// disconnect, reset, configuration change or unbind).
	ErrShutdown error = &sentinel{"endpoint shut down", syscall.ESHUTDOWN}
	// ErrHalted: the endpoint is halted (f_fs answers EBADMSG to I/O in the
	// wrong direction, which halts it; the controller may report EPIPE).
	ErrHalted error = &sentinel{"endpoint halted", syscall.EBADMSG}
	// ErrOverflow: the host sent more than the request could hold.
	ErrOverflow error = &sentinel{"transfer overflow", syscall.EOVERFLOW}
	// ErrNotEnabled: the endpoint is not enabled (not bound, not yet
	// configured by the host, or disconnected).
	ErrNotEnabled error = &sentinel{"endpoint not enabled", syscall.EAGAIN}
	// ErrStaleSetup: the control request was superseded (the host sent a
	// new SETUP, or the function was disabled) before it was answered.
	ErrStaleSetup error = &sentinel{"stale control request", syscall.EIDRM}
	// ErrClosed: the Function was closed.
	ErrClosed = errors.New("ffs: function closed")
)

type sentinel struct {
	msg   string
	errno syscall.Errno
}

func (s *sentinel) Error() string { return "ffs: " + s.msg }

// Is makes the sentinel match its errno too.
func (s *sentinel) Is(target error) bool { return target == s.errno }

// kindOf maps a completion errno to its sentinel, nil if none fits.
func kindOf(errno syscall.Errno) error {
	switch errno {
	case syscall.ECONNRESET, syscall.EINTR:
		return ErrCancelled
	case syscall.ESHUTDOWN, syscall.ENODEV:
		return ErrShutdown
	case syscall.EBADMSG, syscall.EPIPE:
		return ErrHalted
	case syscall.EOVERFLOW:
		return ErrOverflow
	case syscall.EAGAIN:
		return ErrNotEnabled
	case syscall.EIDRM:
		return ErrStaleSetup
	}
	return nil
}

// TransferError is how a data transfer failed: the endpoint, the operation,
// the sentinel that says what happened (nil when none fits) and the errno
// the kernel completed the request with. errors.Is matches both Kind and
// Errno. The engine returns one shared value per endpoint for the common
// errnos (a cancel, a disable, a halt), so that they allocate nothing:
// compare with errors.Is or read it, do not modify it.
type TransferError struct {
	Endpoint string // "ep1"
	Op       string // "read" or "write"
	Kind     error
	Errno    syscall.Errno

	wrapped []error // Unwrap's answer made once, in the engine's shared errors
}

func (e *TransferError) Error() string {
	what := e.Errno.Error()
	if e.Kind != nil {
		what = e.Kind.(*sentinel).msg + " (" + what + ")"
	}
	return "ffs: " + e.Endpoint + " " + e.Op + ": " + what
}

// Unwrap returns Kind and Errno for errors.Is and errors.As.
func (e *TransferError) Unwrap() []error {
	if e.wrapped != nil {
		return e.wrapped
	}
	if e.Kind == nil {
		return []error{e.Errno}
	}
	return []error{e.Kind, e.Errno}
}

// ControlError is a control request that could not be answered as asked.
type ControlError struct {
	Setup  Setup
	Reason string
	Err    error // the ep0 errno, if the kernel refused; nil for a caller mistake
}

func (e *ControlError) Error() string {
	s := "ffs: control " + e.Setup.String() + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ControlError) Unwrap() error { return e.Err }
