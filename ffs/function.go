package ffs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config describes a Function to Open.
type Config struct {
	Descriptors *Descriptors
	Strings     *Strings
	// QueueDepth is the number of requests per data endpoint, all of which
	// may be in flight at once (default DefaultQueueDepth).
	QueueDepth int
	// RequestSize is the buffer size of each request, rounded up to a page
	// (default DefaultRequestSize). f_fs copies each request through a
	// kernel buffer of this size, at most 4 MiB.
	RequestSize int
	// OnEvent, if set, sees every ep0 event except SETUP, after the
	// Function's state has been updated. It runs on Run's goroutine.
	OnEvent func(Event)
	// OnControl answers control requests (see Control). It runs on Run's
	// goroutine. A request it leaves unanswered, an error it returns and a
	// panic all stall the request; nil stalls every request.
	OnControl func(*Control) error
	// OnError, if set, is told why a control request was stalled or could
	// not be answered.
	OnError func(error)
}

// Function is one FunctionFS instance driven from Go: ep0 for events and
// control requests, and one EP per data endpoint.
type Function struct {
	dir    string
	cfg    Config
	ep0    *os.File
	ep0raw syscall.RawConn
	evbuf  [4 * eventSize]byte // f_fs queues at most 4 events
	evs    []Event
	// Owned by Run's goroutine. busy: the last ep0 transfer gave up on
	// EAGAIN/EINTR, so its request is still pending. dataStage: that
	// request is an OUT one, and the next read of ep0 is its data stage.
	busy, dataStage bool

	eps []*EP
	eng *engine

	mu      sync.Mutex
	state   State
	changed chan struct{} // closed and replaced at every state change, and when Run ends
	ended   bool          // Run has returned (and not been called again)
	runErr  error         // what it returned

	closeOnce sync.Once
	closeErr  error
}

// Open opens the ep0 of the FunctionFS instance mounted at dir, writes the
// descriptors and strings, opens every data endpoint file and prepares the
// AIO queues. The gadget can be bound to a UDC once Open returns; call Run
// to follow the host.
func Open(dir string, cfg Config) (*Function, error) {
	if cfg.Descriptors == nil || cfg.Strings == nil {
		return nil, errors.New("ffs: Config.Descriptors and Config.Strings are required")
	}
	if cfg.QueueDepth == 0 {
		cfg.QueueDepth = DefaultQueueDepth
	}
	if cfg.RequestSize == 0 {
		cfg.RequestSize = DefaultRequestSize
	}
	if cfg.QueueDepth < 1 || cfg.QueueDepth > 1024 {
		return nil, fmt.Errorf("ffs: Config.QueueDepth %d is out of range 1..1024", cfg.QueueDepth)
	}
	if cfg.RequestSize < 1 || cfg.RequestSize > 4<<20 {
		return nil, fmt.Errorf("ffs: Config.RequestSize %d is out of range 1..4194304 (f_fs bounce buffer limit)", cfg.RequestSize)
	}
	desc, err := cfg.Descriptors.MarshalBinary()
	if err != nil {
		return nil, err
	}
	strs, err := cfg.Strings.MarshalBinary()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(filepath.Join(dir, "ep0"), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(dir, "ep0"), Err: err}
	}
	f := &Function{dir: dir, cfg: cfg, changed: make(chan struct{})}
	// A non-blocking fd handed to os.NewFile joins the runtime poller.
	f.ep0 = os.NewFile(uintptr(fd), filepath.Join(dir, "ep0"))
	if f.ep0raw, err = f.ep0.SyscallConn(); err != nil {
		f.ep0.Close()
		return nil, err
	}
	if _, err := f.ep0.Write(desc); err != nil {
		f.ep0.Close()
		return nil, WriteError("descriptors", desc, unwrapPath(err))
	}
	if _, err := f.ep0.Write(strs); err != nil {
		f.ep0.Close()
		return nil, WriteError("strings", strs, unwrapPath(err))
	}
	for _, ef := range cfg.Descriptors.EndpointFiles() {
		path := filepath.Join(dir, ef.Name)
		// O_NONBLOCK: io_submit on a disabled endpoint completes with
		// EAGAIN instead of blocking the submitting thread.
		efd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			f.closeFiles()
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		f.eps = append(f.eps, &EP{file: ef, fd: efd})
	}
	if f.eng, err = newEngine(f.eps, cfg.QueueDepth, cfg.RequestSize); err != nil {
		f.closeFiles()
		return nil, err
	}
	return f, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// closeFiles closes the endpoint files, then ep0: when the last file of the
