package gadget

import (
	"context"
	"errors"
	"sync"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/usb"
)

// loopback returns OUT data on IN, in order, like gadget zero's loopback:
// every OUT request stays queued, each completion's buffer is handed to the
// next IN request (no copy), and a transfer the host ended with a short packet or a ZLP
// ends the same way on IN (a ZLP follows when the length is a multiple of
// wMaxPacketSize).
//
// Its requests outlive a session. When the host disables the endpoints
// (SET_INTERFACE, a reset, SET_CONFIGURATION, a disconnect) the kernel has
// often enabled them again before user space reads the events, so an OUT
// request resubmitted meanwhile may already hold what the host sent next:
// cancelling it when the session ends would lose that. The next session
// adopts whatever is in flight instead. What the host sent before a disable
// is dropped, as gadget zero drops it: OUT data is stale when its
// completion comes before an ErrShutdown completion of either endpoint
// (ffs.Request.Seq orders them).
type loopback struct {
	in, out     *ffs.EP
	inSt, outSt *epStats

	oq, iq     *ring    // nil until the first session; given back by close
	sessions   uint64   // serve calls so far
	oSub, iSub []uint64 // the session that last submitted each request
	next       int      // the OUT request submitted first of those in flight
	head       int      // the oldest IN request in flight
	count      int      // IN requests in flight, from head in ring order
	src        []uint64 // Seq of the OUT completion each IN request carries
	fence      uint64   // Seq of the latest ErrShutdown completion seen
	cancelled  context.Context
}

// loopbackPairs pairs the endpoints of each alternate setting of each
// interface: its n-th bulk OUT with its n-th bulk IN, and likewise for
// interrupt endpoints, in endpoint order. Isochronous endpoints are left
// alone. Each pair is {IN, OUT}.
func loopbackPairs(eps []*ffs.EP) [][2]*ffs.EP {
	type key struct {
		intf, alt int
		t         usb.TransferType
	}
	var order []key
	ins, outs := map[key][]*ffs.EP{}, map[key][]*ffs.EP{}
	for _, ep := range eps {
		if ep.Type() != usb.Bulk && ep.Type() != usb.Interrupt {
			continue
		}
		intf, alt := ep.Setting()
		k := key{intf, alt, ep.Type()}
		if ins[k] == nil && outs[k] == nil {
			order = append(order, k)
		}
		if ep.Address().IsIn() {
			ins[k] = append(ins[k], ep)
		} else {
			outs[k] = append(outs[k], ep)
		}
	}
	var pairs [][2]*ffs.EP
	for _, k := range order {
		for n := range min(len(ins[k]), len(outs[k])) {
			pairs = append(pairs, [2]*ffs.EP{ins[k][n], outs[k][n]})
		}
	}
	return pairs
}

