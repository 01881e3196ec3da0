package gadget

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/abortlog"
	"golang.org/x/sys/unix"
)

// recentRecords is how many records the status shows; the rest are
// fetched with abortlog.RequestRecords or read from the records file.
const recentRecords = 64

// aborter is the abort personality of one function: its cancel policies,
// the host's commands and the records of every aborted or failed request.
type aborter struct {
	opts  *config.AbortOptions
	pers  config.Personality
	log   *slog.Logger
	recs  *abortlog.Log
	stats abortStats

	policyCancels atomic.Int64 // cancels the policies made, against opts.Count
	paused        atomic.Bool  // abortlog.RequestPolicies

	mu   sync.Mutex
	cmds map[string]chan hostCommand // endpoint file name -> its serving loop, while a session runs

	// dmabuf runs ffs.EP.DMABufProbe on the endpoint file name; false
	// when the function has no such endpoint. Set once before ep0 runs.
	dmabuf func(name string) (syscall.Errno, bool)
}

// hostCommand is a vendor request for one endpoint's loop.
type hostCommand struct {
	depth, size int // abortlog.RequestShape; 0 for a plain cancel
}

func newAborter(p config.Personality, log *slog.Logger) *aborter {
	return &aborter{opts: p.Abort, pers: p, log: log, recs: abortlog.NewLog(p.Abort.Keep),
		stats: abortStats{outcomes: map[string]uint64{}}, cmds: map[string]chan hostCommand{}}
}

// abortStats counts how the transfers the abort personality cancelled
// ended, and what io_cancel answered.
type abortStats struct {
	mu       sync.Mutex
	outcomes map[string]uint64
	maxWait  time.Duration
}

func (a *abortStats) record(outcome, ioCancel string, took time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outcomes[outcome]++
	a.outcomes["io_cancel_"+ioCancel]++
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

// outcome classifies how a cancelled transfer ended.
func outcome(err error) string {
	switch {
	case err == nil:
		return "completed_first"
	case errors.Is(err, ffs.ErrCancelled):
		return "cancelled"
	}
	return errorKind(err)
}

// recent is the latest records, for the status.
func (a *aborter) recent() []abortlog.Record {
	next := a.recs.Next()
	return a.recs.Since(next - min(next, recentRecords))
}

// writeRecords writes every kept record to the configured file; gadgetd
// calls it when the personality stops.
func (a *aborter) writeRecords() {
	if a.opts.Records == "" {
		return
	}
	err := os.MkdirAll(filepath.Dir(a.opts.Records), 0o755)
	var f *os.File
	if err == nil {
		f, err = os.Create(a.opts.Records)
	}
	if err == nil {
		err = abortlog.Encode(f, a.recs.Since(0))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		a.log.Error("abort records", "file", a.opts.Records, "err", err)
		return
	}
	a.log.Info("abort records written", "file", a.opts.Records, "records", a.recs.Next())
}

// control answers the abort personality's vendor requests. A request it
// refuses changes nothing: every check that can be made before the answer
// is made before it, since f_fs completes the status stage of a request
// with an OUT data stage by itself once the data is read.
func (a *aborter) control(c *ffs.Control) error {
	const vendor = 0x40
	if c.RequestType&0x60 != vendor {
		return fmt.Errorf("unsupported control request %v", c.Setup)
	}
	switch c.Request {
	case abortlog.RequestRecords:
		page, _, err := a.recs.Page(a.recs.Resolve(c.Value), int(c.Length))
		if err != nil {
			return err
		}
		return c.Write(page)
	case abortlog.RequestNext:
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], a.recs.Next())
		return c.Write(b[:min(int(c.Length), 8)])
	case abortlog.RequestPolicies:
		if c.Value > 1 {
			return fmt.Errorf("abort policies request: wValue %d, want 0 (pause) or 1 (resume)", c.Value)
		}
		if err := c.Ack(); err != nil {
			return err
		}
		a.paused.Store(c.Value == 0)
		return nil
	case abortlog.RequestDMABuf:
		return a.answerDMABuf(c)
	case abortlog.RequestCancel, abortlog.RequestShape:
		name := fmt.Sprintf("ep%d", c.Index)
		a.mu.Lock()
		ch := a.cmds[name]
		a.mu.Unlock()
		if ch == nil {
			return fmt.Errorf("abort request for %s (wIndex %d): no such endpoint serving", name, c.Index)
		}
		if len(ch) == cap(ch) {
			return fmt.Errorf("abort request for %s: busy with an earlier one", name)
		}
		var cmd hostCommand
		if c.Request == abortlog.RequestShape {
			var err error
			if cmd, err = a.readShape(c); err != nil {
				return err
			}
		} else if err := c.Ack(); err != nil {
			// Answered first, so that the cancel does not race the
			// status stage.
			return err
		}
		ch <- cmd // ep0's goroutine is the only sender: there is room
		return nil
	}
	return fmt.Errorf("unsupported control request %v", c.Setup)
}

