package gadget

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/abortlog"
)

// fakeStage plays the host and the kernel for one control request. It
// records every stage the handler's answer reached and fails the test when
// one breaks the rules of the wire (direction, wLength), independently of
// the checks ffs.Control makes first.
type fakeStage struct {
	t   *testing.T
	s   ffs.Setup
	out []byte // the OUT data stage the host sends, at most wLength
	err error  // what the kernel answers every stage with; nil when it takes it

	ops   []string
	reply []byte // the IN data stage the handler sent
}

func (st *fakeStage) Write(p []byte) (int, error) {
	st.ops = append(st.ops, fmt.Sprintf("write %d", len(p)))
	if st.t != nil && (!st.s.IsIn() && len(p) > 0 || len(p) > int(st.s.Length)) {
		st.t.Errorf("%v: IN data stage of %d bytes reached the wire", st.s, len(p))
	}
	st.reply = append([]byte(nil), p...)
	if st.err != nil {
		return 0, st.err
	}
	return len(p), nil
}

func (st *fakeStage) Read(p []byte) (int, error) {
	st.ops = append(st.ops, fmt.Sprintf("read %d", len(p)))
	if st.t != nil && (st.s.IsIn() && len(p) > 0 || len(p) != int(st.s.Length)) {
		st.t.Errorf("%v: OUT data stage read into %d bytes reached the wire", st.s, len(p))
	}
	if st.err != nil {
		return 0, st.err
	}
	return copy(p, st.out), nil
}

func (st *fakeStage) Stall() error {
	st.ops = append(st.ops, "stall")
	return st.err
}

// hostileRequest is one control request a fuzz input describes, in
// requestSize bytes: the SETUP (8 bytes, little-endian as on the wire),
// then a byte that seeds the OUT data and a byte of flags.
type hostileRequest struct {
	s     ffs.Setup
	seed  byte
	flags byte
}

const (
	requestSize = 10
	// maxRequests bounds one input's work, whatever its length.
	maxRequests = 16

	flagShort      = 1 << 0 // the host ends the OUT data stage early
	flagKernelFail = 1 << 1 // the kernel refuses every stage (a superseded SETUP)
	flagDrain      = 1 << 2 // abort: the endpoints' loops take their commands first
)

func hostileRequests(in []byte) []hostileRequest {
	var rs []hostileRequest
	for len(in) >= requestSize && len(rs) < maxRequests {
		rs = append(rs, hostileRequest{
			s: ffs.Setup{RequestType: in[0], Request: in[1], Value: binary.LittleEndian.Uint16(in[2:]),
				Index: binary.LittleEndian.Uint16(in[4:]), Length: binary.LittleEndian.Uint16(in[6:])},
			seed: in[8], flags: in[9],
		})
		in = in[requestSize:]
	}
	return rs
}

// stage is the host and kernel the request meets.
func (r hostileRequest) stage(t *testing.T) *fakeStage {
	st := &fakeStage{t: t, s: r.s}
	if !r.s.IsIn() {
		n := int(r.s.Length)
		if r.flags&flagShort != 0 {
			n = int(r.seed) % (n + 1)
		}
		st.out = make([]byte, n)
		for i := range st.out {
			st.out[i] = byte(i*31) ^ r.seed
		}
	}
	if r.flags&flagKernelFail != 0 {
		st.err = os.NewSyscallError("read ep0", syscall.EIDRM)
	}
	return st
}

// noPanics fails the test if handler panics: ServeControl would turn the
// panic into a stall and hide the bug.
func noPanics(t *testing.T, handler func(*ffs.Control) error) func(*ffs.Control) error {
	return func(c *ffs.Control) error {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("handler panic on %v: %v\n%s", c.Setup, p, debug.Stack())
			}
		}()
		return handler(c)
	}
}