// instance closes, f_fs unbinds the gadget.
func (f *Function) closeFiles() {
	for _, ep := range f.eps {
		unix.Close(ep.fd)
	}
	f.ep0.Close()
}

// Dir is the FunctionFS mount point.
func (f *Function) Dir() string { return f.dir }

// EPs lists the data endpoints in file order (ep1, ep2, ...).
func (f *Function) EPs() []*EP { return f.eps }

// Setting returns the index of the interface the endpoint belongs to and
// its alternate setting. f_fs enables the endpoints of every setting at
// once, whichever the host selected.
func (ep *EP) Setting() (intf, alt int) { return int(ep.file.Interface), int(ep.file.Alt) }

// EP returns the data endpoint whose file is name ("ep1"), nil if none.
func (f *Function) EP(name string) *EP {
	for _, ep := range f.eps {
		if ep.file.Name == name {
			return ep
		}
	}
	return nil
}

// State is the Function's current state.
func (f *Function) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

// WaitState waits until the Function is in state want. Only Run changes
// the state: once Run has returned (ep0 failed, or its context ended),
// WaitState returns an error wrapping Run's instead of waiting for ctx,
// until Run is called again. A Function closed meanwhile gives ErrClosed.
func (f *Function) WaitState(ctx context.Context, want State) error {
	for {
		f.mu.Lock()
		s, changed, ended, runErr := f.state, f.changed, f.ended, f.runErr
		f.mu.Unlock()
		// A done ctx wins, and a Run that has returned stops the wait even
		// in the state wanted: that state is no longer followed, and a
		// serving loop (for WaitState(ctx, StateEnabled) == nil { ... })
		// must end rather than spin.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ffs: waiting for state %v (now %v): %w", want, s, err)
		}
		switch {
		case s == StateClosed && want == StateClosed:
			return nil
		case s == StateClosed:
			return ErrClosed
		case ended:
			return fmt.Errorf("ffs: waiting for state %v (now %v): Run returned: %w", want, s, runErr)
		case s == want:
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("ffs: waiting for state %v (now %v): %w", want, s, ctx.Err())
		}
	}
}

func (f *Function) setState(s State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == s {
		return
	}
	f.state = s
	f.wake()
}

// wake tells every WaitState to look again; f.mu is held.
func (f *Function) wake() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// runEnds records that Run is running (ended false) or has returned err.
func (f *Function) runEnds(ended bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended, f.runErr = ended, err
	if ended {
		f.wake()
	}
}

// ep0Repoll bounds how long Run waits on the poller before reading ep0
// again. f_fs's poll of a non-blocking ep0 only tries its mutex and, when
// it is taken, reports no EPOLLIN; the runtime's edge-triggered epoll then
// loses that wakeup, and an event (an UNBIND, seen in the fault soak) would
// wait for the next one.
const ep0Repoll = time.Second

