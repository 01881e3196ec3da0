package gadget

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/ffs"
)

// function is one FunctionFS function being served.
type function struct {
	cfg   config.Function
	log   *slog.Logger
	f     *ffs.Function
	eps   []*epStats
	serve session
	// release gives back what the personality keeps between sessions,
	// once run is over (nil if it keeps nothing).
	release func()

	mu      sync.Mutex
	events  map[string]uint64
	enables uint64
	changed chan struct{} // closed and replaced at every ENABLE

	ctrl   []byte   // gadget zero's control test buffer; touched only by ep0's goroutine
	aborts *aborter // abort personality only
}

// openFunction writes the descriptors to the ep0 mounted at the function's
// directory and prepares its personality.
func openFunction(c config.Function, log *slog.Logger) (*function, error) {
	fc := c.FunctionFS
	desc, strs, err := fc.Descriptors()
	if err != nil {
		return nil, err
	}
	fn := &function{
		cfg:     c,
		log:     log.With("function", c.Name),
		events:  map[string]uint64{},
		changed: make(chan struct{}),
	}
	cfg := ffs.Config{
		Descriptors: desc,
		Strings:     strs,
		QueueDepth:  fc.Personality.QueueDepth,
		RequestSize: fc.Personality.RequestSize,
		OnEvent:     fn.event,
		OnError:     fn.controlError,
	}
	if fc.Personality.Kind == config.PersonalitySourceSink {
		fn.ctrl = make([]byte, ctrlBufSize)
		cfg.OnControl = fn.control
	}
	if fc.Personality.Kind == config.PersonalityAbort {
		fn.aborts = newAborter(fc.Personality, fn.log)
		cfg.OnControl = fn.aborts.control
	}
	if fn.f, err = ffs.Open(fc.Mount.Dir, cfg); err != nil {
		return nil, err
	}
	for _, ep := range fn.f.EPs() {
		fn.eps = append(fn.eps, newEPStats(ep, fn.transferError))
	}
	if fn.aborts != nil {
		fn.aborts.dmabuf = func(name string) (syscall.Errno, bool) {
			ep := fn.f.EP(name)
			if ep == nil {
				return 0, false
			}
			return ep.DMABufProbe(), true
		}
		fn.serve = fn.aborts.session(fn.f.EPs(), fn.eps)
		return fn, nil
	}
	if fc.Personality.Kind == config.PersonalityLoopback {
		var lbs []*loopback
		for _, p := range loopbackPairs(fn.f.EPs()) {
			lbs = append(lbs, newLoopback(p[0], p[1], fn.statsOf(p[0]), fn.statsOf(p[1])))
		}
		if len(lbs) == 0 {
			fn.f.Close()
			return nil, errors.New("needs a bulk in and a bulk out endpoint")
		}
		fn.serve, fn.release = loopbacks(lbs), func() {
			for _, lb := range lbs {
				lb.close()
			}
		}
		return fn, nil
	}
	in, out, err := endpoints(fn.f)
	if err != nil {
		fn.f.Close()
		return nil, err
	}
	fn.serve = sourceSink(in, out, fn.statsOf(in), fn.statsOf(out), fc.Personality.Pattern)
	return fn, nil
}

func (fn *function) statsOf(ep *ffs.EP) *epStats {
	for _, s := range fn.eps {
		if s.name == ep.Name() {
			return s
		}
	}
	panic("gadget: no stats for " + ep.Name())
}

// event runs on ep0's goroutine for every event but SETUP.
func (fn *function) event(ev ffs.Event) {
	fn.log.Info("event", "event", ev.Type.String(), "state", fn.f.State().String())
	fn.mu.Lock()
	defer fn.mu.Unlock()
	fn.events[strings.ToLower(ev.Type.String())]++
	if ev.Type == ffs.EventEnable {
		fn.enables++
		close(fn.changed)
		fn.changed = make(chan struct{})
	}
}

// waitEnable waits for an ENABLE after the first seen, and returns how many
// there have been.
func (fn *function) waitEnable(ctx context.Context, seen uint64) (uint64, error) {
	for {
		fn.mu.Lock()
		n, changed := fn.enables, fn.changed
		fn.mu.Unlock()
		if n > seen && fn.f.State() == ffs.StateEnabled {
			return n, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

// run serves the personality each time the host enables the function,
// until ctx is done. A disconnect ends a session and the next ENABLE starts
// a new one; any other failure is logged and the session restarted.
func (fn *function) run(ctx context.Context) {
	if fn.aborts != nil {
		defer fn.aborts.writeRecords()
	}
	if fn.release != nil {
		defer fn.release()
	}
	var seen uint64
	for {
		epoch, err := fn.waitEnable(ctx, seen)
		if err != nil {
			return
		}
		seen = epoch
		fn.log.Info("serving", "personality", string(fn.cfg.FunctionFS.Personality.Kind), "enable", epoch)
		err = fn.serve(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ffs.ErrShutdown) || errors.Is(err, ffs.ErrNotEnabled) || errors.Is(err, ffs.ErrCancelled) {
			fn.log.Info("host went away; waiting for the next ENABLE", "reason", err)
			continue
		}
		fn.log.Warn("personality stopped; restarting", "err", err)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return
		}
		if fn.f.State() == ffs.StateEnabled {
			seen = epoch - 1
		}
	}
}

func (fn *function) status() FunctionStatus {
	st := FunctionStatus{
		Name:        fn.cfg.Name,
		Personality: string(fn.cfg.FunctionFS.Personality.Kind),
		State:       fn.f.State().String(),
		Events:      map[string]uint64{},
	}
	fn.mu.Lock()
	for k, v := range fn.events {
		st.Events[k] = v
	}
	fn.mu.Unlock()
	for _, s := range fn.eps {
		st.Endpoints = append(st.Endpoints, s.status())
	}
	if fn.aborts != nil {
		st.Aborts = fn.aborts.stats.snapshot()
		st.AbortRecords = fn.aborts.recent()
	}
	return st
}
