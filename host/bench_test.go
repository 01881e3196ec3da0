//go:build cgo

package host

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// source returns p's bytes from each read's start, like SourceSink;
// sink counts what it is given and fails after failAfter writes if set.
type source struct{ p Pattern }

func (s source) ReadContext(ctx context.Context, b []byte) (int, error) {
	s.p.Fill(b, 0)
	return len(b), ctx.Err()
}

type sink struct {
	writes    atomic.Int64
	failAfter int64
}

var errUnplugged = errors.New("unplugged")

func (s *sink) WriteContext(ctx context.Context, b []byte) (int, error) {
	if n := s.writes.Add(1); s.failAfter > 0 && n > s.failAfter {
		return 0, errUnplugged
	}
	return len(b), ctx.Err()
}

func TestBenchBytesLimit(t *testing.T) {
	pat := Pattern{Kind: PatternMod63, Period: 512}
	out := &sink{}
	r, err := Bench(context.Background(), BenchOptions{
		In: source{pat}, Out: out, RequestSize: 4096, InFlight: 3, Bytes: 100 * 4096, Pattern: pat, CheckIn: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]*DirResult{"in": r.In, "out": r.Out} {
		if d.Bytes != 100*4096 || d.Transfers != 100 || d.Latency.Count != 100 {
			t.Errorf("%s: %+v, want exactly 100 transfers of 4096", name, d)
		}
		if d.MBPerSec <= 0 || d.TransfersSec <= 0 {
			t.Errorf("%s: rates %v MB/s %v/s", name, d.MBPerSec, d.TransfersSec)
		}
	}
	if out.writes.Load() != 100 {
		t.Errorf("%d writes issued, want 100", out.writes.Load())
	}
}

// blockingSink completes its first quick writes at once, then holds every
// write until the run's context ends, like a transfer the host cannot
// finish; it keeps the first such context.
type blockingSink struct {
	quick  atomic.Int64
	mu     sync.Mutex
	cutCtx context.Context
}

func (s *blockingSink) WriteContext(ctx context.Context, b []byte) (int, error) {
	if s.quick.Add(-1) >= 0 {
		return len(b), nil
	}
	s.mu.Lock()
	if s.cutCtx == nil {
		s.cutCtx = ctx
	}
	s.mu.Unlock()
	<-ctx.Done()
	return 0, ctx.Err()
}

// The Duration alone ends a run: the transfers it cuts short are neither
// errors nor counted, and the context they saw ended by its deadline,
// which is Duration after Bench was called.
func TestBenchDuration(t *testing.T) {
	out := &blockingSink{}
	out.quick.Store(10)
	called := time.Now()
	r, err := Bench(context.Background(), BenchOptions{Out: out, RequestSize: 512, InFlight: 2, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.In != nil || r.Out == nil || r.Out.Transfers != 10 || r.Out.Bytes != 10*512 || r.Out.Latency.Count != 10 {
		t.Errorf("result %+v, want exactly the 10 transfers that completed", r.Out)
	}
	out.mu.Lock()
	ctx := out.cutCtx
	out.mu.Unlock()
	if ctx == nil {
		t.Fatal("no transfer was held until the end of the run")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("the held transfers ended with %v, want the run's deadline", ctx.Err())
	}
	if dl, ok := ctx.Deadline(); !ok || dl.Before(called.Add(100*time.Millisecond)) {
		t.Errorf("the run's deadline %v (set: %v) is less than 100ms after Bench was called at %v", dl, ok, called)
	}
}

func TestBenchErrors(t *testing.T) {
	ctx := context.Background()
	// A transfer error ends the run and is returned.
	_, err := Bench(ctx, BenchOptions{Out: &sink{failAfter: 10}, RequestSize: 512, InFlight: 2, Duration: 5 * time.Second})
	if !errors.Is(err, errUnplugged) {
		t.Errorf("failing sink: %v", err)
	}
	// IN data off the pattern is a MismatchError.
	_, err = Bench(ctx, BenchOptions{In: source{Pattern{Kind: PatternMod63}}, RequestSize: 1024, InFlight: 1, Bytes: 4096,
		Pattern: Pattern{Kind: PatternMod63, Period: 512}, CheckIn: true})
	var me *MismatchError
	if !errors.As(err, &me) || me.Offset != 512 {
		t.Errorf("mod63 checked as mod63/512: %v, want a mismatch at 512", err)
	}
	for _, o := range []BenchOptions{
		{RequestSize: 1, InFlight: 1, Duration: time.Second},
		{Out: &sink{}, RequestSize: 0, InFlight: 1, Duration: time.Second},
		{Out: &sink{}, RequestSize: 1, InFlight: 0, Duration: time.Second},
		{Out: &sink{}, RequestSize: 1, InFlight: 1},
		{In: source{}, RequestSize: 1000, InFlight: 1, Duration: time.Second, Pattern: Pattern{Period: 512}, CheckIn: true},
	} {
		if _, err := Bench(ctx, o); err == nil {
			t.Errorf("Bench(%+v) accepted bad options", o)
		}
	}
}
