package ffs

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// Wait waits for the request's completion and returns the bytes moved. If
// ctx is done first (or the Function is closing), it cancels the transfer
// with io_cancel and still waits for that request's completion, which is
// exactly one of:
//
//   - the cancellation: 0 bytes and an error matching ErrCancelled and
//     ECONNRESET (EINTR on the stable kernels that post that instead);
//   - the real result, when the transfer completed before io_cancel reached
//     it (io_cancel said EINVAL): its bytes, or its own error;
//   - ErrShutdown, ErrHalted, ... when something else ended it first.
//
// Wait never returns while the kernel still owns the request.
func (r *Request) Wait(ctx context.Context) (int, error) {
	if !r.pending {
		return 0, fmt.Errorf("ffs: %s: wait for a request that was not submitted", r.ep.file.Name)
	}
	select {
	case <-r.done:
	default:
		r.ep.eng.tryDrain()
		select {
		case <-r.done:
		case <-ctx.Done():
			r.cancel()
			r.waitCancelled()
		case <-r.ep.eng.closing:
			r.cancel()
			r.waitCancelled()
		}
	}
	r.pending = false
	return r.result()
}

// waitCancelled waits for the completion of a request just cancelled:
// dummy_hcd completes a dequeued request at once and f_fs posts it from its
// workqueue, so it is often in the ring before the reaper runs.
func (r *Request) waitCancelled() {
	select {
	case <-r.done:
		return
	default:
	}
	r.ep.eng.tryDrain()
	<-r.done
}

// Done is signalled once when the submitted request completes, for callers
// that select over several requests. After receiving from it, call Result,
// not Wait.
func (r *Request) Done() <-chan struct{} { return r.done }

// Result returns the outcome of a request whose Done channel fired.
func (r *Request) Result() (int, error) {
	r.pending = false
	return r.result()
}

// CancelErrno is what io_cancel answered the last time this request was
// cancelled: EINPROGRESS (mainline), 0 (kernels that post -EINTR), EINVAL
// (the transfer had already completed); 0 when it was not cancelled.
func (r *Request) CancelErrno() syscall.Errno { return r.cancelErr }

// cancel asks the kernel to cancel the request. Every answer leaves its
// completion to the ring, so callers wait for it either way.
func (r *Request) cancel() {
	e := r.ep.eng
	e.cancels.Add(1)
	r.cancelErr = e.actx.CancelErrno(r.cb)
}

// CancelAll cancels every transfer of the endpoint in flight and waits
// until the endpoint has none, or ctx is done. Owners of the requests still
// get each result from Wait.
func (ep *EP) CancelAll(ctx context.Context) error {
	for _, r := range ep.reqs {
		if r.inKernel.Load() {
			ep.eng.actx.CancelErrno(r.cb)
		}
	}
	for ep.inflight.Load() > 0 {
		select {
		case <-ep.drained:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// CancelAll cancels every transfer of every endpoint and waits until none
// is in flight, or ctx is done.
func (f *Function) CancelAll(ctx context.Context) error {
	for _, ep := range f.eps {
		if err := ep.CancelAll(ctx); err != nil {
			return err
		}
	}
	return nil
}

// drainTimeout bounds how long Close waits for cancelled transfers before
// leaving the rest to io_destroy, which waits for them itself.
const drainTimeout = 2 * time.Second

// close cancels everything in flight, waits for the completions, stops
// submissions and the reaper, destroys the AIO context, and releases the
// memory once no request is held by its owner.
func (e *engine) close() error {
	close(e.closing)
	for _, r := range e.reqs {
		if r.inKernel.Load() {
			e.actx.CancelErrno(r.cb)
		}
	}
	deadline := time.NewTimer(drainTimeout)
	defer deadline.Stop()
wait:
	for e.inflight.Load() > 0 {
		select {
		case <-e.drained:
		case <-deadline.C:
			break wait
		}
	}
	// closed is read under life by Submit and under mu by Release.
	e.life.Lock()
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.life.Unlock()
	e.efile.Close()
	<-e.reaperDone
	e.reapMu.Lock() // no Wait reads the ring from here on
	e.ringGone = true
	e.reapMu.Unlock()
	err := e.actx.Destroy()
	// io_destroy waited for whatever was still in flight without posting
	// it where it can be reaped: finish those requests here, once each.
	for _, r := range e.reqs {
		if r.inKernel.Load() {
			r.inKernel.Store(false)
			r.res, r.res2 = -int64(syscall.ESHUTDOWN), 0
			r.ep.inflight.Add(-1)
			e.inflight.Add(-1)
			r.done <- struct{}{}
		}
	}
	e.mu.Lock()
	idle := e.out == 0
	e.mu.Unlock()
	if idle {
		if uerr := e.unmap(); err == nil {
			err = uerr
		}
	}
	return err
}

// unmap releases the request memory once; the engine must be closed.
func (e *engine) unmap() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.unmapped {
		return nil
	}
	e.unmapped = true
	return e.mem.Unmap()
}