// loopbacks serves every pair at once, each with its own requests and
// state: the host may use any setting's endpoints (f_fs enables them all),
// and every SET_INTERFACE disables all of them. The session ends when one
// pair's does; the others stop with their requests still in flight, which
// their next session adopts.
func loopbacks(lbs []*loopback) session {
	if len(lbs) == 1 {
		return lbs[0].serve
	}
	return func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		errs := make([]error, len(lbs))
		var wg sync.WaitGroup
		for i, lb := range lbs {
			wg.Go(func() {
				errs[i] = lb.serve(ctx)
				cancel()
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		}
		return errors.Join(errs...)
	}
}

func newLoopback(in, out *ffs.EP, inSt, outSt *epStats) *loopback {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return &loopback{in: in, out: out, inSt: inSt, outSt: outSt, cancelled: ctx}
}

func (l *loopback) take(ctx context.Context) error {
	oq, err := takeRing(ctx, l.out, l.outSt)
	if err != nil {
		return err
	}
	iq, err := takeRing(ctx, l.in, l.inSt)
	if err != nil {
		oq.close()
		return err
	}
	l.oq, l.iq = oq, iq
	l.oSub = make([]uint64, len(oq.reqs))
	l.iSub = make([]uint64, len(iq.reqs))
	l.src = make([]uint64, len(iq.reqs))
	return nil
}

// close cancels and reaps what is in flight and gives the requests back,
// once no session will run again.
func (l *loopback) close() {
	if l.oq == nil {
		return
	}
	l.oq.close()
	l.iq.close()
	l.oq, l.iq = nil, nil
}

// serve is one session: it returns when the endpoints are found disabled
// with no ENABLE read since (the next session resumes), when a transfer
// fails otherwise, or when ctx is done.
func (l *loopback) serve(ctx context.Context) error {
	if l.oq == nil {
		if err := l.take(ctx); err != nil {
			return err
		}
	}
	l.sessions++
	mp, err := maxPacket(l.in)
	if err != nil {
		return err
	}
	size := len(l.oq.reqs[0].Buf()) // a page multiple, so a packet multiple
	// OUT requests not in flight (all of them the first time; the one the
	// last session stopped at) follow those in flight in ring order, so
	// submitting them now keeps the kernel's queue in ring order.
	for k := range l.oq.reqs {
		if i := (l.next + k) % len(l.oq.reqs); !l.oq.busy[i] {
			if err := l.submitOut(i, size); err != nil {
				return err
			}
		}
	}
	for {
		i := l.next
		// Reap IN completions as they come, so the counters are current
		// and a disable seen on IN drops stale data at once.
		var inDone <-chan struct{}
		if l.count > 0 {
			inDone = l.iq.reqs[l.head].Done()
		}
		select {
		case <-inDone:
			if err := l.reapIn(l.iq.result(l.head)); err != nil {
				return err
			}
			continue
		case <-l.oq.reqs[i].Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		n, err := l.oq.result(i)
		seq := l.oq.reqs[i].Seq()
		l.next = (i + 1) % len(l.oq.reqs)
		switch {
		case err == nil:
			if err := l.forward(ctx, l.oq.reqs[i], n, seq, mp, size); err != nil {
				return err
			}
		case errors.Is(err, ffs.ErrShutdown):
			if err := l.disabled(seq); err != nil {
				return err
			}
		case errors.Is(err, ffs.ErrNotEnabled) && l.oSub[i] < l.sessions:
			// Refused before this session's ENABLE: submit it again.
		default:
			// ErrNotEnabled for a request of this session means a disable
			// since its ENABLE: the request waits for the next session.
			return err
		}
		if err := l.submitOut(i, size); err != nil {
			return err
		}
	}
}

// forward sends one OUT completion of n bytes (data numbered seq) back on
// IN, with a ZLP after it when the host ended its transfer on a packet
// boundary. The data is not copied: the OUT request's buffer becomes the IN
// request's, as gadget zero's loopback queues the OUT buffer on IN, and the
// OUT request is resubmitted with the IN request's old buffer.
func (l *loopback) forward(ctx context.Context, o *ffs.Request, n int, seq uint64, mp, size int) error {
	if n > 0 {
		if err := l.room(ctx); err != nil {
			return err
		}
		if seq < l.fence { // stale, or found stale while waiting for room
			return nil
		}
		if err := ffs.SwapBuffers(o, l.iq.reqs[l.tail()]); err != nil {
			return err
		}
		if err := l.submitIn(n, seq); err != nil {
			return err
		}
	}
	if n < size && n%mp == 0 {
		if err := l.room(ctx); err != nil {
			return err
		}
		if seq < l.fence {
			return nil
		}
		return l.submitIn(0, seq)
	}
	return nil
}

func (l *loopback) tail() int { return (l.head + l.count) % len(l.iq.reqs) }

// room waits until an IN request is free.
func (l *loopback) room(ctx context.Context) error {
	for l.count == len(l.iq.reqs) {
		select {
		case <-l.iq.reqs[l.head].Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := l.reapIn(l.iq.result(l.head)); err != nil {
			return err
		}
	}
	return nil
}

func (l *loopback) submitOut(i, size int) error {
	if err := l.oq.submit(i, size); err != nil {
		return err
	}
	l.oSub[i] = l.sessions
	return nil
}

func (l *loopback) submitIn(n int, seq uint64) error {
	k := l.tail()
	if err := l.iq.submit(k, n); err != nil {
		return err
	}
	l.iSub[k], l.src[k] = l.sessions, seq
	l.count++
	return nil
}

// reapIn takes the result of the oldest IN request.
func (l *loopback) reapIn(_ int, err error) error {
	if err := l.inDone(err); err != nil {
		return err
	}
	return l.dropStale()
}

func (l *loopback) inDone(err error) error {
	k := l.head
	l.head, l.count = (k+1)%len(l.iq.reqs), l.count-1
	switch {
	case err == nil, errors.Is(err, ffs.ErrCancelled):
		return nil
	case errors.Is(err, ffs.ErrShutdown):
		l.fence = max(l.fence, l.iq.reqs[k].Seq())
		return nil
	case errors.Is(err, ffs.ErrNotEnabled) && l.iSub[k] < l.sessions:
		return nil // submitted before a disable: its data is dropped
	}
	return err
}

// disabled records an ErrShutdown completion numbered seq.
func (l *loopback) disabled(seq uint64) error {
	l.fence = max(l.fence, seq)
	return l.dropStale()
}

// dropStale ends the IN requests carrying data sent before the latest
// disable: the disable ended most of them already, but one submitted after
// the kernel enabled the endpoints again would give the host stale data.
// The data of IN requests grows in Seq from head, so they are the oldest.
func (l *loopback) dropStale() error {
	for l.count > 0 && l.src[l.head] < l.fence {
		_, err := l.iq.wait(l.cancelled, l.head)
		if err := l.inDone(err); err != nil {
			return err
		}
	}
	return nil
}