// testTroubles swaps the process-wide limiter for one on a clock that
// stands still, for the test's duration.
func testTroubles(t *testing.T, log *slog.Logger) *logLimiter {
	l := newLogLimiter(troubleInterval, troubleKinds, func() time.Time { return time.Unix(0, 0) }, func(time.Duration, func()) {})
	saved := troubles
	troubles = l
	t.Cleanup(func() { troubles = saved })
	return l
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func newSourceSinkFunction() *function {
	fn := &function{log: discard, events: map[string]uint64{}, ctrl: make([]byte, ctrlBufSize)}
	fn.cfg.Name = "sourcesink"
	return fn
}

// checkAnswer fails unless the stage saw exactly want and ServeControl's
// result says the same: nil for a clean answer, a ControlError for the
// request otherwise, saying "stalled" exactly when it was.
func checkAnswer(t *testing.T, r hostileRequest, st *fakeStage, err error, want string) {
	t.Helper()
	if len(st.ops) != 1 || st.ops[0] != want {
		t.Fatalf("%v (flags %#x): stages %v, want [%s]", r.s, r.flags, st.ops, want)
	}
	var ce *ffs.ControlError
	switch {
	case err == nil && (want == "stall" || st.err != nil):
		t.Fatalf("%v (flags %#x): no error, though %s with kernel error %v", r.s, r.flags, want, st.err)
	case err != nil && want != "stall" && st.err == nil:
		t.Fatalf("%v (flags %#x): %s, yet %v", r.s, r.flags, want, err)
	case err != nil && (!errors.As(err, &ce) || ce.Setup != r.s || (ce.Reason == "stalled") != (want == "stall")):
		t.Fatalf("%v (flags %#x): %s, error %v", r.s, r.flags, want, err)
	}
}

// FuzzSourceSinkControl sends a series of control requests to the
// sourcesink personality and checks each against gadget zero's protocol:
// 0x5b (vendor, device, OUT, wValue and wIndex 0, wLength up to 4096)
// stores the data stage in the 4096-byte test buffer, 0x5c (IN) reads it
// back, everything else is stalled and leaves the buffer unchanged; every
// request is answered or stalled exactly once within its direction and
// wLength, a write is read back intact, and nothing grows but a counter.
// Seeds are in testdata/fuzz/FuzzSourceSinkControl.
func FuzzSourceSinkControl(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := testTroubles(t, discard)
		fn := newSourceSinkFunction()
		model := make([]byte, ctrlBufSize)
		for k, r := range hostileRequests(in) {
			s := r.s
			st := r.stage(t)
			err := ffs.ServeControl(s, st, noPanics(t, fn.control))
			fn.controlError(err)

			plain := s.Value == 0 && s.Index == 0 && int(s.Length) <= ctrlBufSize
			switch {
			case plain && s.RequestType == 0x40 && s.Request == requestWriteBuffer:
				checkAnswer(t, r, st, err, fmt.Sprintf("read %d", s.Length))
				if st.err == nil {
					copy(model, st.out)
				}
			case plain && s.RequestType == 0xc0 && s.Request == requestReadBuffer:
				checkAnswer(t, r, st, err, fmt.Sprintf("write %d", s.Length))
				if st.err == nil && !bytes.Equal(st.reply, model[:s.Length]) {
					t.Fatalf("request %d %v: read back % x, want % x", k, s, st.reply, model[:s.Length])
				}
			default:
				checkAnswer(t, r, st, err, "stall")
			}
			if !bytes.Equal(fn.ctrl, model) {
				t.Fatalf("request %d %v (flags %#x): the test buffer differs from what the host wrote", k, s, r.flags)
			}
			if len(fn.ctrl) != ctrlBufSize || len(fn.events) != 1 || fn.events["setup"] != uint64(k+1) {
				t.Fatalf("after %d requests: buffer %d bytes, events %v", k+1, len(fn.ctrl), fn.events)
			}
			if len(lim.kinds) > troubleKinds {
				t.Fatalf("the log limiter holds %d kinds, more than %d", len(lim.kinds), troubleKinds)
			}
		}
	})
}

// abortEndpoints are the endpoint files the fuzzed aborter serves.
var abortEndpoints = []string{"ep1", "ep2"}

// fuzzDMABuf is what the fuzz aborter's endpoints answer to the DMA-BUF
// probe: names of two lengths, so that wLength cuts one and not the other.
var fuzzDMABuf = map[string]syscall.Errno{"ep1": syscall.EPERM, "ep2": syscall.ENOTTY}

// newFuzzAborter is an abort personality serving ep1 and ep2 (their loops
// not running: the test takes their commands), with 6 records of which it
// keeps the last 4, so that wValue's 16 bits wrap.
func newFuzzAborter() (*aborter, map[string]chan hostCommand) {
	p := config.Personality{Kind: config.PersonalityAbort, QueueDepth: 8, RequestSize: 16384,
		Abort: &config.AbortOptions{Keep: 4}}
	a := newAborter(p, discard)
	for i := range 6 {
		a.recs.Add(abortlog.Record{Endpoint: "ep1", Dir: "out", Size: 16384 << i, Meaning: "cancelled"})
	}
	a.dmabuf = func(name string) (syscall.Errno, bool) {
		errno, ok := fuzzDMABuf[name]
		return errno, ok
	}
	cmds := map[string]chan hostCommand{}
	for _, name := range abortEndpoints {
		cmds[name] = make(chan hostCommand, 1)
		a.cmds[name] = cmds[name]
	}
	return a, cmds
}

