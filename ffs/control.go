package ffs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Control is a control request delivered to Config.OnControl. Answer it
// exactly once:
//
//   - Write: the IN data stage (at most wLength bytes; fewer ends the
//     transfer early with a short packet, which f_fs sends for you);
//   - Read: the OUT data stage (exactly wLength bytes);
//   - Ack: the status stage of a request without data (wLength 0);
//   - Stall: refuse it (the host sees EPIPE).
//
// Using the wrong one for the request (a Write for an OUT request, a reply
// longer than wLength, a Read of another size) answers nothing and returns
// an error; the request is then stalled when the handler returns.
type Control struct {
	Setup
	stage    ControlStage
	answered bool
}

// ControlStage moves the data and status stages of one control request,
// once Control has checked that the answer fits the request. A Function
// answers through ep0; ServeControl takes any other, so that a handler can
// be unit-tested or fuzzed without a kernel.
type ControlStage interface {
	// Write sends the IN data stage p, at most wLength bytes, in one
	// transfer; an empty p is the status stage of an IN request without
	// data stage.
	Write(p []byte) (int, error)
	// Read receives the OUT data stage into p, exactly wLength bytes, in
	// one transfer; an empty p is the status stage of an OUT request
	// without data stage.
	Read(p []byte) (int, error)
	// Stall refuses the request: the host sees a STALL handshake.
	Stall() error
}

// errUnanswered is why a request the handler left alone was stalled.
var errUnanswered = errors.New("not answered by the handler")

// ServeControl answers the request s with handler through stage, under the
// contract Run applies to Config.OnControl: an answer that does not fit s
// reaches no stage method, only the first answer does, and a request the
// handler leaves unanswered, returns an error for or panics on is stalled
// (a nil handler stalls every request). It returns what Run gives
// Config.OnError: a *ControlError for s when the request was stalled or the
// handler returned an error, nil when the handler answered it cleanly.
func ServeControl(s Setup, stage ControlStage, handler func(*Control) error) error {
	c := &Control{Setup: s, stage: stage}
	err := c.runHandler(handler)
	if c.answered {
		if err == nil {
			return nil
		}
		return &ControlError{Setup: s, Reason: "handler error after answering", Err: err}
	}
	if err == nil {
		err = errUnanswered
	}
	if serr := c.Stall(); serr != nil {
		err = errors.Join(err, serr)
	}
	return &ControlError{Setup: s, Reason: "stalled", Err: err}
}

func (f *Function) serveControl(s Setup) {
	f.busy = false
	err := ServeControl(s, ep0Stage{f: f, in: s.IsIn()}, f.cfg.OnControl)
	f.dataStage = f.busy && !s.IsIn() && s.Length > 0
	if err != nil && f.cfg.OnError != nil {
		f.cfg.OnError(err)
	}
}

func (c *Control) runHandler(handler func(*Control) error) (err error) {
	if handler == nil {
		return errors.New("no OnControl handler")
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return handler(c)
}

func (c *Control) mistake(format string, args ...any) error {
	return &ControlError{Setup: c.Setup, Reason: fmt.Sprintf(format, args...)}
}

// Write answers an IN request with data, at most wLength bytes.
func (c *Control) Write(p []byte) error {
	switch {
	case c.answered:
		return c.mistake("already answered")
	case !c.IsIn():
		return c.mistake("Write to an OUT request")
	case len(p) > int(c.Length):
		return c.mistake("reply of %d bytes exceeds wLength %d", len(p), c.Length)
	}
	c.answered = true
	_, err := c.stage.Write(p)
	return c.kernelErr("data stage write", err)
}

// Read receives the OUT data stage into p, which must be exactly wLength
// bytes, and returns the bytes the host sent.
func (c *Control) Read(p []byte) (int, error) {
	switch {
	case c.answered:
		return 0, c.mistake("already answered")
	case c.IsIn():
		return 0, c.mistake("Read of an IN request")
	case c.Length == 0:
		return 0, c.mistake("Read of a request without data stage: use Ack")
	case len(p) != int(c.Length):
		return 0, c.mistake("Read into %d bytes, wLength is %d", len(p), c.Length)
	}
	c.answered = true
	n, err := c.stage.Read(p)
	return n, c.kernelErr("data stage read", err)
}

// Ack completes the status stage of a request without data stage.
func (c *Control) Ack() error {
	switch {
	case c.answered:
		return c.mistake("already answered")
	case c.Length != 0:
		return c.mistake("Ack of a request with wLength %d: use Read or Write", c.Length)
	}
	c.answered = true
	// The status stage is a zero-length transfer in the request's direction.
	var err error
	if c.IsIn() {
		_, err = c.stage.Write(nil)
	} else {
		_, err = c.stage.Read(nil)
	}
	return c.kernelErr("status stage", err)
}

// Stall refuses the request.
func (c *Control) Stall() error {
	c.answered = true
	return c.kernelErr("stall", c.stage.Stall())
}

func (c *Control) kernelErr(stage string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EIDRM) {
		err = fmt.Errorf("%w: %w", ErrStaleSetup, err)
	}
	return &ControlError{Setup: c.Setup, Reason: stage, Err: err}
}

