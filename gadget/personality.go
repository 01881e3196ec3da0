package gadget

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/pattern"
	"github.com/gadgetkit/gadgetkit/usb"
)

// errPattern is data that breaks the sourcesink pattern.
var errPattern = errors.New("data does not match the pattern")

// ring is every request of one endpoint, owned by one goroutine for the
// length of a session.
type ring struct {
	ep   *ffs.EP
	st   *epStats
	reqs []*ffs.Request
	busy []bool // submitted and not yet waited for
	got  []int  // bytes of each request's last completion

	batch   []int          // indices reaped together, resubmitted together
	scratch []*ffs.Request // SubmitBatch's argument
}

func takeRing(ctx context.Context, ep *ffs.EP, st *epStats) (*ring, error) {
	q := &ring{ep: ep, st: st}
	for range ep.QueueDepth() {
		r, err := ep.Get(ctx)
		if err != nil {
			q.close()
			return nil, err
		}
		q.reqs = append(q.reqs, r)
		q.busy = append(q.busy, false)
	}
	q.got = make([]int, len(q.reqs))
	q.batch = make([]int, 0, len(q.reqs))
	q.scratch = make([]*ffs.Request, 0, len(q.reqs))
	return q, nil
}

// submitBatch submits the requests at idx, n bytes each, with one
// io_submit.
func (q *ring) submitBatch(idx []int, n int) error {
	rs := q.scratch[:0]
	for _, i := range idx {
		rs = append(rs, q.reqs[i])
	}
	got, err := q.ep.SubmitBatch(rs, n)
	for _, i := range idx[:got] {
		q.busy[i] = true
	}
	if err != nil {
		q.st.fail("submit", err)
	}
	return err
}

// reap waits for request i, then takes every request after it, in ring
// order, whose completion has come too: under load several complete
// between two wakeups, and resubmitting them together is one system call
// and one wakeup instead of one each. The indices are in q.batch, the
// bytes in q.got.
func (q *ring) reap(ctx context.Context, i int) error {
	q.batch = q.batch[:0]
	n, err := q.wait(ctx, i)
	if err != nil {
		return err
	}
	q.got[i] = n
	q.batch = append(q.batch, i)
	for j := (i + 1) % len(q.reqs); j != i && q.busy[j]; j = (j + 1) % len(q.reqs) {
		select {
		case <-q.reqs[j].Done():
		default:
			return nil
		}
		n, err := q.result(j)
		if err != nil {
			return err
		}
		q.got[j] = n
		q.batch = append(q.batch, j)
	}
	return nil
}

func (q *ring) submit(i, n int) error {
	if err := q.reqs[i].Submit(n); err != nil {
		q.st.fail("submit", err)
		return err
	}
	q.busy[i] = true
	return nil
}

func (q *ring) wait(ctx context.Context, i int) (int, error) {
	n, err := q.reqs[i].Wait(ctx)
	q.busy[i] = false
	q.st.done(n, err)
	return n, err
}

// result collects request i after its Done channel fired.
func (q *ring) result(i int) (int, error) {
	n, err := q.reqs[i].Result()
	q.busy[i] = false
	q.st.done(n, err)
	return n, err
}

// close cancels what is in flight, waits for each completion (the kernel
// owns a request until then) and gives the requests back. Every request is
// cancelled before any is waited for, so the cancellations overlap instead
// of adding up.
func (q *ring) close() {
	q.ep.CancelAll(context.Background())
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for i, r := range q.reqs {
		if q.busy[i] {
			q.wait(cancelled, i)
		}
		r.Release()
	}
	q.reqs = nil
}

// endpoints returns the first bulk IN and bulk OUT endpoints, which the
// config checked exist for loopback and sourcesink.
func endpoints(f *ffs.Function) (in, out *ffs.EP, err error) {
	for _, ep := range f.EPs() {
		if ep.Type() != usb.Bulk {
			continue
		}
		if ep.Address().IsIn() && in == nil {
			in = ep
		}
		if !ep.Address().IsIn() && out == nil {
			out = ep
		}
	}
	if in == nil || out == nil {
		return nil, nil, fmt.Errorf("needs a bulk in and a bulk out endpoint")
	}
	return in, out, nil
}

