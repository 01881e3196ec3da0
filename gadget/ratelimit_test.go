package gadget

import (
	"context"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/ffs"
)

// logLines records what a logger was given.
type logLines struct{ lines []logLine }

type logLine struct {
	msg   string
	attrs map[string]string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	line := logLine{msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		line.attrs[a.Key] = a.Value.String()
		return true
	})
	l.lines = append(l.lines, line)
	return nil
}

// fakeClock is the limiter's clock and timer: time moves only when the
// test says, and scheduled flushes run only when the test fires them.
type fakeClock struct {
	t       time.Time
	pending []scheduled
}

type scheduled struct {
	at time.Time
	f  func()
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) after(d time.Duration, f func()) {
	c.pending = append(c.pending, scheduled{c.t.Add(d), f})
}

// advance moves the clock by d and runs every flush that became due.
func (c *fakeClock) advance(d time.Duration) {
	c.t = c.t.Add(d)
	for len(c.pending) > 0 && !c.pending[0].at.After(c.t) {
		s := c.pending[0]
		c.pending = c.pending[1:]
		s.f()
	}
}

func newTestLimiter(max int) (*logLimiter, *fakeClock, *logLines, *slog.Logger) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := &logLines{}
	return newLogLimiter(time.Minute, max, c.now, c.after), c, h, slog.New(h)
}

func TestLimiterLogsOnceThenSummarises(t *testing.T) {
	l, c, h, log := newTestLimiter(8)
	for range 100 {
		l.note(log, "a", "control request", "err", "x")
		c.advance(100 * time.Millisecond)
	}
	if len(h.lines) != 1 || h.lines[0].msg != "control request" || h.lines[0].attrs["err"] != "x" || h.lines[0].attrs["kind"] != "a" {
		t.Fatalf("after 100 of one kind within the interval: %+v, want the first one only", h.lines)
	}
	if len(c.pending) != 1 || !c.pending[0].at.Equal(c.t.Add(-10*time.Second).Add(time.Minute)) {
		t.Fatalf("scheduled flushes %+v, want one at the end of the first one's interval", c.pending)
	}
	c.advance(50 * time.Second)
	if len(h.lines) != 2 || h.lines[1].attrs["count"] != "99" || h.lines[1].attrs["kind"] != "a" {
		t.Fatalf("after the interval: %+v, want a summary of 99 repeats", h.lines)
	}
	if len(l.kinds) != 0 || len(c.pending) != 0 {
		t.Fatalf("after the summary: %d kinds kept, %d flushes scheduled; want none", len(l.kinds), len(c.pending))
	}
	l.note(log, "a", "control request", "err", "y")
	if len(h.lines) != 3 || h.lines[2].attrs["err"] != "y" {
		t.Fatalf("the kind again after its interval: %+v, want it logged anew", h.lines)
	}
}

func TestLimiterKindWithoutRepeatsHasNoSummary(t *testing.T) {
	l, c, h, log := newTestLimiter(8)
	l.note(log, "a", "transfer")
	l.note(log, "b", "transfer")
	l.note(log, "b", "transfer")
	c.advance(time.Minute)
	var got []string
	for _, line := range h.lines {
		got = append(got, line.msg+" "+line.attrs["kind"]+" "+line.attrs["count"])
	}
	want := "[transfer a  transfer b  transfer: suppressed more like it b 1]"
	if fmt.Sprint(got) != want {
		t.Fatalf("lines %v, want %v", got, want)
	}
	if len(l.kinds) != 0 {
		t.Fatalf("%d kinds kept after their interval", len(l.kinds))
	}
}

// A repeat that arrives after its interval but before the flush ran
// summarises the old interval and starts a new one.
func TestLimiterRepeatAfterIntervalBeforeFlush(t *testing.T) {
	l, c, h, log := newTestLimiter(8)
	l.note(log, "a", "m")
	l.note(log, "a", "m")
	c.t = c.t.Add(time.Minute) // the flush has not run
	l.note(log, "a", "m")
	if len(h.lines) != 3 || h.lines[1].attrs["count"] != "1" || h.lines[2].msg != "m" {
		t.Fatalf("lines %+v, want first, summary of 1, first again", h.lines)
	}
	if k := l.kinds["a"]; k == nil || !k.since.Equal(c.t) || k.repeats != 0 {
		t.Fatalf("kind after the new first occurrence: %+v", k)
	}
}

