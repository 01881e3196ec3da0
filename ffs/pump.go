package ffs

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gadgetkit/gadgetkit/internal/linux"
)

// Pump keeps every request of eps in flight and reaps their completions
// itself, on the calling goroutine, until ctx is done, the Function closes,
// done returns an error or a submission fails. It is the cheapest way
// through package ffs to stream on endpoints whose every completion is
// handled the same way, as a source or sink does: the goroutine blocks in
// io_getevents on the Function's AIO context and the kernel wakes it, with
// no eventfd, runtime poller or hand-off from the reaper per completion
// (docs/perf.md measures what that saves).
//
// start gives the size of each request's first submission (fill an IN
// request's buffer there). done is called once for each completion, in the
// order the kernel made them, with what Wait would have returned; its size
// is what the request is submitted again with, and an error stops the pump.
// Resubmissions found in one wakeup go out in one io_submit. Once stopping,
// Pump cancels what is in flight and still calls done for every completion
// (their errors are cancellations), ignoring its answers, and returns only
// when the kernel owns none of the requests; then it gives them back to
// their endpoints.
//
// Pump returns the first cause: ctx's error, ErrClosed, done's error or the
// submission's. Every ep must belong to one Function, each at most once.
// While a Pump runs it is the only reaper of that Function: completions of
// other requests of the Function still reach their Wait, through the pump.
// Pump allocates when it starts, nothing per request.
func Pump(ctx context.Context, eps []*EP, start func(r *Request) int, done func(r *Request, n int, err error) (int, error)) error {
	if len(eps) == 0 {
		return errors.New("ffs: pump of no endpoints")
	}
	e := eps[0].eng
	for i, ep := range eps {
		if ep.eng != e {
			return fmt.Errorf("ffs: pump of %s and %s: not of the same function", eps[0].file.Name, ep.file.Name)
		}
		for _, other := range eps[:i] {
			if other == ep {
				return fmt.Errorf("ffs: pump of %s twice", ep.file.Name)
			}
		}
	}
	p := &pump{e: e, done: done}
	for _, ep := range eps {
		for range ep.QueueDepth() {
			r, err := ep.Get(ctx)
			if err != nil {
				p.release()
				return err
			}
			p.reqs = append(p.reqs, r)
		}
	}
	p.own = make([]bool, len(e.reqs))
	for _, r := range p.reqs {
		p.own[r.idx] = true
	}
	p.cbs = make([]*linux.IOCB, 0, len(p.reqs))
	p.ready = make([]*Request, 0, len(p.reqs))
	p.sizes = make([]int, 0, len(p.reqs))

	// Holding reapMu from before the first submission makes the pump the
	// one reaper: no one else can take one of its completions from the
	// ring. Its requests carry no eventfd, so the reaper is not woken for
	// them either.
	e.reapMu.Lock()
	defer e.reapMu.Unlock()
	if e.ringGone {
		p.release()
		return ErrClosed
	}

	// The watcher stops the pump from outside; it has exited before the
	// requests go back to their pools, so it never cancels a request that
	// is someone else's by then.
	returned, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			p.halt(ctx.Err())
		case <-e.closing:
			p.halt(ErrClosed)
		case <-returned:
		}
	}()

	for _, r := range p.reqs {
		p.queue(r, start(r))
	}
	p.flush()
	p.run()
	close(returned)
	<-watched
	p.release()
	return p.err
}

// SubmitError is a Pump's submission that did not go out: EP is the
// endpoint of the first request not queued.
type SubmitError struct {
	EP  *EP
	Err error
}

func (e *SubmitError) Error() string { return e.Err.Error() }
func (e *SubmitError) Unwrap() error { return e.Err }

// pump is one Pump call's state. Only its goroutine touches reqs, ready,
// sizes and cbs; mu orders a resubmission against halt.
type pump struct {
	e    *engine
	done func(*Request, int, error) (int, error)
	reqs []*Request
	own  []bool // by Request.idx: the pump's requests among the Function's

	ready []*Request // to submit in the next io_submit, with sizes
	sizes []int
	cbs   []*linux.IOCB

	inflight int // the pump's requests the kernel owns; pump goroutine only

	mu      sync.Mutex
	stopped bool
	err     error // the first cause of stopping, under mu
}

// halt stops resubmissions and cancels every request of the pump in flight.
// A resubmission is made under mu after looking at stopped, so each request
// is either cancelled here or never submitted again.
func (p *pump) halt(cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.haltLocked(cause)
}

func (p *pump) haltLocked(cause error) {
	if !p.stopped {
		p.stopped, p.err = true, cause
	}
	for _, r := range p.reqs {
		if r.inKernel.Load() {
			p.e.cancels.Add(1)
			p.e.actx.CancelErrno(r.cb)
		}
	}
}

func (p *pump) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

func (p *pump) queue(r *Request, n int) {
	p.ready = append(p.ready, r)
	p.sizes = append(p.sizes, n)
}

// flush submits the queued requests in one io_submit, unless the pump is
// stopping. A request it refuses (bad size) or the kernel does not take
// stops the pump with the reason.
func (p *pump) flush() {
	defer func() { p.ready, p.sizes = p.ready[:0], p.sizes[:0] }()
	if len(p.ready) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	for i, r := range p.ready {
		if err := r.check(p.sizes[i]); err != nil {
			p.haltLocked(&SubmitError{EP: r.ep, Err: err})
			return
		}
	}
	got, err := p.e.submitAll(p.ready, 0, p.sizes, -1, p.cbs)
	p.inflight += got
	switch {
	case errors.Is(err, ErrClosed):
		p.haltLocked(ErrClosed)
	case err != nil:
		r := p.ready[got]
		p.haltLocked(&SubmitError{EP: r.ep, Err: fmt.Errorf("ffs: %s: %d of %d queued: %w", r.ep.file.Name, got, len(p.ready), err)})
	}
}

// run reaps until none of the pump's requests is in flight, which happens
// only once it is stopping.
func (p *pump) run() {
	e := p.e
	for p.inflight > 0 {
		n, err := e.actx.GetEvents(1, e.events, nil)
		if err != nil { // the context is gone: nothing more will complete
			p.halt(fmt.Errorf("ffs: pump: %w", err))
			p.abandon()
			return
		}
		e.wakeups.Add(1)
		for i := range e.events[:n] {
			r := e.settle(&e.events[i])
			if r == nil {
				continue
			}
			if !p.own[r.idx] {
				r.done <- struct{}{}
				continue
			}
			p.inflight--
			got, err := r.Result()
			size, herr := p.done(r, got, err)
			if herr != nil && !p.isStopped() { // once stopping, done's errors are the cancellations
				p.halt(herr)
			}
			p.queue(r, size)
		}
		if p.isStopped() {
			p.ready, p.sizes = p.ready[:0], p.sizes[:0]
			continue
		}
		p.flush()
	}
}

// abandon is for a context that io_getevents no longer answers, which
// cannot happen while the pump holds reapMu (Close destroys the context
// only after taking it): the requests still counted in flight are left
// to Close, which finishes them.
func (p *pump) abandon() {
	for _, r := range p.reqs {
		if r.inKernel.Load() {
			r.pending = false
		}
	}
	p.inflight = 0
}

// release gives back every request the pump took that the kernel no
// longer owns.
func (p *pump) release() {
	for _, r := range p.reqs {
		if !r.inKernel.Load() {
			r.pending = false
			r.Release()
		}
	}
	p.reqs = nil
}
