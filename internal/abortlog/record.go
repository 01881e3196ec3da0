package abortlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Record is one aborted or failed request on the gadget. Field names are
// the JSON lines format (docs/abort.md) and a stable interface.
type Record struct {
	Seq      uint64 `json:"seq"`       // per gadget function, from 0, in completion order
	Endpoint string `json:"ep"`        // endpoint file, "ep1"
	Address  string `json:"address"`   // endpoint address as described, "ep1in"
	Dir      string `json:"dir"`       // "in" (device to host) or "out"
	Size     int    `json:"size"`      // bytes submitted
	QueuePos int    `json:"queue_pos"` // requests of the endpoint in flight ahead of it at submit
	// Policy is why the gadget cancelled it: "after", "after_bytes",
	// "every", "random", "host"; "" when it was not cancelled (it failed).
	Policy    string     `json:"policy,omitempty"`
	Submitted time.Time  `json:"submitted"`
	Cancelled *time.Time `json:"cancelled,omitempty"` // when the gadget called io_cancel
	// IOCancel is io_cancel's answer: "EINPROGRESS" (mainline), "0" (the
	// reverted stable patch that posts -EINTR), "EINVAL" (the transfer had
	// completed), "none" (its completion was reaped before io_cancel was
	// issued); "" when not cancelled.
	IOCancel  string    `json:"io_cancel,omitempty"`
	Completed time.Time `json:"completed"` // when the completion was reaped
	Res       int64     `json:"res"`       // the completion's raw res: bytes, or a negative errno
	// Res2 is the completion's io_event.res2, which the kernel defines
	// and the toolkit does not use: 5.10 repeats res, 6.1 and later
	// write 0. Nil when the gadget did not record it.
	Res2    *int64 `json:"res2,omitempty"`
	Meaning string `json:"meaning"` // Meaning(Res), or "pattern" for OUT data that broke the pattern
	// LatencyNS is cancel-to-completion in nanoseconds (cancelled only).
	LatencyNS int64 `json:"cancel_latency_ns,omitempty"`
	// HostBytes is what the host reported for the matching transfer,
	// filled in by the host when it correlates records.
	HostBytes *int64 `json:"host_bytes,omitempty"`
	Note      string `json:"note,omitempty"` // a detail, e.g. where a pattern broke
}

// Latency is the cancel-to-completion time.
func (r Record) Latency() time.Duration { return time.Duration(r.LatencyNS) }

// Meaning names a completion's res: "bytes" for a transfer that moved
// data (or none), the errno's name ("ECONNRESET", "ESHUTDOWN", "EINTR",
// ...) for a failure.
func Meaning(res int64) string {
	if res >= 0 {
		return "bytes"
	}
	if name := unix.ErrnoName(syscall.Errno(-res)); name != "" {
		return name
	}
	return fmt.Sprintf("errno %d", -res)
}

// CancelAnswer names what io_cancel answered for a request whose
// completion had res. Errno 0 is ambiguous in ffs.Request.CancelErrno
// (no io_cancel issued, or io_cancel returned 0): only the reverted
// stable patch returns 0, and it then completes the request with -EINTR.
func CancelAnswer(errno syscall.Errno, res int64) string {
	switch {
	case errno == 0 && res == -int64(syscall.EINTR):
		return "0"
	case errno == 0:
		return "none"
	}
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return fmt.Sprintf("errno %d", int(errno))
}

// Encode writes records as JSON lines, one object per line.
func Encode(w io.Writer, recs []Record) error {
	enc := json.NewEncoder(w)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return fmt.Errorf("abortlog: record %d: %w", recs[i].Seq, err)
		}
	}
	return nil
}

// Decode reads JSON lines records. Blank lines are skipped; a line that is
// not a record is an error naming its line number.
func Decode(r io.Reader) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return recs, fmt.Errorf("abortlog: line %d: %w", line, err)
		}
		if rec.Endpoint == "" || (rec.Dir != "in" && rec.Dir != "out") {
			return recs, fmt.Errorf("abortlog: line %d: not a record (ep %q, dir %q)", line, rec.Endpoint, rec.Dir)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return recs, fmt.Errorf("abortlog: %w", err)
	}
	return recs, nil
}

// MaxKeep bounds Log's memory, and lets a 16-bit control request field
// name any kept record (see Resolve).
const MaxKeep = 65535

// Log holds the latest records of one gadget function; it is safe for
// concurrent use. Sequence numbers keep counting past what it forgets.
type Log struct {
	mu    sync.Mutex
	ring  []Record // the last len(ring) records; the oldest at start once full
	start int
	next  uint64
}

// NewLog keeps the last keep records (1..MaxKeep).
func NewLog(keep int) *Log { return &Log{ring: make([]Record, 0, min(max(keep, 1), MaxKeep))} }

// Add numbers r and keeps it, forgetting the oldest when full.
func (l *Log) Add(r Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Seq = l.next
	l.next++
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, r)
		return
	}
	l.ring[l.start] = r
	l.start = (l.start + 1) % len(l.ring)
}

// Since returns the kept records numbered from seq on, oldest first.
func (l *Log) Since(seq uint64) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Record
	for i := range l.ring {
		if r := l.ring[(l.start+i)%len(l.ring)]; r.Seq >= seq {
			out = append(out, r)
		}
	}
	return out
}

// Next is the sequence number the next record will get.
func (l *Log) Next() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next
}

// Resolve turns the low 16 bits of a sequence number (all a control
// request's wValue carries) into the full number among the kept records
// and the next one: at most MaxKeep+1 numbers, so the answer is unique.
func (l *Log) Resolve(low uint16) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	oldest := l.next - uint64(len(l.ring))
	return oldest + uint64(low-uint16(oldest))
}

// ErrTooLong is a record whose JSON line does not fit the page at all.
var ErrTooLong = errors.New("abortlog: a record is longer than the page")

// Page encodes the kept records from seq on as JSON lines, as many whole
// lines as fit in max bytes, for a transport with a size limit (a control
// transfer's data stage). It returns the lines and the sequence number to
// ask for next; an empty page means there is nothing from seq on.
func (l *Log) Page(seq uint64, max int) ([]byte, uint64, error) {
	var buf bytes.Buffer
	next := seq
	for _, r := range l.Since(seq) {
		line, err := json.Marshal(r)
		if err != nil {
			return nil, seq, err
		}
		if buf.Len()+len(line)+1 > max {
			if buf.Len() == 0 {
				return nil, seq, fmt.Errorf("%w: record %d is %d bytes, page %d", ErrTooLong, r.Seq, len(line)+1, max)
			}
			break
		}
		buf.Write(line)
		buf.WriteByte('\n')
		next = r.Seq + 1
	}
	return buf.Bytes(), next, nil
}