// maxPacket is wMaxPacketSize of ep at the speed the host enabled it with.
func maxPacket(ep *ffs.EP) (int, error) {
	mp := ep.MaxPacketSize()
	if mp <= 0 {
		return 0, fmt.Errorf("%s: wMaxPacketSize unknown after ENABLE", ep.Name())
	}
	return mp, nil
}

// session runs one personality while the host keeps the function enabled:
// it returns when a transfer fails (a disconnect shuts every one down) or
// ctx is done, with every request back in its pool.
type session func(ctx context.Context) error

// fillPattern writes gadget zero's IN pattern from the start of a request:
// zeros, or pattern.GadgetZero(mp); PatternNone leaves buf as it is.
func fillPattern(buf []byte, p config.Pattern, mp int) {
	switch p {
	case config.PatternZeros:
		clear(buf)
	case config.PatternMod63:
		pattern.GadgetZero(mp).Fill(buf, 0)
	}
}

// checkPattern is gadget zero's OUT check: the transfer starts on a packet
// boundary, so every packet is want (one packet of the pattern, see
// fillPattern) or its beginning.
func checkPattern(buf []byte, p config.Pattern, want []byte) error {
	if p == config.PatternNone {
		return nil
	}
	mp := len(want)
	for off := 0; off < len(buf); off += mp {
		pkt := buf[off:min(off+mp, len(buf))]
		if bytes.Equal(pkt, want[:len(pkt)]) {
			continue
		}
		for i := range pkt {
			if pkt[i] != want[i] {
				return fmt.Errorf("%w: byte %d is %#02x, want %#02x", errPattern, off+i, pkt[i], want[i])
			}
		}
	}
	return nil
}

// sourceSink sources the pattern on IN and sinks and checks OUT, like
// gadget zero's source/sink, with every request of both endpoints queued.
// A mismatch is counted (error kind "pattern") and the data dropped. One
// ffs.Pump serves both endpoints: the session's goroutine reaps and
// resubmits every completion itself, as gadget zero requeues from its
// completion handler.
func sourceSink(in, out *ffs.EP, inSt, outSt *epStats, p config.Pattern) session {
	f := filled{}
	return func(ctx context.Context) error {
		inMP, err := maxPacket(in)
		if err != nil {
			return err
		}
		outMP, err := maxPacket(out)
		if err != nil {
			return err
		}
		want := make([]byte, outMP)
		fillPattern(want, p, outMP)
		start := func(r *ffs.Request) int {
			if r.EP() == in {
				f.fill(r, p, inMP)
			}
			return len(r.Buf())
		}
		done := func(r *ffs.Request, n int, err error) (int, error) {
			st := outSt
			if r.EP() == in {
				st = inSt
			}
			st.done(n, err)
			if err != nil {
				return 0, err
			}
			if st == outSt {
				if err := checkPattern(r.Buf()[:n], p, want); err != nil {
					st.fail("pattern", err)
				}
			}
			return len(r.Buf()), nil
		}
		err = ffs.Pump(ctx, []*ffs.EP{in, out}, start, done)
		if se, ok := errors.AsType[*ffs.SubmitError](err); ok {
			st := outSt
			if se.EP == in {
				st = inSt
			}
			st.fail("submit", err)
		}
		return err
	}
}

// filled remembers which pattern each IN buffer holds, across sessions:
// the host's SET_INTERFACE before each of usbtest's tests starts a new
// session, and refilling every buffer there (a byte at a time) would land
// inside the test's timed window. Only the source writes its buffers.
type filled map[*ffs.Request]fillKey

type fillKey struct {
	p  config.Pattern
	mp int
}

func (f filled) fill(r *ffs.Request, p config.Pattern, mp int) {
	if k := (fillKey{p, mp}); f[r] != k {
		fillPattern(r.Buf(), p, mp)
		f[r] = k
	}
}
