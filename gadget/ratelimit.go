package gadget

import (
	"log/slog"
	"sync"
	"time"
)

// Trouble the host can cause at will (stalled control requests, failed
// transfers) is logged through one process-wide logLimiter: gadgetd serves
// one gadget, and a single table bounds the log and the memory for every
// function at once.
const (
	// troubleInterval is how long repeats of a kind are counted before
	// they are summarised in one line.
	troubleInterval = time.Minute
	// troubleKinds bounds the table: a host can invent 65536 kinds of
	// control request.
	troubleKinds = 64
)

var troubles = newLogLimiter(troubleInterval, troubleKinds, time.Now, func(d time.Duration, f func()) {
	time.AfterFunc(d, f)
})

// logLimiter logs the first occurrence of each kind of trouble, counts its
// repeats for an interval and then logs one summary line, so that a host
// repeating a bad request, or inventing new ones, costs a bounded number of
// lines per interval. Kinds beyond the table's size are counted together.
// One timer serves the whole table: no goroutine per kind, none at all
// while nothing is pending.
//
// Lines are at Info level: a host probing requests the function does not
// know, or a disconnect ending transfers, is routine for a device, not a
// fault of the gadget, yet an operator should see that it happens at the
// default level (a flood included) without reading debug logs.
type logLimiter struct {
	interval time.Duration
	max      int
	now      func() time.Time
	after    func(time.Duration, func()) // runs f once after d

	mu       sync.Mutex
	kinds    map[string]*troubleKind
	overflow troubleKind // occurrences of kinds the full table could not take (msg unused)
	armed    bool        // a flush is scheduled
}

// troubleKind is one kind's first occurrence and the repeats since.
type troubleKind struct {
	log     *slog.Logger
	msg     string
	since   time.Time
	repeats uint64
}

func newLogLimiter(interval time.Duration, max int, now func() time.Time, after func(time.Duration, func())) *logLimiter {
	return &logLimiter{interval: interval, max: max, now: now, after: after, kinds: map[string]*troubleKind{}}
}

// note logs msg with args on log if kind was not seen in the last
// interval, and otherwise counts it for the summary.
func (l *logLimiter) note(log *slog.Logger, kind, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if k := l.kinds[kind]; k != nil {
		if now.Sub(k.since) < l.interval {
			k.repeats++
			return
		}
		l.summarise(kind, k)
		delete(l.kinds, kind)
	}
	if len(l.kinds) >= l.max {
		l.expire(now)
	}
	if len(l.kinds) >= l.max {
		if l.overflow.repeats == 0 {
			l.overflow = troubleKind{log: log, since: now}
			log.Info("too many kinds of trouble to log each: counting the rest", "kinds", l.max, "first", kind)
		}
		l.overflow.repeats++
		l.arm(now)
		return
	}
	l.kinds[kind] = &troubleKind{log: log, msg: msg, since: now}
	log.Info(msg, append(args, "kind", kind)...)
	l.arm(now)
}

// flush summarises and forgets every kind whose interval has ended, then
// schedules the next flush while any is pending.
func (l *logLimiter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = false
	now := l.now()
	l.expire(now)
	l.arm(now)
}

func (l *logLimiter) expire(now time.Time) {
	for kind, k := range l.kinds {
		if now.Sub(k.since) >= l.interval {
			l.summarise(kind, k)
			delete(l.kinds, kind)
		}
	}
	if o := &l.overflow; o.repeats > 0 && now.Sub(o.since) >= l.interval {
		o.log.Info("trouble of kinds beyond the table: suppressed", "count", o.repeats, "kinds", l.max, "since", o.since)
		*o = troubleKind{}
	}
}

func (l *logLimiter) summarise(kind string, k *troubleKind) {
	if k.repeats > 0 {
		k.log.Info(k.msg+": suppressed more like it", "count", k.repeats, "kind", kind, "since", k.since)
	}
}

// arm schedules a flush when the oldest pending interval ends.
func (l *logLimiter) arm(now time.Time) {
	if l.armed {
		return
	}
	var next time.Time
	for _, k := range l.kinds {
		if next.IsZero() || k.since.Before(next) {
			next = k.since
		}
	}
	if o := l.overflow; o.repeats > 0 && (next.IsZero() || o.since.Before(next)) {
		next = o.since
	}
	if next.IsZero() {
		return
	}
	l.armed = true
	l.after(next.Add(l.interval).Sub(now), l.flush)
}