// FuzzAbortControl sends a series of control requests to the abort
// personality and checks each against docs/abort.md's vendor requests:
// records (0xa1) and next (0xa3) answer IN requests within wLength with
// whole JSON records and the next record number; dmabuf (0xa5) answers an
// IN request for a known endpoint with its errno's name when wLength holds
// it; policies (0xa4, no data,
// wValue 0 or 1) pause or resume; cancel (0xa0, no data) and shape (0xa2,
// OUT, 8 bytes) hand one command to a serving endpoint's loop that is not
// busy. Anything else is stalled and changes nothing: not the pause, not a
// command, not the records. Seeds are in testdata/fuzz/FuzzAbortControl.
func FuzzAbortControl(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := testTroubles(t, discard)
		a, cmds := newFuzzAborter()
		fn := &function{log: discard, aborts: a}
		fn.cfg.Name = "abort"
		next := a.recs.Next()
		for k, r := range hostileRequests(in) {
			s := r.s
			if r.flags&flagDrain != 0 {
				for _, ch := range cmds {
					select {
					case <-ch:
					default:
					}
				}
			}
			pausedBefore := a.paused.Load()
			queuedBefore := map[string]int{}
			for name, ch := range cmds {
				queuedBefore[name] = len(ch)
			}
			st := r.stage(t)
			err := ffs.ServeControl(s, st, noPanics(t, a.control))
			fn.controlError(err)

			ep := fmt.Sprintf("ep%d", s.Index)
			ch := cmds[ep]
			free := ch != nil && queuedBefore[ep] == 0
			var wantCmd *hostCommand // the command the request hands to ep's loop
			pausedAfter := pausedBefore
			switch vendor := s.RequestType&0x60 == 0x40; {
			case vendor && s.Request == abortlog.RequestRecords && s.IsIn():
				if len(st.ops) == 1 && st.ops[0] == "stall" {
					// Only when the first record from wValue on does not fit.
					recs := a.recs.Since(a.recs.Resolve(s.Value))
					if len(recs) == 0 {
						t.Fatalf("%v: stalled with no record to send", s)
					}
					line, _ := json.Marshal(recs[0])
					if len(line)+1 <= int(s.Length) {
						t.Fatalf("%v: stalled, though record %d (%d bytes) fits", s, recs[0].Seq, len(line)+1)
					}
					checkAnswer(t, r, st, err, "stall")
					break
				}
				checkAnswer(t, r, st, err, fmt.Sprintf("write %d", len(st.reply)))
				checkRecordsPage(t, s, st.reply, a.recs.Resolve(s.Value))
			case vendor && s.Request == abortlog.RequestNext && s.IsIn():
				n := min(int(s.Length), 8)
				checkAnswer(t, r, st, err, fmt.Sprintf("write %d", n))
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], next)
				if st.err == nil && !bytes.Equal(st.reply, b[:n]) {
					t.Fatalf("%v: next record % x, want % x", s, st.reply, b[:n])
				}
			case vendor && s.Request == abortlog.RequestDMABuf && s.IsIn() && fuzzDMABuf[ep] != 0 &&
				int(s.Length) >= len(unix.ErrnoName(fuzzDMABuf[ep])):
				name := unix.ErrnoName(fuzzDMABuf[ep])
				checkAnswer(t, r, st, err, fmt.Sprintf("write %d", len(name)))
				if st.err == nil && string(st.reply) != name {
					t.Fatalf("%v: dmabuf answer %q, want %q", s, st.reply, name)
				}
			case vendor && s.Request == abortlog.RequestPolicies && s.Value <= 1 && s.Length == 0:
				if s.IsIn() {
					checkAnswer(t, r, st, err, "write 0")
				} else {
					checkAnswer(t, r, st, err, "read 0")
				}
				if st.err == nil {
					pausedAfter = s.Value == 0
				}
			case vendor && s.Request == abortlog.RequestCancel && s.Length == 0 && free:
				if s.IsIn() {
					checkAnswer(t, r, st, err, "write 0")
				} else {
					checkAnswer(t, r, st, err, "read 0")
				}
				if st.err == nil {
					wantCmd = &hostCommand{}
				}
			case vendor && s.Request == abortlog.RequestShape && !s.IsIn() && s.Length == 8 && free:
				// The data stage completes before the values are known:
				// f_fs then finishes the status stage itself, so values
				// found wrong can only be refused, not stalled.
				if len(st.ops) != 1 || st.ops[0] != "read 8" {
					t.Fatalf("%v: stages %v, want [read 8]", s, st.ops)
				}
				depth, size, ok := decodeShape(st.out, 8, 16384)
				if st.err == nil && ok {
					if err != nil {
						t.Fatalf("%v with data % x: %v", s, st.out, err)
					}
					wantCmd = &hostCommand{depth: depth, size: size}
				} else if err == nil {
					t.Fatalf("%v with data % x (kernel error %v): accepted", s, st.out, st.err)
				}
			default:
				checkAnswer(t, r, st, err, "stall")
			}

			if got := a.paused.Load(); got != pausedAfter {
				t.Fatalf("request %d %v (flags %#x, stages %v, err %v): paused %v, want %v", k, s, r.flags, st.ops, err, got, pausedAfter)
			}
			for name, c := range cmds {
				want := queuedBefore[name]
				if name == ep && wantCmd != nil {
					want++
				}
				if len(c) != want {
					t.Fatalf("request %d %v (flags %#x, stages %v, err %v): %s has %d commands queued, want %d", k, s, r.flags, st.ops, err, name, len(c), want)
				}
			}
			if wantCmd != nil {
				if got := <-ch; got != *wantCmd {
					t.Fatalf("%v: command %+v, want %+v", s, got, *wantCmd)
				}
				ch <- *wantCmd
			}
			if a.recs.Next() != next || len(a.cmds) != len(abortEndpoints) {
				t.Fatalf("request %d %v: records now end at %d (want %d), %d endpoints registered", k, s, a.recs.Next(), next, len(a.cmds))
			}
			if len(lim.kinds) > troubleKinds {
				t.Fatalf("the log limiter holds %d kinds, more than %d", len(lim.kinds), troubleKinds)
			}
		}
	})
}

