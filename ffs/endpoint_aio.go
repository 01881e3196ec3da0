package ffs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/usb"
)

// Defaults for Config.QueueDepth and Config.RequestSize.
const (
	DefaultQueueDepth  = 16
	DefaultRequestSize = 16 << 10
)

// engine is one kernel AIO context shared by every endpoint of a Function,
// its eventfd, the goroutine that reaps its completions, and the pinned
// memory of every request. See doc.go for why there is one per Function.
type engine struct {
	actx  linux.Context
	efd   int
	efile *os.File
	mem   *linux.Region
	reqs  []*Request // indexed by aio_data
	// userRing: completions are read from the ring without a system call.
	userRing bool

	// reapMu is held by whoever drains the completions: the reaper, or a
	// Wait that finds its completion not yet delivered and takes it from
	// the ring itself instead of waiting for the reaper to be scheduled.
	// It guards events and seq, so completions are numbered in ring order.
	reapMu sync.Mutex
	events []linux.Event
	// ringGone is set under reapMu before io_destroy unmaps the ring.
	ringGone bool

	closing    chan struct{} // closed when Close starts
	reaperDone chan struct{}
	// life is held shared by Submit and exclusively by Close when it stops
	// new submissions, so none slips between the last cancel and io_destroy.
	life   sync.RWMutex
	closed bool // written holding both life and mu

	// out counts requests taken from the pools. The memory is unmapped when
	// the engine is closed and out is zero, so a request still held by its
	// owner after Close keeps a valid buffer.
	mu       sync.Mutex
	out      int
	unmapped bool

	inflight atomic.Int64
	drained  chan struct{} // a token whenever inflight drops to zero

	submitted, completed, cancels, unexpected atomic.Uint64
	// wakeups counts the reaper's returns from the poller; submits the
	// io_submit calls (a batch is one).
	wakeups, submits atomic.Uint64
	seq              uint64 // completions reaped, under reapMu
}

// EP is one open data endpoint file of a Function, with its fixed pool of
// requests. Its methods are safe for concurrent use.
type EP struct {
	eng       *engine
	file      EndpointFile
	fd        int
	maxPacket atomic.Uint32 // wMaxPacketSize at the current speed, 0 until known
	free      chan *Request
	inflight  atomic.Int64
	drained   chan struct{}
	reqs      []*Request

	batchMu sync.Mutex
	batch   []*linux.IOCB // SubmitBatch's argument to io_submit, QueueDepth long

	// errs are the errors of the completions that end transfers in normal
	// operation (cancel, disable, halt), made once: a cancel or a
	// disconnect allocates nothing.
	errs []*TransferError
}

// commonErrnos are the errnos given an EP.errs entry.
var commonErrnos = []syscall.Errno{syscall.ECONNRESET, syscall.EINTR, syscall.ESHUTDOWN, syscall.ENODEV,
	syscall.EAGAIN, syscall.EBADMSG, syscall.EPIPE, syscall.EOVERFLOW}

func (ep *EP) makeErrs() {
	op := "read"
	if ep.file.Address.IsIn() {
		op = "write"
	}
	ep.errs = make([]*TransferError, len(commonErrnos))
	for i, errno := range commonErrnos {
		e := &TransferError{Endpoint: ep.file.Name, Op: op, Kind: kindOf(errno), Errno: errno}
		e.wrapped = e.Unwrap() // errors.Is on a cancellation allocates nothing either
		ep.errs[i] = e
	}
}

// Request is one transfer slot of an endpoint: an iocb and a buffer pinned
// outside the Go heap. The kernel owns both from Submit until the
// completion has been reaped; Wait returns only after that. A Request is
// used by one goroutine at a time: Get it, fill Buf, Submit, Wait, then
// Submit again or Release it.
type Request struct {
	ep      *EP
	idx     uint64
	cb      *linux.IOCB
	buf     []byte
	done    chan struct{} // one token per completion
	pending bool          // submitted and not yet waited for (owner only)
	// inKernel is set from submission until the completion is reaped: the
	// reaper's proof that each submission completes exactly once.
	inKernel atomic.Bool

	// Written by the reaper before the token is sent on done.
	res       int64
	res2      int64
	seq       uint64
	cancelErr syscall.Errno
}