// answerDMABuf runs the DMA-BUF probe on the endpoint the request names
// and answers the errno's name. It needs the endpoint file, not a serving
// loop; the ioctl does not block (the file is O_NONBLOCK, and the fd -1
// is refused before anything could wait).
func (a *aborter) answerDMABuf(c *ffs.Control) error {
	name := fmt.Sprintf("ep%d", c.Index)
	if !c.IsIn() {
		return fmt.Errorf("abort dmabuf request for %s: bmRequestType %#02x is OUT, want IN", name, c.RequestType)
	}
	var errno syscall.Errno
	ok := false
	if a.dmabuf != nil {
		errno, ok = a.dmabuf(name)
	}
	if !ok {
		return fmt.Errorf("abort dmabuf request for %s (wIndex %d): no such endpoint", name, c.Index)
	}
	answer := unix.ErrnoName(errno)
	switch {
	case errno == 0:
		answer = "0"
	case answer == "":
		answer = fmt.Sprintf("errno %d", int(errno))
	}
	if int(c.Length) < len(answer) {
		return fmt.Errorf("abort dmabuf request for %s: wLength %d is short of the answer %q", name, c.Length, answer)
	}
	a.log.Info("dmabuf probe", "ep", name, "answer", answer)
	return c.Write([]byte(answer))
}

// readShape reads a shape request's data stage: queue depth and request
// size, little-endian uint32 each, 0 keeping the configured one.
func (a *aborter) readShape(c *ffs.Control) (hostCommand, error) {
	if c.Length != 8 {
		return hostCommand{}, fmt.Errorf("abort shape request: wLength %d, want 8", c.Length)
	}
	var b [8]byte
	n, err := c.Read(b[:])
	if err != nil {
		return hostCommand{}, err
	}
	if n != len(b) {
		return hostCommand{}, fmt.Errorf("abort shape request: the host sent %d bytes of 8", n)
	}
	// Compared as uint64 before any int conversion: on 32-bit ARM a large
	// uint32 would turn negative and pass the limits.
	depth, size := uint64(binary.LittleEndian.Uint32(b[:4])), uint64(binary.LittleEndian.Uint32(b[4:]))
	if depth == 0 {
		depth = uint64(a.pers.QueueDepth)
	}
	if size == 0 {
		size = uint64(a.pers.RequestSize)
	}
	if depth > uint64(a.pers.QueueDepth) || size > uint64(a.pers.RequestSize) {
		return hostCommand{}, fmt.Errorf("abort shape request: depth %d, size %d exceed queue_depth %d, request_size %d",
			depth, size, a.pers.QueueDepth, a.pers.RequestSize)
	}
	return hostCommand{depth: int(depth), size: int(size)}, nil
}

