//go:build cgo

package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/latency"
)

// Reader is a bulk or interrupt IN pipe (*gousb.InEndpoint satisfies it).
type Reader interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
}

// Writer is a bulk or interrupt OUT pipe (*gousb.OutEndpoint satisfies it).
type Writer interface {
	WriteContext(ctx context.Context, p []byte) (int, error)
}

// BenchOptions configures Bench. In and/or Out select the directions.
type BenchOptions struct {
	In          Reader
	Out         Writer
	RequestSize int           // bytes per transfer
	InFlight    int           // transfers in flight per direction
	Duration    time.Duration // stop after this long (0: only Bytes stops)
	Bytes       int64         // stop each direction after this many bytes (0: only Duration stops)
	// Pattern fills OUT requests, each from stream offset 0; with a Period
	// of wMaxPacketSize that is SourceSink's pattern=1 at any RequestSize
	// that is a packet multiple. With CheckIn, IN data is checked the same
	// way.
	Pattern Pattern
	CheckIn bool
	// Progress, if set, is called about every ProgressEvery with the bytes
	// moved so far in each direction.
	Progress      func(in, out int64, elapsed time.Duration)
	ProgressEvery time.Duration
}

// BenchResult is the output of Bench and of `hosttest bench --json`;
// cmd/hosttest/README.md documents it. Field names are a stable interface.
type BenchResult struct {
	RequestSize int        `json:"request_size"`
	InFlight    int        `json:"in_flight"`
	Seconds     float64    `json:"seconds"`
	In          *DirResult `json:"in,omitempty"`
	Out         *DirResult `json:"out,omitempty"`
}

// DirResult is one direction of a BenchResult.
type DirResult struct {
	Bytes        int64   `json:"bytes"`
	Transfers    int64   `json:"transfers"`
	MBPerSec     float64 `json:"mb_per_s"` // 10^6 bytes per second
	TransfersSec float64 `json:"transfers_per_s"`
	Latency      Latency `json:"latency"`
}

type benchDir struct {
	bytes     atomic.Int64
	reserved  atomic.Int64
	mu        sync.Mutex
	latencies []time.Duration
}

// Bench keeps InFlight transfers of RequestSize in flight on each selected
// pipe until Duration passes or Bytes have moved, and measures them.
// Transfers cut short by the end of the run are not counted; any other
// transfer error, a short OUT transfer or a data mismatch ends the run with
// an error.
func Bench(ctx context.Context, o BenchOptions) (*BenchResult, error) {
	if o.In == nil && o.Out == nil {
		return nil, errors.New("bench: no direction selected")
	}
	if o.RequestSize <= 0 {
		return nil, fmt.Errorf("bench: request size %d: must be positive", o.RequestSize)
	}
	if o.InFlight <= 0 {
		return nil, fmt.Errorf("bench: transfers in flight %d: must be positive", o.InFlight)
	}
	if o.Duration <= 0 && o.Bytes <= 0 {
		return nil, errors.New("bench: neither a duration nor a byte count ends the run")
	}
	if o.CheckIn && o.Pattern.Period > 0 && o.RequestSize%o.Pattern.Period != 0 {
		return nil, fmt.Errorf("bench: request size %d is not a multiple of the pattern period %d: IN data cannot be checked per transfer", o.RequestSize, o.Pattern.Period)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if o.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(runCtx, o.Duration)
		defer cancel()
	}
	var (
		in, out  benchDir
		errOnce  sync.Once
		firstErr error
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; failed.Store(true) })
		stop()
	}
	outBuf := make([]byte, o.RequestSize)
	o.Pattern.Fill(outBuf, 0)

	worker := func(d *benchDir, xfer func(ctx context.Context, buf []byte) error) {
		defer wg.Done()
		buf := make([]byte, o.RequestSize)
		var lat []time.Duration
		defer func() {
			d.mu.Lock()
			d.latencies = append(d.latencies, lat...)
			d.mu.Unlock()
		}()
		for runCtx.Err() == nil {
			if o.Bytes > 0 && d.reserved.Add(int64(o.RequestSize)) > o.Bytes {
				return
			}
			start := time.Now()
			err := xfer(runCtx, buf)
			if err != nil {
				if runCtx.Err() != nil && ctx.Err() == nil && !failed.Load() {
					return // the run ended while this transfer was in flight
				}
				fail(err)
				return
			}
			lat = append(lat, time.Since(start))
			d.bytes.Add(int64(o.RequestSize))
		}
	}
	start := time.Now()
	if o.In != nil {
		for range o.InFlight {
			wg.Add(1)
			go worker(&in, func(ctx context.Context, buf []byte) error {
				n, err := o.In.ReadContext(ctx, buf)
				if err != nil {
					return fmt.Errorf("bulk IN read: %w", err)
				}
				if n != len(buf) {
					return fmt.Errorf("bulk IN read: short transfer of %d bytes, requested %d", n, len(buf))
				}
				if o.CheckIn {
					if err := o.Pattern.Check(buf, 0); err != nil {
						return fmt.Errorf("bulk IN (offsets within one transfer): %w", err)
					}
				}
				return nil
			})
		}
	}
	if o.Out != nil {
		for range o.InFlight {
			wg.Add(1)
			go worker(&out, func(ctx context.Context, _ []byte) error {
				n, err := o.Out.WriteContext(ctx, outBuf)
				if err != nil {
					return fmt.Errorf("bulk OUT write: %w", err)
				}
				if n != len(outBuf) {
					return fmt.Errorf("bulk OUT write: short transfer of %d bytes, sent %d", n, len(outBuf))
				}
				return nil
			})
		}
	}
	if o.Progress != nil {
		every := o.ProgressEvery
		if every <= 0 {
			every = 500 * time.Millisecond
		}
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-runCtx.Done():
					return
				case <-t.C:
					o.Progress(in.bytes.Load(), out.bytes.Load(), time.Since(start))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: %w", context.Cause(ctx))
	}
	r := &BenchResult{RequestSize: o.RequestSize, InFlight: o.InFlight, Seconds: elapsed.Seconds()}
	summary := func(d *benchDir) *DirResult {
		n := int64(len(d.latencies))
		dr := &DirResult{Bytes: d.bytes.Load(), Transfers: n, Latency: latency.Summarize(d.latencies)}
		dr.MBPerSec, dr.TransfersSec = Rate(dr.Bytes, n, elapsed)
		return dr
	}
	if o.In != nil {
		r.In = summary(&in)
	}
	if o.Out != nil {
		r.Out = summary(&out)
	}
	return r, nil
}