// newEngine sets up the AIO context, eventfd and memory for eps and starts
// the reaper.
func newEngine(eps []*EP, depth, size int) (*engine, error) {
	page := os.Getpagesize()
	size = (size + page - 1) / page * page
	total := len(eps) * depth
	if total == 0 {
		total = 1 // io_setup rejects 0; a function without data endpoints still gets a context
	}
	cbBytes := (total*linux.IOCBSize + page - 1) / page * page
	e := &engine{
		events:     make([]linux.Event, total),
		closing:    make(chan struct{}),
		reaperDone: make(chan struct{}),
		drained:    make(chan struct{}, 1),
	}
	var err error
	if e.actx, err = linux.Setup(total); err != nil {
		return nil, err
	}
	if e.efd, e.efile, err = linux.NewEventfd(); err != nil {
		e.actx.Destroy()
		return nil, err
	}
	if e.mem, err = linux.Map(cbBytes + len(eps)*depth*size); err != nil {
		e.efile.Close()
		e.actx.Destroy()
		return nil, err
	}
	e.userRing = e.actx.HasUserRing()
	cbs := e.mem.IOCBs(0, len(eps)*depth)
	bufs := e.mem.Bytes()[cbBytes:]
	for _, ep := range eps {
		ep.eng = e
		ep.free = make(chan *Request, depth)
		ep.drained = make(chan struct{}, 1)
		ep.batch = make([]*linux.IOCB, 0, depth)
		ep.makeErrs()
		for range depth {
			i := len(e.reqs)
			r := &Request{
				ep:   ep,
				idx:  uint64(i),
				cb:   &cbs[i],
				buf:  bufs[i*size : (i+1)*size : (i+1)*size],
				done: make(chan struct{}, 1),
			}
			e.reqs = append(e.reqs, r)
			ep.reqs = append(ep.reqs, r)
			ep.free <- r
		}
	}
	go e.reap()
	return e, nil
}

var zeroTimeout unix.Timespec

// reap parks on the eventfd through the runtime poller and drains the
// completions each time it fires. It exits when the eventfd is closed.
//
// With the ring read in user space, the eventfd is read once per wakeup:
// the poller is edge-triggered and remembers an edge from the moment the
// wait is prepared, and the kernel publishes an event in the ring before it
// signals the eventfd, so a look at the ring after that moment (no system
// call) replaces the read that would only find the counter empty. Without
// the ring the counter is what tells, so it is read before each wait.
func (e *engine) reap() {
	defer close(e.reaperDone)
	rc, err := e.efile.SyscallConn()
	if err != nil {
		return
	}
	var prepared bool
	wait := func(fd uintptr) bool {
		if !prepared { // before waiting: is there anything to drain?
			prepared = true
			if e.userRing {
				return e.actx.RingPending()
			}
			return linux.ReadEventfd(int(fd))
		}
		linux.ReadEventfd(int(fd)) // EAGAIN: a spurious wakeup, drain anyway
		return true
	}
	for {
		e.drain()
		prepared = false
		if err := rc.Read(wait); err != nil {
			return
		}
		e.wakeups.Add(1)
	}
}

// drain delivers every completion waiting, under reapMu.
func (e *engine) drain() {
	e.reapMu.Lock()
	defer e.reapMu.Unlock()
	for {
		n := e.reapSome()
		for i := range e.events[:n] {
			e.complete(&e.events[i])
		}
		if n < len(e.events) {
			return
		}
	}
}

// tryDrain is drain for a Wait about to block: only from the ring (a
// system call would cost what it saves) and only when no one else is
// draining.
func (e *engine) tryDrain() {
	if !e.userRing || !e.reapMu.TryLock() {
		return
	}
	defer e.reapMu.Unlock()
	if e.ringGone || !e.actx.RingPending() {
		return
	}
	for {
		n := e.reapSome()
		for i := range e.events[:n] {
			e.complete(&e.events[i])
		}
		if n < len(e.events) {
			return
		}
	}
}

// reapSome takes the completions waiting in the ring: straight from the
// ring mapped in memory when its layout is the known one, else through
// io_getevents. The caller holds reapMu.
func (e *engine) reapSome() int {
	if e.userRing {
		return e.actx.ReapRing(e.events)
	}
	n, err := e.actx.GetEvents(0, e.events, &zeroTimeout)
	if err != nil {
		return 0
	}
	return n
}