// session serves every endpoint until one fails (a disconnect shuts them
// all down) or ctx is done. Each endpoint keeps its queue full, cancels
// requests as its policies and the host say, and records every request
// that was cancelled or failed.
func (a *aborter) session(eps []*ffs.EP, sts []*epStats) session {
	return func(ctx context.Context) error {
		parent := ctx
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		errs := make([]error, len(eps))
		var wg sync.WaitGroup
		for i, ep := range eps {
			wg.Go(func() {
				errs[i] = a.serveEP(parent, ctx, ep, sts[i])
				if errs[i] != nil {
					stop()
				}
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

// flight is one request of an endpoint's loop.
type flight struct {
	cancel   context.CancelFunc
	rec      abortlog.Record // filled at submit and on cancel
	deadline time.Time       // a timed cancel is due; zero when none
	policy   string          // why the timed cancel is due
	busy     bool
}

type completion struct {
	i   int
	n   int
	err error
	at  time.Time
}

// settleTimeout bounds how long an endpoint waits, after one of its
// requests failed, for the rest to fail too before cancelling them.
const settleTimeout = time.Second

// serveEP runs one endpoint until ctx is done or a request fails by
// itself. parent is the daemon's context: when only ctx is done (another
// endpoint failed), requests are given settleTimeout to fail by themselves
// before they are cancelled.
func (a *aborter) serveEP(parent, ctx context.Context, ep *ffs.EP, st *epStats) error {
	q, err := takeRing(ctx, ep, st)
	if err != nil {
		return err
	}
	defer q.close()
	mp, err := maxPacket(ep)
	if err != nil {
		return err
	}
	in := ep.Address().IsIn()
	want := make([]byte, mp)
	fillPattern(want, config.PatternMod63, mp)
	if in {
		for _, r := range q.reqs {
			fillPattern(r.Buf(), config.PatternMod63, mp)
		}
	}
	cmds := make(chan hostCommand, 1)
	a.mu.Lock()
	a.cmds[ep.Name()] = cmds
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		// A new session may have taken the name while this one drained.
		if a.cmds[ep.Name()] == cmds {
			delete(a.cmds, ep.Name())
		}
		a.mu.Unlock()
	}()

	var pols []config.CancelPolicy
	for _, p := range a.opts.Policies {
		if p.Endpoint == "" || p.Endpoint == ep.Address().String() {
			pols = append(pols, p)
		}
	}
	rngs := make([]*rand.Rand, len(pols))
	for i, p := range pols {
		rngs[i] = rand.New(rand.NewPCG(p.Seed, uint64(ep.Address())))
	}
	depth, size := len(q.reqs), len(q.reqs[0].Buf())
	fl := make([]flight, len(q.reqs))
	done := make(chan completion, len(q.reqs))
	var order []int // requests in flight, oldest first
	var submitted, bytesSince int64
	dir := "out"
	if in {
		dir = "in"
	}

	cancelReq := func(i int, policy string, now time.Time) {
		f := &fl[i]
		if f.rec.Cancelled != nil {
			return
		}
		f.rec.Cancelled, f.rec.Policy, f.deadline = &now, policy, time.Time{}
		f.cancel()
	}
	// policyCancel cancels request i for a policy unless the policies are
	// paused or have made their count of cancels.
	policyCancel := func(i int, policy string, now time.Time) {
		if a.paused.Load() || (a.opts.Count > 0 && a.policyCancels.Add(1) > int64(a.opts.Count)) {
			fl[i].deadline = time.Time{}
			return
		}
		cancelReq(i, policy, now)
	}
	cancelAll := func(policy string) {
		now := time.Now()
		for _, i := range order {
			cancelReq(i, policy, now)
		}
	}
	policyAllowed := func() bool {
		return !a.paused.Load() && (a.opts.Count == 0 || a.policyCancels.Load() < int64(a.opts.Count))
	}
	// submit queues request i and decides whether a policy dooms it.
	submit := func(i int) error {
		rctx, cancel := context.WithCancel(context.Background())
		f := &fl[i]
		*f = flight{cancel: cancel, busy: true}
		now := time.Now()
		f.rec = abortlog.Record{Endpoint: ep.Name(), Address: ep.Address().String(), Dir: dir, Size: size,
			QueuePos: len(order), Submitted: now}
		if err := q.submit(i, size); err != nil {
			cancel()
			f.busy = false
			return err
		}
		submitted++
		order = append(order, i)
		for k, p := range pols {
			doomed, name := false, ""
			switch {
			case p.Every > 0:
				doomed, name = submitted%int64(p.Every) == 0, "every"
			case p.Probability > 0:
				doomed, name = rngs[k].Float64() < p.Probability, "random"
			case p.After > 0:
				doomed, name = true, "after"
			}
			if doomed && policyAllowed() {
				f.deadline, f.policy = now.Add(p.After), name
				break
			}
		}
		r := q.reqs[i]
		go func() {
			n, err := r.Wait(rctx)
			done <- completion{i, n, err, time.Now()}
		}()
		return nil
	}
	// finish records completion c if its request was cancelled or failed.
	finish := func(c completion) {
		f := &fl[c.i]
		f.busy = false
		f.cancel()
		q.busy[c.i] = false
		st.done(c.n, c.err)
		for k, j := range order {
			if j == c.i {
				order = append(order[:k], order[k+1:]...)
				break
			}
		}
		r := q.reqs[c.i]
		rec := f.rec
		res2 := r.Res2()
		rec.Completed, rec.Res, rec.Res2, rec.Meaning = c.at, r.RawResult(), &res2, abortlog.Meaning(r.RawResult())
		if c.err == nil && !in {
			if perr := checkPattern(r.Buf()[:c.n], config.PatternMod63, want); perr != nil {
				st.fail("pattern", perr)
				rec.Meaning, rec.Note = "pattern", perr.Error()
				a.recs.Add(rec)
				return
			}
		}
		if c.err == nil && rec.Cancelled == nil {
			bytesSince += int64(c.n)
			return
		}
		if rec.Cancelled != nil {
			rec.IOCancel = abortlog.CancelAnswer(r.CancelErrno(), rec.Res)
			rec.LatencyNS = int64(c.at.Sub(*rec.Cancelled))
			a.stats.record(outcome(c.err), rec.IOCancel, c.at.Sub(*rec.Cancelled))
		}
		a.recs.Add(rec)
		a.log.Debug("abort", "ep", ep.Name(), "policy", rec.Policy, "io_cancel", rec.IOCancel,
			"meaning", rec.Meaning, "res", rec.Res, "latency", c.at.Sub(rec.Submitted))
	}
	// drain waits for every request in flight, cancelling them (policy)
	// at once or, when the endpoint is going away by itself, after
	// settleTimeout.
	drain := func(policy string, grace time.Duration) {
		timeout := time.After(grace)
		if grace == 0 {
			cancelAll(policy)
		}
		for len(order) > 0 {
			select {
			case c := <-done:
				finish(c)
			case <-timeout:
				cancelAll(policy)
			}
		}
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for len(order) < depth {
			i := -1
			for k := range fl {
				if !fl[k].busy {
					i = k
					break
				}
			}
			if err := submit(i); err != nil {
				drain("teardown", 0)
				return err
			}
		}
		var next time.Time
		for _, i := range order {
			if d := fl[i].deadline; !d.IsZero() && (next.IsZero() || d.Before(next)) {
				next = d
			}
		}
		if next.IsZero() {
			timer.Reset(time.Hour)
		} else {
			timer.Reset(time.Until(next))
		}
		select {
		case c := <-done:
			finish(c)
			if c.err != nil && !errors.Is(c.err, ffs.ErrCancelled) {
				// Disconnect, reset, SET_INTERFACE: the others fail
				// the same way by themselves; a cancel would hide it.
				drain("teardown", settleTimeout)
				return c.err
			}
			for _, p := range pols {
				if p.AfterBytes > 0 && bytesSince >= p.AfterBytes && len(order) > 0 {
					bytesSince = 0
					policyCancel(order[0], "after_bytes", time.Now())
				}
			}
		case <-timer.C:
			now := time.Now()
			for _, i := range order {
				if d := fl[i].deadline; !d.IsZero() && !d.After(now) {
					policyCancel(i, fl[i].policy, now)
				}
			}
		case cmd := <-cmds:
			if cmd.depth == 0 {
				cancelAll("host")
				continue
			}
			depth, size = cmd.depth, cmd.size
			drain("reshape", 0)
		case <-ctx.Done():
			grace := settleTimeout
			if parent.Err() != nil {
				grace = 0
			}
			drain("teardown", grace)
			return ctx.Err()
		}
	}
}