// decodeShape is the shape request's data as docs/abort.md defines it:
// 8 bytes, queue depth and request size as little-endian uint32, 0 keeping
// the configured one, neither above it.
func decodeShape(data []byte, depth, size int) (int, int, bool) {
	if len(data) != 8 {
		return 0, 0, false
	}
	d, s := uint64(binary.LittleEndian.Uint32(data)), uint64(binary.LittleEndian.Uint32(data[4:]))
	if d == 0 {
		d = uint64(depth)
	}
	if s == 0 {
		s = uint64(size)
	}
	if d > uint64(depth) || s > uint64(size) {
		return 0, 0, false
	}
	return int(d), int(s), true
}

// checkRecordsPage fails unless reply is whole JSON lines of consecutive
// records starting at from.
func checkRecordsPage(t *testing.T, s ffs.Setup, reply []byte, from uint64) {
	t.Helper()
	if len(reply) > 0 && reply[len(reply)-1] != '\n' {
		t.Fatalf("%v: records page does not end with a whole line: %q", s, reply)
	}
	want := from
	for _, line := range bytes.Split(bytes.TrimSuffix(reply, []byte("\n")), []byte("\n")) {
		if len(reply) == 0 {
			break
		}
		var r abortlog.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%v: records page line %q: %v", s, line, err)
		}
		if r.Seq != want {
			t.Fatalf("%v: record %d in the page, want %d", s, r.Seq, want)
		}
		want++
	}
}

// TestControlFloodDoesNotGrow sends 20,000 random control requests, most
// of them stalled, to both personalities' handlers and through the log
// limiter: the heap does not grow with their number.
func TestControlFloodDoesNotGrow(t *testing.T) {
	lim := testTroubles(t, discard)
	ss := newSourceSinkFunction()
	a, cmds := newFuzzAborter()
	ab := &function{log: discard, aborts: a}
	ab.cfg.Name = "abort"
	rng := rand.New(rand.NewPCG(1, 2))
	flood := func(n int) {
		for range n {
			var b [requestSize]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			b[7] &= 0x0f // wLength up to 4095
			if rng.IntN(2) == 0 {
				b[0], b[1] = []byte{0x40, 0xc0}[rng.IntN(2)], byte(0x5b+rng.IntN(2))
			}
			r := hostileRequests(b[:])[0]
			ss.controlError(ffs.ServeControl(r.s, r.stage(nil), ss.control))
			r.s.Request = 0xa0 + r.s.Request%5
			ab.controlError(ffs.ServeControl(r.s, r.stage(nil), a.control))
			for _, ch := range cmds {
				select {
				case <-ch:
				default:
				}
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	flood(1000) // the limiter's table fills, the maps reach their size
	before := heap()
	flood(20_000)
	after := heap()
	if after > before+64<<10 {
		t.Errorf("heap grew from %d to %d bytes over 20,000 requests", before, after)
	}
	if len(lim.kinds) > troubleKinds || lim.overflow.repeats == 0 {
		t.Errorf("log limiter: %d kinds (at most %d), %d overflowed; want a full table and the rest counted", len(lim.kinds), troubleKinds, lim.overflow.repeats)
	}
	t.Logf("heap %d -> %d bytes; %d kinds logged, %d overflowed", before, after, len(lim.kinds), lim.overflow.repeats)
}