func (e *engine) complete(ev *linux.Event) {
	if r := e.settle(ev); r != nil {
		r.done <- struct{}{}
	}
}

// settle records a completion in its request and the counts, under reapMu,
// and returns the request, or nil for an event that is none of ours. The
// caller delivers it: a token on done, or a Pump's handler.
func (e *engine) settle(ev *linux.Event) *Request {
	if ev.Data >= uint64(len(e.reqs)) {
		e.unexpected.Add(1)
		return nil
	}
	r := e.reqs[ev.Data]
	if !r.inKernel.Load() { // a completion for a request not in flight
		e.unexpected.Add(1)
		return nil
	}
	r.res, r.res2 = ev.Res, ev.Res2
	e.seq++
	r.seq = e.seq
	r.inKernel.Store(false)
	e.completed.Add(1)
	ep := r.ep
	if ep.inflight.Add(-1) == 0 {
		signal(ep.drained)
	}
	if e.inflight.Add(-1) == 0 {
		signal(e.drained)
	}
	return r
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Name is the endpoint file's name, e.g. "ep1".
func (ep *EP) Name() string { return ep.file.Name }

// Address is the endpoint address as described.
func (ep *EP) Address() usb.EndpointAddress { return ep.file.Address }

// Type is the transfer type as described.
func (ep *EP) Type() usb.TransferType { return ep.file.Type }

// MaxPacketSize is wMaxPacketSize at the speed the host enabled the
// endpoint with; 0 before the first ENABLE.
func (ep *EP) MaxPacketSize() int { return int(ep.maxPacket.Load()) }

// QueueDepth is the number of requests of the endpoint.
func (ep *EP) QueueDepth() int { return len(ep.reqs) }

// InFlight is how many of the endpoint's requests the kernel owns now:
// submitted, by any of Submit, SubmitBatch, the streams or a Pump, and not
// yet reaped.
func (ep *EP) InFlight() int { return int(ep.inflight.Load()) }

// RequestSize is the capacity of each request buffer (Config.RequestSize
// rounded up to a page).
func (ep *EP) RequestSize() int { return len(ep.reqs[0].buf) }

// Get takes a free request from the endpoint's pool, waiting for one until
// ctx is done or the Function is closed. A ctx already done gives its error
// even when a request is free, so Read, Write and the streams never submit
// a transfer only to cancel it.
func (ep *EP) Get(ctx context.Context) (*Request, error) {
	select {
	case <-ep.eng.closing:
		return nil, ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil { // submitting only to cancel would cost two system calls
		return nil, err
	}
	var r *Request
	select {
	case r = <-ep.free:
	default:
		select {
		case r = <-ep.free:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ep.eng.closing:
			return nil, ErrClosed
		}
	}
	e := ep.eng
	e.mu.Lock()
	e.out++
	e.mu.Unlock()
	return r, nil
}

// Buf is the request's whole pinned buffer. Fill it before submitting to
// an IN endpoint; read it after Wait on an OUT endpoint. Do not touch it
// between Submit and the end of Wait, nor keep it after Release.
func (r *Request) Buf() []byte { return r.buf }

// EP is the endpoint the request belongs to.
func (r *Request) EP() *EP { return r.ep }

// Submit queues the request: on an IN endpoint a write of Buf()[:n] (n may
// be 0: a zero-length packet), on an OUT endpoint a read of up to n bytes,
// rounded up to a multiple of wMaxPacketSize so that a full packet never
// overflows the request.
func (r *Request) Submit(n int) error {
	ep := r.ep
	e := ep.eng
	if err := r.check(n); err != nil {
		return err
	}
	e.life.RLock()
	defer e.life.RUnlock()
	if e.closed {
		return ErrClosed
	}
	r.prep(n)
	err := e.actx.SubmitOne(r.cb)
	e.submits.Add(1)
	if err != nil {
		r.unprep()
		return fmt.Errorf("ffs: %s: %w", ep.file.Name, err)
	}
	r.submitted()
	return nil
}

// SubmitBatch queues every request of rs, each as Submit(n) would, with
// one io_submit: what a source that found several requests completed at
// once resubmits. Every request must belong to ep. It returns how many were
// queued, in order; the rest are not in flight, and the error says why the
// first of them was not.
func (ep *EP) SubmitBatch(rs []*Request, n int) (int, error) {
	e := ep.eng
	if len(rs) > len(ep.reqs) {
		return 0, fmt.Errorf("ffs: %s: batch of %d requests, queue depth is %d", ep.file.Name, len(rs), len(ep.reqs))
	}
	for _, r := range rs {
		if r.ep != ep {
			return 0, fmt.Errorf("ffs: %s: batch holds a request of %s", ep.file.Name, r.ep.file.Name)
		}
		if err := r.check(n); err != nil {
			return 0, err
		}
	}
	if len(rs) == 0 {
		return 0, nil
	}
	ep.batchMu.Lock()
	defer ep.batchMu.Unlock()
	got, err := e.submitAll(rs, n, nil, e.efd, ep.batch)
	if err != nil && !errors.Is(err, ErrClosed) {
		return got, fmt.Errorf("ffs: %s: %d of %d queued: %w", ep.file.Name, got, len(rs), err)
	}
	return got, err
}

// submitAll queues rs with one io_submit, request i with ns[i] bytes (n
// for all when ns is nil), their completions signalling efd (-1: none),
// and returns how many the kernel took, in order; the rest are not in
// flight. cbs is scratch space for io_submit's argument, of capacity len(rs).
// The requests have been checked.
func (e *engine) submitAll(rs []*Request, n int, ns []int, efd int, cbs []*linux.IOCB) (int, error) {
	e.life.RLock()
	defer e.life.RUnlock()
	if e.closed {
		return 0, ErrClosed
	}
	cbs = cbs[:0]
	for i, r := range rs {
		if ns != nil {
			n = ns[i]
		}
		r.prepFD(n, efd)
		cbs = append(cbs, r.cb)
	}
	got, err := e.actx.Submit(cbs)
	e.submits.Add(1)
	if err == nil && got < len(rs) {
		err = os.NewSyscallError("io_submit", unix.EAGAIN)
	}
	for i, r := range rs {
		if i < got {
			r.submitted()
		} else {
			r.unprep()
		}
	}
	return got, err
}

// check validates a submission of n bytes; the owner's state only.
func (r *Request) check(n int) error {
	ep := r.ep
	if r.pending {
		return fmt.Errorf("ffs: %s: submit of a request already in flight", ep.file.Name)
	}
	if n < 0 || n > len(r.buf) {
		return fmt.Errorf("ffs: %s: submit of %d bytes, request size is %d", ep.file.Name, n, len(r.buf))
	}
	if n == 0 && !ep.file.Address.IsIn() {
		return fmt.Errorf("ffs: %s: read of 0 bytes", ep.file.Name)
	}
	return nil
}

// prep fills the iocb and counts the request in flight, before io_submit.
// Its completion signals the engine's eventfd, which wakes the reaper.
func (r *Request) prep(n int) { r.prepFD(n, r.ep.eng.efd) }

// prepFD is prep with the eventfd to signal, -1 for none (a Pump reaps
// its own requests).
func (r *Request) prepFD(n, efd int) {
	ep := r.ep
	e := ep.eng
	if ep.file.Address.IsIn() {
		r.cb.PrepWrite(ep.fd, r.buf[:n], r.idx, efd)
	} else {
		if mp := int(ep.maxPacket.Load()); mp > 0 {
			if up := (n + mp - 1) / mp * mp; up <= len(r.buf) {
				n = up
			}
		}
		r.cb.PrepRead(ep.fd, r.buf[:n], r.idx, efd)
	}
	r.cancelErr = 0
	ep.inflight.Add(1)
	e.inflight.Add(1)
	r.inKernel.Store(true)
}

// unprep undoes prep for a request io_submit did not take.
func (r *Request) unprep() {
	r.inKernel.Store(false)
	r.ep.inflight.Add(-1)
	r.ep.eng.inflight.Add(-1)
}

func (r *Request) submitted() {
	r.ep.eng.submitted.Add(1)
	r.pending = true
}

// SwapBuffers exchanges the buffers of two requests of the same Function,
// neither in flight, so that the data one request received goes out with
// the other without a copy: a loopback hands an OUT completion to an IN
// request this way. Buf of each returns the other's old buffer afterwards;
// both belong to the Function's pinned memory and are the same size.
func SwapBuffers(a, b *Request) error {
	if a.ep.eng != b.ep.eng {
		return fmt.Errorf("ffs: swap of buffers of %s and %s: not of the same function", a.ep.file.Name, b.ep.file.Name)
	}
	if a.pending || a.inKernel.Load() {
		return fmt.Errorf("ffs: %s: swap of the buffer of a request in flight", a.ep.file.Name)
	}
	if b.pending || b.inKernel.Load() {
		return fmt.Errorf("ffs: %s: swap of the buffer of a request in flight", b.ep.file.Name)
	}
	a.buf, b.buf = b.buf, a.buf
	return nil
}

// Release returns the request to the endpoint's pool. The request must not
// be in flight.
func (r *Request) Release() {
	if r.pending {
		panic("ffs: Release of a request in flight: Wait for it first")
	}
	e := r.ep.eng
	e.mu.Lock()
	e.out--
	last := e.closed && e.out == 0
	e.mu.Unlock()
	if last {
		e.unmap()
		return
	}
	r.ep.free <- r
}

// Seq numbers the request's last completion among every completion of its
// Function, from 1 in the order the kernel made them. f_fs completes all the
// transfers of a function on one ordered workqueue and the AIO ring keeps
// that order, so the numbers order completions across endpoints too: an OUT
// transfer numbered below an ErrShutdown completion of any endpoint moved its
// data before that disable, i.e. before the host's SET_INTERFACE, reset or
// disconnect that caused it.
func (r *Request) Seq() uint64 { return r.seq }

// RawResult is the res field of the request's last completion: bytes moved
// or a negative errno (-104 for a cancelled transfer).
func (r *Request) RawResult() int64 { return r.res }

// Res2 is the res2 field of the request's last completion. It is
// kernel-defined and ffs does not use it: 5.10's f_fs repeats res there,
// and from 5.16 on (so on 6.1 and later) fs/aio always writes 0. A
// completion ffs made up itself (a request io_destroy swallowed) has 0.
func (r *Request) Res2() int64 { return r.res2 }

// result turns the last completion into bytes and an error.
func (r *Request) result() (int, error) {
	if r.res >= 0 {
		return int(r.res), nil
	}
	errno := syscall.Errno(-r.res)
	for i, c := range commonErrnos {
		if c == errno {
			return 0, r.ep.errs[i]
		}
	}
	op := "read"
	if r.ep.file.Address.IsIn() {
		op = "write"
	}
	return 0, &TransferError{Endpoint: r.ep.file.Name, Op: op, Kind: kindOf(errno), Errno: errno}
}

// Read reads one transfer of up to len(p) bytes. A transfer longer than p
// (possible when len(p) is not a multiple of wMaxPacketSize) is cut to p
// and reported as io.ErrShortBuffer. Cancelling ctx cancels the transfer.
func (ep *EP) Read(ctx context.Context, p []byte) (int, error) {
	r, err := ep.Get(ctx)
	if err != nil {
		return 0, err
	}
	defer r.Release()
	n := min(len(p), len(r.buf))
	if err := r.Submit(n); err != nil {
		return 0, err
	}
	got, err := r.Wait(ctx)
	if err != nil {
		return 0, err
	}
	c := copy(p, r.buf[:got])
	if c < got {
		return c, io.ErrShortBuffer
	}
	return c, nil
}

// Write writes p, one request-sized transfer at a time, and returns how
// many bytes the host took. It does not add a zero-length packet after p;
// an empty p is one (see WriteZLP).
func (ep *EP) Write(ctx context.Context, p []byte) (int, error) {
	r, err := ep.Get(ctx)
	if err != nil {
		return 0, err
	}
	defer r.Release()
	written := 0
	for {
		c := copy(r.buf, p[written:])
		if err := r.Submit(c); err != nil {
			return written, err
		}
		n, err := r.Wait(ctx)
		written += n
		if err != nil || written == len(p) {
			return written, err
		}
	}
}

// WriteZLP sends a zero-length packet, which ends a transfer whose length
// is a multiple of wMaxPacketSize.
func (ep *EP) WriteZLP(ctx context.Context) error {
	_, err := ep.Write(ctx, nil)
	return err
}

// Reader keeps every request of an OUT endpoint queued and returns the data
// in order. It is not safe for concurrent use.
type Reader struct {
	ep     *EP
	ctx    context.Context
	ring   []*Request
	head   int
	off, n int
	have   bool
	err    error
}

// NewReader returns a streaming reader on the endpoint. It takes all of
// the endpoint's requests on first use; Close gives them back. ctx bounds
// every Read and cancelling it cancels the queued transfers.
func (ep *EP) NewReader(ctx context.Context) *Reader {
	return &Reader{ep: ep, ctx: ctx}
}

func (rd *Reader) Read(p []byte) (int, error) {
	if rd.err != nil {
		return 0, rd.err
	}
	if rd.ring == nil {
		for range rd.ep.QueueDepth() {
			r, err := rd.ep.Get(rd.ctx)
			if err == nil {
				rd.ring = append(rd.ring, r)
				err = r.Submit(len(r.buf))
			}
			if err != nil {
				rd.err = err
				return 0, err
			}
		}
	}
	for !rd.have {
		r := rd.ring[rd.head]
		n, err := r.Wait(rd.ctx)
		if err != nil {
			rd.err = err
			return 0, err
		}
		if n == 0 { // a zero-length packet carries no data: requeue it
			if err := rd.advance(); err != nil {
				return 0, err
			}
			continue
		}
		rd.off, rd.n, rd.have = 0, n, true
	}
	c := copy(p, rd.ring[rd.head].buf[rd.off:rd.n])
	rd.off += c
	if rd.off == rd.n {
		rd.have = false
		if err := rd.advance(); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (rd *Reader) advance() error {
	r := rd.ring[rd.head]
	if err := r.Submit(len(r.buf)); err != nil {
		rd.err = err
		return err
	}
	rd.head = (rd.head + 1) % len(rd.ring)
	return nil
}

// Close cancels the queued transfers, waits for them, and returns the
// requests to the endpoint.
func (rd *Reader) Close() error {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range rd.ring {
		if r.pending {
			r.Wait(cancelled)
		}
		r.Release()
	}
	rd.ring = nil
	if rd.err == nil {
		rd.err = ErrClosed
	}
	return nil
}

// Writer keeps up to every request of an IN endpoint in flight. Each Write
// is split into request-sized transfers; errors are sticky. It is not safe
// for concurrent use.
type Writer struct {
	ep    *EP
	ctx   context.Context
	ring  []*Request
	head  int // oldest in flight
	count int // in flight
	err   error
}

// NewWriter returns a streaming writer on the endpoint. It takes all of the
// endpoint's requests on first use; Close gives them back.
func (ep *EP) NewWriter(ctx context.Context) *Writer {
	return &Writer{ep: ep, ctx: ctx}
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.ring == nil {
		for range w.ep.QueueDepth() {
			r, err := w.ep.Get(w.ctx)
			if err != nil {
				w.err = err
				return 0, err
			}
			w.ring = append(w.ring, r)
		}
	}
	done := 0
	for done < len(p) {
		if w.count == len(w.ring) {
			if err := w.waitOldest(); err != nil {
				return done, err
			}
		}
		r := w.ring[(w.head+w.count)%len(w.ring)]
		c := copy(r.buf, p[done:])
		if err := r.Submit(c); err != nil {
			w.err = err
			return done, err
		}
		w.count++
		done += c
	}
	return done, nil
}

func (w *Writer) waitOldest() error {
	r := w.ring[w.head]
	_, err := r.Wait(w.ctx)
	w.head = (w.head + 1) % len(w.ring)
	w.count--
	if err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// Flush waits until every queued transfer has completed.
func (w *Writer) Flush() error {
	for w.count > 0 {
		w.waitOldest()
	}
	return w.err
}

// Close flushes and returns the requests to the endpoint.
func (w *Writer) Close() error {
	err := w.Flush()
	for _, r := range w.ring {
		r.Release()
	}
	w.ring = nil
	if w.err == nil {
		w.err = ErrClosed
	}
	return err
}
