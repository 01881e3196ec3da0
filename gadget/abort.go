package gadget

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/config"
)

// abortStats counts how the transfers the abort personality cancelled
// ended, and what io_cancel answered.
type abortStats struct {
	mu       sync.Mutex
	outcomes map[string]uint64
	maxWait  time.Duration
}

func (a *abortStats) record(outcome string, cancelErrno syscall.Errno, took time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outcomes[outcome]++
	a.outcomes["io_cancel_"+cancelAnswer(cancelErrno)]++
	a.maxWait = max(a.maxWait, took)
}

func (a *abortStats) snapshot() map[string]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := map[string]uint64{"max_cancel_wait_us": uint64(a.maxWait / time.Microsecond)}
	for k, v := range a.outcomes {
		m[k] = v
	}
	return m
}

// cancelAnswer names io_cancel's answer: EINPROGRESS on mainline kernels,
// 0 where it posts -EINTR, EINVAL when the transfer had completed.
func cancelAnswer(e syscall.Errno) string {
	switch e {
	case 0:
		return "0"
	case syscall.EINPROGRESS:
		return "EINPROGRESS"
	case syscall.EINVAL:
		return "EINVAL"
	}
	return e.Error()
}

// outcome classifies how a cancelled transfer ended.
func outcome(n int, err error) string {
	switch {
	case err == nil:
		return "completed_first"
	case errors.Is(err, ffs.ErrCancelled):
		return "cancelled"
	}
	return errorKind(err)
}

// abortCancel provokes aborts for diagnostics: each round queues every
// request of every endpoint, waits o.Delay, and cancels them all
// (io_cancel -> usb_ep_dequeue -> -ECONNRESET), recording how each ended:
// cancelled, completed first (io_cancel lost the race), or shut down. It
// stops after o.Count cancelled transfers (0: never) and then idles.
func abortCancel(eps []*ffs.EP, sts []*epStats, o *config.AbortOptions, as *abortStats, log *slog.Logger) session {
	return func(ctx context.Context) error {
		rings := make([]*ring, len(eps))
		for i, ep := range eps {
			q, err := takeRing(ctx, ep, sts[i])
			if err != nil {
				return err
			}
			defer q.close()
			rings[i] = q
		}
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		aborted := 0
		for o.Count == 0 || aborted < o.Count {
			for _, q := range rings {
				for i, r := range q.reqs {
					if err := q.submit(i, len(r.Buf())); err != nil {
						return err
					}
				}
			}
			select {
			case <-time.After(o.Policies[0].After):
			case <-ctx.Done():
				return ctx.Err()
			}
			var gone error
			for _, q := range rings {
				for i, r := range q.reqs {
					start := time.Now()
					n, err := q.wait(cancelled, i)
					took := time.Since(start)
					oc := outcome(n, err)
					as.record(oc, r.CancelErrno(), took)
					log.Debug("abort", "ep", q.ep.Name(), "outcome", oc, "bytes", n,
						"io_cancel", cancelAnswer(r.CancelErrno()), "wait", took)
					aborted++
					if errors.Is(err, ffs.ErrShutdown) || errors.Is(err, ffs.ErrNotEnabled) {
						gone = err
					}
				}
			}
			if gone != nil {
				return gone
			}
		}
		log.Info("aborts done", "count", aborted, "outcomes", as.snapshot())
		<-ctx.Done()
		return ctx.Err()
	}
}