// A host inventing kinds fills the table; the rest are counted together,
// with one line when the table overflows and one summary per interval.
func TestLimiterTableIsBounded(t *testing.T) {
	const max, n = 16, 5000
	l, c, h, log := newTestLimiter(max)
	for i := range n {
		l.note(log, fmt.Sprintf("control 0x40 %#x", i%1000), "control request")
	}
	if len(l.kinds) != max {
		t.Fatalf("%d kinds kept, want the table's %d", len(l.kinds), max)
	}
	if len(h.lines) != max+1 {
		t.Fatalf("%d lines for %d requests of 1000 kinds, want %d first ones and one overflow notice", len(h.lines), n, max)
	}
	if len(c.pending) != 1 {
		t.Fatalf("%d flushes scheduled, want one for the whole table", len(c.pending))
	}
	c.advance(time.Minute)
	var repeats, overflow int
	for _, line := range h.lines[max+1:] {
		var count int
		fmt.Sscan(line.attrs["count"], &count)
		if line.attrs["kind"] == "" {
			overflow += count
		} else {
			repeats += count
		}
	}
	// Each of the first max kinds recurs 4 times after its first.
	if repeats != max*4 || overflow != n-max*5 || len(h.lines) != 2*max+2 {
		t.Fatalf("summaries: %d repeats, %d overflowed in %d lines; want %d, %d in %d", repeats, overflow, len(h.lines), max*4, n-max*5, 2*max+2)
	}
	if len(l.kinds) != 0 || l.overflow.repeats != 0 || len(c.pending) != 0 {
		t.Fatalf("after the interval: %d kinds, %d overflowed, %d flushes pending; want nothing", len(l.kinds), l.overflow.repeats, len(c.pending))
	}
}

// When the table is full of kinds whose interval has ended (the flush is
// late), a new kind takes a slot instead of overflowing.
func TestLimiterFullTableExpiresFirst(t *testing.T) {
	l, c, h, log := newTestLimiter(2)
	l.note(log, "a", "m")
	l.note(log, "b", "m")
	c.t = c.t.Add(time.Minute)
	l.note(log, "c", "m")
	if _, ok := l.kinds["c"]; !ok || len(l.kinds) != 1 || l.overflow.repeats != 0 || len(h.lines) != 3 {
		t.Fatalf("kinds %v, overflow %d, lines %+v: want c alone in the table and logged", l.kinds, l.overflow.repeats, h.lines)
	}
}

// Control requests are told apart by bmRequestType, bRequest and how they
// failed, not by wValue, wIndex or wLength, which a host varies at will.
func TestControlErrorKinds(t *testing.T) {
	l, _, h, log := newTestLimiter(troubleKinds)
	saved := troubles
	troubles = l
	t.Cleanup(func() { troubles = saved })
	fn := newSourceSinkFunction()
	fn.log, fn.cfg.Name = log, "f"
	for _, s := range []ffs.Setup{
		{RequestType: 0x40, Request: 0x5b, Length: 5000},
		{RequestType: 0x40, Request: 0x5b, Value: 1, Index: 2, Length: 3},
		{RequestType: 0xc0, Request: 0x5b},
		{RequestType: 0x40, Request: 0x5c},
	} {
		fn.controlError(ffs.ServeControl(s, &fakeStage{s: s}, fn.control))
	}
	fn.controlError(ffs.ServeControl(ffs.Setup{RequestType: 0xc0, Request: 0x5c, Length: 1}, &fakeStage{err: syscall.EIDRM}, fn.control))
	var kinds []string
	for _, line := range h.lines {
		kinds = append(kinds, line.attrs["kind"])
	}
	want := "[f control 0x40 0x5b stalled f control 0xc0 0x5b stalled f control 0x40 0x5c stalled f control 0xc0 0x5c handler error after answering EIDRM]"
	if fmt.Sprint(kinds) != want {
		t.Fatalf("kinds logged %v, want %v", kinds, want)
	}
}
