package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/latency"
)

// cancelRequestSize is the size of every pending read: above 64 bytes, and
// OUT on an idle endpoint, so nothing completes it but the cancel.
const cancelRequestSize = 16 << 10

// outcome names how a request ended, by errno.
func outcome(err error) string {
	if err == nil {
		return "completed"
	}
	var errno syscall.Errno
	for _, e := range []syscall.Errno{syscall.ECONNRESET, syscall.EINTR, syscall.ESHUTDOWN, syscall.EAGAIN, syscall.EBADMSG} {
		if errors.Is(err, e) {
			errno = e
			break
		}
	}
	if errno == 0 {
		return err.Error()
	}
	return errnoName(errno)
}

func errnoName(e syscall.Errno) string {
	switch e {
	case 0:
		return "0"
	case syscall.ECONNRESET:
		return "ECONNRESET"
	case syscall.EINTR:
		return "EINTR"
	case syscall.ESHUTDOWN:
		return "ESHUTDOWN"
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.EBADMSG:
		return "EBADMSG"
	case syscall.EINPROGRESS:
		return "EINPROGRESS"
	case syscall.EINVAL:
		return "EINVAL"
	}
	return e.Error()
}

// CancelOptions sets up CancelLatency and DisconnectLatency.
type CancelOptions struct {
	UDC     string
	Depths  []int // requests in flight, e.g. 1 and 32
	Cancels int   // cancels per depth
	Rounds  int   // disconnects
}

// cancelBlocks is how many blocks each depth's cancels are split into,
// alternating between the anchor and the engine, so that a change of the
// machine's load falls on both.
const cancelBlocks = 3

// Cancellation measures, on one FunctionFS function driven by package ffs:
// for each depth, Cancels reads cancelled one at a time from a ring of
// depth pending OUT reads on an idle endpoint (each cancelled read is
// resubmitted, so depth stay in flight), through the engine's context
// cancel and through the anchor (anchorLatency), in alternating blocks;
// then Rounds disconnects with depth reads and depth writes pending.
func Cancellation(ctx context.Context, o CancelOptions) ([]CancelResult, []DisconnectResult, error) {
	maxDepth := 1
	for _, d := range o.Depths {
		maxDepth = max(maxDepth, d)
	}
	rg, err := newRig(ctx, "cancel", o.UDC, 1, maxDepth, cancelRequestSize)
	if err != nil {
		return nil, nil, err
	}
	var cancels []CancelResult
	path := filepath.Join(rg.mount, rg.out[0].Name())
	for _, d := range o.Depths {
		eng := CancelResult{Path: "engine", Depth: d, Outcomes: map[string]int{}, IOCancel: map[string]int{}}
		anc := CancelResult{Path: "anchor", Depth: d, Outcomes: map[string]int{}, IOCancel: map[string]int{}}
		var engLat, ancLat []time.Duration
		for b := range cancelBlocks {
			n := o.Cancels/cancelBlocks + btoi(b < o.Cancels%cancelBlocks)
			a, lat, err := anchorLatency(path, d, n)
			if err != nil {
				return cancels, nil, errors.Join(err, rg.close())
			}
			merge(&anc, a)
			ancLat = append(ancLat, lat...)
			c, lat, err := cancelLatency(ctx, rg.out[0], d, n)
			if err != nil {
				return cancels, nil, errors.Join(err, rg.close())
			}
			merge(&eng, c)
			engLat = append(engLat, lat...)
		}
		anc.Latency, eng.Latency = latency.Summarize(ancLat), latency.Summarize(engLat)
		cancels = append(cancels, anc, eng)
	}
	var discs []DisconnectResult
	if o.Rounds > 0 {
		dr, err := disconnectLatency(ctx, rg, maxDepth, o.Rounds)
		if err != nil {
			return cancels, nil, errors.Join(err, rg.close())
		}
		discs = append(discs, dr)
	}
	return cancels, discs, rg.close()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// merge adds the counts of c to into.
func merge(into *CancelResult, c CancelResult) {
	for k, v := range c.Outcomes {
		into.Outcomes[k] += v
	}
	for k, v := range c.IOCancel {
		into.IOCancel[k] += v
	}
}

func cancelLatency(ctx context.Context, ep *ffs.EP, depth, n int) (CancelResult, []time.Duration, error) {
	res := CancelResult{Path: "engine", Depth: depth, Outcomes: map[string]int{}, IOCancel: map[string]int{}}
	reqs := make([]*ffs.Request, depth)
	for i := range reqs {
		r, err := ep.Get(ctx)
		if err != nil {
			return res, nil, err
		}
		reqs[i] = r
		defer r.Release()
		if err := r.Submit(cancelRequestSize); err != nil {
			return res, nil, fmt.Errorf("bench: submit read %d of %d on %s: %w", i, depth, ep.Name(), err)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	lat := make([]time.Duration, 0, n)
	for i := range n {
		r := reqs[i%depth]
		start := time.Now()
		_, err := r.Wait(done) // io_cancel, then the reaped completion
		lat = append(lat, time.Since(start))
		res.Outcomes[outcome(err)]++
		res.IOCancel[errnoName(r.CancelErrno())]++
		if err := r.Submit(cancelRequestSize); err != nil {
			return res, nil, fmt.Errorf("bench: resubmit after cancel %d: %w", i, err)
		}
	}
	for _, r := range reqs {
		r.Wait(done)
	}
	return res, lat, nil
}

// disconnectLatency times soft_connect=disconnect to the last of depth
// reads and depth writes completing, rebinding between rounds.
func disconnectLatency(ctx context.Context, rg *rig, depth, rounds int) (DisconnectResult, error) {
	res := DisconnectResult{Pending: 2 * depth, Outcomes: map[string]int{}}
	var lat []time.Duration
	for round := range rounds {
		var reqs []*ffs.Request
		release := func() {
			for _, r := range reqs {
				r.Release()
			}
		}
		for _, ep := range []*ffs.EP{rg.out[0], rg.in[0]} {
			for range depth {
				r, err := ep.Get(ctx)
				if err != nil {
					release()
					return res, err
				}
				reqs = append(reqs, r)
				if err := r.Submit(cancelRequestSize); err != nil {
					release()
					return res, fmt.Errorf("bench: round %d: submit on %s: %w", round, ep.Name(), err)
				}
			}
		}
		start := time.Now()
		if err := softConnect(rg.udc, false); err != nil {
			release()
			return res, err
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		for _, r := range reqs {
			_, err := r.Wait(wctx)
			res.Outcomes[outcome(err)]++
		}
		lat = append(lat, time.Since(start))
		cancel()
		release()
		if err := rg.reconnect(ctx); err != nil {
			return res, fmt.Errorf("bench: round %d: %w", round, err)
		}
	}
	res.Latency = latency.Summarize(lat)
	return res, nil
}