// Run reads ep0 events until ctx is done or the Function is closed,
// tracking the state, refreshing endpoint packet sizes on ENABLE, calling
// OnEvent and answering control requests with OnControl. Call it from one
// goroutine. WaitState returns once Run has returned.
func (f *Function) Run(ctx context.Context) (err error) {
	f.runEnds(false, nil)
	defer func() { f.runEnds(true, err) }()
	stop := context.AfterFunc(ctx, func() { f.ep0.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		f.ep0.SetReadDeadline(time.Now().Add(ep0Repoll))
		if ctx.Err() != nil { // the AfterFunc's deadline may just have been overwritten
			f.ep0.SetReadDeadline(time.Unix(1, 0))
		}
		n, err := f.readEvents()
		if f.dataStage && (err == nil || errors.Is(err, syscall.EOVERFLOW)) {
			// Not events: the data of an OUT request whose answer could
			// not be made (the host may have made it look like events).
			// Reading it ended the request; the host sees it accepted.
			f.dataStage = false
			if f.cfg.OnError != nil {
				f.cfg.OnError(fmt.Errorf("ffs: read and dropped the data stage of an OUT request left unanswered (%d bytes, %v)", n, err))
			}
			continue
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			f.ep0.SetReadDeadline(time.Time{})
			return ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue // see ep0Repoll
		case errors.Is(err, syscall.EIDRM), errors.Is(err, syscall.EINTR):
			continue // a SETUP superseded before we read it: nothing to answer
		case errors.Is(err, syscall.EOVERFLOW):
			// A data stage longer than the event buffer, read as events:
			// ep0 works again and the request is over.
			if f.cfg.OnError != nil {
				f.cfg.OnError(fmt.Errorf("ffs: an OUT data stage was read for events and dropped: %w", err))
			}
			continue
		case errors.Is(err, syscall.EL2HLT):
			// f_fs stalled an IN SETUP still pending when we read for
			// events (its answer failed): the host saw a stall and ep0
			// is usable again, so serving goes on.
			if f.cfg.OnError != nil {
				f.cfg.OnError(fmt.Errorf("ffs: a pending IN request was stalled by the kernel: %w", err))
			}
			continue
		default:
			select {
			case <-f.eng.closing: // ep0 was closed under the read
				return ErrClosed
			default:
				return err
			}
		}
		f.evs, err = DecodeEvents(f.evs[:0], f.evbuf[:n])
		if err != nil {
			return err
		}
		for _, ev := range f.evs {
			f.dispatch(ev)
		}
	}
}

func (f *Function) readEvents() (int, error) {
	var n int
	var rerr error
	err := f.ep0raw.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), f.evbuf[:])
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, os.NewSyscallError("read ep0", rerr)
	}
	return n, nil
}

func (f *Function) dispatch(ev Event) {
	if ev.Type == EventSetup {
		f.serveControl(ev.Setup)
		return
	}
	f.mu.Lock()
	next := f.state.next(ev.Type)
	f.mu.Unlock()
	if ev.Type == EventEnable {
		f.refreshMaxPacket()
	}
	f.setState(next)
	if f.cfg.OnEvent != nil {
		f.cfg.OnEvent(ev)
	}
}

// Stats counts the AIO engine's work since Open.
type Stats struct {
	Submitted  uint64 // requests io_submit accepted
	Completed  uint64 // completions reaped
	Cancels    uint64 // io_cancel calls made by Wait
	Unexpected uint64 // completions for no request in flight: always 0 unless something is badly wrong
	InFlight   int64
}

// Stats returns the engine counters.
func (f *Function) Stats() Stats {
	e := f.eng
	return Stats{
		Submitted:  e.submitted.Load(),
		Completed:  e.completed.Load(),
		Cancels:    e.cancels.Load(),
		Unexpected: e.unexpected.Load(),
		InFlight:   e.inflight.Load(),
	}
}

// Close cancels every transfer in flight, waits for the completions,
// destroys the AIO context, closes the endpoint files and ep0 (which makes
// f_fs unbind the gadget), and releases the request memory once every
// request taken with Get has been released. It is idempotent.
func (f *Function) Close() error {
	f.closeOnce.Do(func() {
		f.closeErr = f.eng.close()
		f.closeFiles()
		f.setState(StateClosed)
	})
	return f.closeErr
}