// ep0Stage answers a request of direction in through ep0.
type ep0Stage struct {
	f  *Function
	in bool
}

func (s ep0Stage) Write(p []byte) (int, error) { return s.f.ep0io(p, false) }

func (s ep0Stage) Read(p []byte) (int, error) { return s.f.ep0io(p, true) }

// Stall makes a transfer in the wrong direction: f_fs stalls ep0 for it and
// reports EL2HLT, which here means success.
func (s ep0Stage) Stall() error {
	var one [1]byte
	_, err := s.f.ep0io(one[:], s.in)
	if errors.Is(err, syscall.EL2HLT) {
		return nil
	}
	if err == nil {
		return errors.New("stall was not taken by the kernel")
	}
	return err
}

// ep0io makes one transfer on ep0. f_fs waits in the kernel for a control
// data or status stage whatever O_NONBLOCK says, so this does not park on
// the poller; it goes through SyscallConn's Control, not Read, so that the
// read deadline Run keeps on ep0 cannot fail an answer.
//
// On an O_NONBLOCK ep0 f_fs only tries its mutex and answers EAGAIN when it
// is taken (its poll takes it too, called from the runtime's netpoller on
// another thread), and an interrupted wait for a data stage answers EINTR
// (from source, Linux 6.1). Either
// way the request is still pending, so the transfer is tried again: given
// up, the request would stay pending and Run's next read of ep0 would take
// an OUT data stage for events.
func (f *Function) ep0io(p []byte, read bool) (int, error) {
	deadline := time.Now().Add(ep0Retry)
	for try := 1; ; try++ {
		n, err := f.ep0once(p, read)
		busy := errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR)
		if !busy || time.Now().After(deadline) {
			f.busy = busy
			return n, err
		}
		if testHookEP0Busy != nil {
			testHookEP0Busy(try)
		}
		time.Sleep(min(time.Duration(try)*50*time.Microsecond, 5*time.Millisecond))
	}
}

// ep0Retry bounds how long ep0io retries: f_fs holds the mutex for
// microseconds, and the host gives up on a control request after 5 s.
const ep0Retry = time.Second

// testHookEP0Busy, set by tests only, is called with the try's number each
// time ep0 was busy and the transfer is about to be tried again.
var testHookEP0Busy func(try int)

func (f *Function) ep0once(p []byte, read bool) (int, error) {
	var n int
	var ioerr error
	err := f.ep0raw.Control(func(fd uintptr) {
		if read {
			n, ioerr = unix.Read(int(fd), p)
		} else {
			n, ioerr = unix.Write(int(fd), p)
		}
	})
	if err != nil {
		return 0, err
	}
	if ioerr != nil {
		op := "write ep0"
		if read {
			op = "read ep0"
		}
		return n, os.NewSyscallError(op, ioerr)
	}
	return n, nil
}
