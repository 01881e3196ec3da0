package gadget

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/abortlog"
)

// Status is what a running gadget reports: the JSON of `gadgetd status`.
// Field names are a stable interface.
type Status struct {
	Gadget    string           `json:"gadget"`
	UDC       string           `json:"udc"`
	UDCState  string           `json:"udc_state,omitempty"`
	Started   time.Time        `json:"started"`
	Functions []FunctionStatus `json:"functions"`
}

// FunctionStatus is one FunctionFS function.
type FunctionStatus struct {
	Name        string            `json:"name"`
	Personality string            `json:"personality"`
	State       string            `json:"state"`
	Events      map[string]uint64 `json:"events"`
	Endpoints   []EndpointStatus  `json:"endpoints"`
	// Aborts (abort personality) counts how cancelled transfers ended
	// (cancelled, completed_first, shutdown, ...), what io_cancel answered
	// (io_cancel_EINPROGRESS, io_cancel_0, io_cancel_EINVAL) and the
	// longest wait from cancel to completion (max_cancel_wait_us).
	Aborts map[string]uint64 `json:"aborts,omitempty"`
	// AbortRecords (abort personality) are its latest records of aborted
	// or failed requests (docs/abort.md).
	AbortRecords []abortlog.Record `json:"abort_records,omitempty"`
}

// EndpointStatus counts the transfers of one data endpoint. Cancellations
// are not errors: every teardown and reconnect cancels what is queued.
type EndpointStatus struct {
	Name          string            `json:"name"`    // endpoint file, "ep1"
	Address       string            `json:"address"` // as described, "ep1out"
	InFlight      int64             `json:"in_flight"`
	Bytes         uint64            `json:"bytes"`
	Completions   uint64            `json:"completions"`
	Cancellations uint64            `json:"cancellations"`
	Errors        map[string]uint64 `json:"errors"`
	LastError     string            `json:"last_error,omitempty"`
	LastErrorAt   *time.Time        `json:"last_error_at,omitempty"`
}

// epStats are the live counters behind an EndpointStatus.
type epStats struct {
	name, address string
	inFlight      func() int // the endpoint's requests the kernel owns (ffs.EP.InFlight)

	bytes       atomic.Uint64
	completions atomic.Uint64
	cancels     atomic.Uint64

	mu      sync.Mutex
	errs    map[string]uint64
	last    string
	lastAt  time.Time
	onError func(ep string, err error)
}

func newEPStats(ep *ffs.EP, onError func(string, error)) *epStats {
	return &epStats{name: ep.Name(), address: ep.Address().String(), inFlight: ep.InFlight, errs: map[string]uint64{}, onError: onError}
}

// done records one completion: bytes moved, a cancellation or an error.
func (s *epStats) done(n int, err error) {
	switch {
	case err == nil:
		s.completions.Add(1)
		s.bytes.Add(uint64(n))
	case errors.Is(err, ffs.ErrCancelled):
		s.cancels.Add(1)
	default:
		s.fail(errorKind(err), err)
	}
}

// fail records an error that is not a transfer completion (a data
// mismatch, a failed submit).
func (s *epStats) fail(kind string, err error) {
	s.mu.Lock()
	s.errs[kind]++
	s.last, s.lastAt = err.Error(), time.Now()
	s.mu.Unlock()
	if s.onError != nil {
		s.onError(s.name, err)
	}
}

func (s *epStats) status() EndpointStatus {
	st := EndpointStatus{
		Name:          s.name,
		Address:       s.address,
		InFlight:      int64(s.inFlight()),
		Bytes:         s.bytes.Load(),
		Completions:   s.completions.Load(),
		Cancellations: s.cancels.Load(),
		Errors:        map[string]uint64{},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.errs {
		st.Errors[k] = v
	}
	if s.last != "" {
		at := s.lastAt
		st.LastError, st.LastErrorAt = s.last, &at
	}
	return st
}

// errorKind names an error for the counters.
func errorKind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{
		{ffs.ErrCancelled, "cancelled"},
		{ffs.ErrShutdown, "shutdown"},
		{ffs.ErrHalted, "halted"},
		{ffs.ErrOverflow, "overflow"},
		{ffs.ErrNotEnabled, "not_enabled"},
		{ffs.ErrClosed, "closed"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}
