//go:build cgo

package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/gousb"

	"github.com/gadgetkit/gadgetkit/internal/abortlog"
)

// AbortPartialOut is the report's scenario where the host writes two full
// packets into a queued OUT request and the gadget then cancels it: does
// the partial byte count survive the cancel?
const AbortPartialOut = "partial-out-cancel"

// AbortRow and AbortRecord name the abort report's rows and the gadget's
// per-transfer records (package internal/abortlog holds the one definition
// both sides share), so a caller can declare them.
type (
	AbortRow    = abortlog.Row
	AbortRecord = abortlog.Record
)

// Vendor requests to gadgetd's abort personality (abortlog.Request*).
const (
	rtVendorOutEndpoint  = 0x42
	rtVendorInEndpoint   = 0xc2
	rtVendorOutInterface = 0x41
	rtVendorInInterface  = 0xc1
	recordsPage          = 4096 // f_fs's ep0 buffer is a page
	// hostXfer is the host-cancel scenarios' transfer: long enough to be
	// in flight at the deadline under emulation, short of usbfs's 16 MiB
	// default memory limit (libusb says "out of memory" past it).
	hostXfer = 4 << 20
)

// AbortGadget talks to gadgetd's abort personality on interface Interface
// of d: it asks it to cancel or reshape an endpoint's queue and fetches
// its records.
type AbortGadget struct {
	D         *Device
	Interface int
}

// refusedFor is how long Cancel and Shape repeat a request the gadget
// refused: it refuses (stalls, changing nothing) while the endpoint's loop
// is not serving yet, e.g. just after the host configured it, or is busy
// with an earlier request.
const refusedFor = 2 * time.Second

// control makes a vendor request to an endpoint, again while the gadget
// refuses it, for up to refusedFor.
func (g AbortGadget) control(request uint8, ep gousb.EndpointAddress, data []byte) error {
	deadline := time.Now().Add(refusedFor)
	for {
		_, err := g.D.Control(rtVendorOutEndpoint, request, 0, uint16(ep), data)
		if !errors.Is(err, ErrStall) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cancel asks the gadget to cancel every request in flight on ep.
func (g AbortGadget) Cancel(ep gousb.EndpointAddress) error {
	if err := g.control(abortlog.RequestCancel, ep, nil); err != nil {
		return fmt.Errorf("abort cancel request for %s: %w", ep, err)
	}
	return nil
}

// Shape asks the gadget to keep depth requests of size bytes queued on ep
// (0 keeps the configured value), cancelling what is queued now.
func (g AbortGadget) Shape(ep gousb.EndpointAddress, depth, size int) error {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:4], uint32(depth))
	binary.LittleEndian.PutUint32(b[4:], uint32(size))
	if err := g.control(abortlog.RequestShape, ep, b[:]); err != nil {
		return fmt.Errorf("abort shape request for %s (depth %d, size %d): %w", ep, depth, size, err)
	}
	return nil
}

// DMABuf asks the gadget to run FUNCTIONFS_DMABUF_ATTACH with fd -1 on
// ep's endpoint file and returns the errno's name it answers ("ENOTTY",
// "EPERM", "EBADF"; docs/abort.md). While the answer is "EAGAIN" (a kernel
// before 6.9 and the endpoint not enabled yet) it asks again, for up to
// refusedFor, and then returns "EAGAIN".
func (g AbortGadget) DMABuf(ep gousb.EndpointAddress) (string, error) {
	deadline := time.Now().Add(refusedFor)
	for {
		var b [32]byte
		n, err := g.D.Control(rtVendorInEndpoint, abortlog.RequestDMABuf, 0, uint16(ep), b[:])
		if err != nil {
			return "", fmt.Errorf("abort dmabuf request for %s: %w", ep, err)
		}
		answer := string(b[:n])
		if answer != "EAGAIN" || time.Now().After(deadline) {
			return answer, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Policies pauses (false) or resumes (true) the gadget's own policies.
func (g AbortGadget) Policies(on bool) error {
	var v uint16
	if on {
		v = 1
	}
	if _, err := g.D.Control(rtVendorOutInterface, abortlog.RequestPolicies, v, uint16(g.Interface), nil); err != nil {
		return fmt.Errorf("abort policies request: %w", err)
	}
	return nil
}

// Next returns the number the gadget's next record will get.
func (g AbortGadget) Next() (uint64, error) {
	var b [8]byte
	n, err := g.D.Control(rtVendorInInterface, abortlog.RequestNext, 0, uint16(g.Interface), b[:])
	if err != nil {
		return 0, fmt.Errorf("abort next-record request: %w", err)
	}
	if n != 8 {
		return 0, fmt.Errorf("abort next-record request: %d bytes, want 8", n)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// Records fetches the gadget's records numbered from seq on, a page at a
// time. A gap in the numbers (the gadget forgot records before they were
// fetched) is an error.
func (g AbortGadget) Records(seq uint64) ([]abortlog.Record, error) {
	var all []abortlog.Record
	buf := make([]byte, recordsPage)
	for {
		n, err := g.D.Control(rtVendorInInterface, abortlog.RequestRecords, uint16(seq), uint16(g.Interface), buf)
		if err != nil {
			return all, fmt.Errorf("abort records request from %d: %w", seq, err)
		}
		if n == 0 {
			return all, nil
		}
		recs, err := abortlog.Decode(bytes.NewReader(buf[:n]))
		if err != nil {
			return all, fmt.Errorf("abort records from %d: %w", seq, err)
		}
		if len(recs) == 0 || recs[0].Seq != seq {
			return all, fmt.Errorf("abort records: asked from %d, got a page starting at %v (the gadget forgot records: raise keep)", seq, firstSeq(recs))
		}
		all = append(all, recs...)
		seq = recs[len(recs)-1].Seq + 1
	}
}

func firstSeq(recs []abortlog.Record) any {
	if len(recs) == 0 {
		return "nothing"
	}
	return recs[0].Seq
}

// collect fetches the records from seq on that keep accepts (nil: all)
// until want of them are there (want < 0: until none has come for quiet),
// or timeout passes.
func (g AbortGadget) collect(ctx context.Context, seq uint64, keep func(abortlog.Record) bool, want int, quiet, timeout time.Duration) ([]abortlog.Record, error) {
	deadline := time.Now().Add(timeout)
	var recs []abortlog.Record
	last, lastChange := -1, time.Now()
	for {
		got, err := g.Records(seq)
		if err != nil {
			return got, err
		}
		recs = recs[:0]
		for _, r := range got {
			if keep == nil || keep(r) {
				recs = append(recs, r)
			}
		}
		if len(recs) != last {
			last, lastChange = len(recs), time.Now()
		}
		switch {
		case want >= 0 && len(recs) >= want:
			return recs, nil
		case want < 0 && time.Since(lastChange) >= quiet:
			return recs, nil
		case time.Now().After(deadline):
			return recs, nil
		}
		select {
		case <-ctx.Done():
			return recs, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ReportOptions configures AbortReport.
type ReportOptions struct {
	Interface int
	// Checker proves the pipe after each scenario; gadgetd's abort
	// personality sources and sinks gadget zero's mod63 (SourceSinkChecker
	// with pattern.GadgetZero(wMaxPacketSize)).
	Checker Checker
	Depths  []int // gadget-cancel queue depths (default 1, 4, 16)
	Sizes   []int // gadget-cancel request sizes, max-packet multiples (default 4 KiB, 64 KiB)
	// Disconnect and Connect take the gadget off the bus and back; nil
	// leaves the disconnect scenario out.
	Disconnect, Connect func() error
	// Overrides replace expectations: the test-only way to show a wrong
	// one turns its scenario red.
	Overrides []abortlog.Override
	// Only runs just the scenarios named (nil: all); ProbeScenarios are
	// the ones AbortProbe needs.
	Only []string
}

// AbortReport runs the scenario matrix against gadgetd's abort
// personality: gadget cancels of IN and OUT at each depth and size, host
// cancels of a read and a write, halt and clear-halt of each endpoint,
// SET_INTERFACE, port reset and (with hooks) disconnect. For each it
// fetches the gadget's records over USB, checks them against the expected
// Linux 6.1 behaviour (abortlog.Expected) and checks the data after
// recovery. The gadget's own policies are paused for the run. The error
// return is for when the run cannot go on.
func AbortReport(ctx context.Context, d *Device, o ReportOptions) ([]abortlog.Row, error) {
	if o.Checker == nil {
		return nil, errors.New("abort report: no checker")
	}
	if o.Depths == nil {
		o.Depths = []int{1, 4, 16}
	}
	if o.Sizes == nil {
		o.Sizes = []int{4 << 10, 64 << 10}
	}
	g := AbortGadget{D: d, Interface: o.Interface}
	p, err := d.Claim(o.Interface, 0)
	if err != nil {
		return nil, err
	}
	if err := g.Policies(false); err != nil {
		return nil, err
	}
	if err := o.Checker.Resync(ctx, p); err != nil {
		return nil, d.Classify(err)
	}
	var rows []abortlog.Row
	hostBytes := 0 // set by a scenario that moves data into the requests it cancels
	// run provokes one scenario and fills its row. provoke returns the
	// host-side latencies (when the gadget records have none) and how
	// many records to wait for (-1: until they stop coming).
	run := func(name, kind string, provoke func() (lat []time.Duration, want int, err error)) error {
		if o.Only != nil && !slices.Contains(o.Only, name) {
			return nil
		}
		e := abortlog.Expected[kind]
		row := abortlog.Row{Scenario: name}
		seq, err := g.Next()
		if err != nil {
			return err
		}
		lat, want, perr := provoke()
		if want > 0 && kind == abortlog.KindGadgetCancel {
			e.Records = want
		}
		e = abortlog.ApplyAll(e, name, o.Overrides)
		row.Expected = e.String()
		if perr != nil {
			row.Diffs = append(row.Diffs, "provoking it failed: "+d.Classify(perr).Error())
		}
		var keep func(abortlog.Record) bool
		if kind == abortlog.KindGadgetCancel {
			// Not the reshape's cancels before the scenario's own.
			keep = func(r abortlog.Record) bool { return r.Policy == "host" }
		}
		recs, err := g.collect(ctx, seq, keep, want, 300*time.Millisecond, 3*time.Second)
		if err != nil {
			return err
		}
		if kind == abortlog.KindGadgetCancel {
			for i := range recs {
				hb := int64(hostBytes) // what the host moved on the endpoint meanwhile
				recs[i].HostBytes = &hb
				lat = append(lat, recs[i].Latency())
			}
		}
		out := abortlog.Check(e, recs)
		row.Observed, row.Notes, row.Records, row.Latencies = out.Observed, out.Notes, recs, lat
		row.Diffs = append(row.Diffs, out.Diffs...)
		row.Integrity = "ok"
		if cerr := o.Checker.Resync(ctx, p); cerr != nil {
			row.Integrity = d.Classify(cerr).Error()
		} else if cerr := o.Checker.Check(ctx, p); cerr != nil {
			row.Integrity = d.Classify(cerr).Error()
		}
		rows = append(rows, row)
		if errors.Is(perr, ErrGone) {
			return perr
		}
		return ctx.Err()
	}
	for _, ep := range []struct {
		dir  string
		addr gousb.EndpointAddress
	}{{"in", p.In.Desc.Address}, {"out", p.Out.Desc.Address}} {
		for _, depth := range o.Depths {
			for _, size := range o.Sizes {
				name := fmt.Sprintf("gadget-cancel-%s-d%d-%dk", ep.dir, depth, size>>10)
				err := run(name, abortlog.KindGadgetCancel, func() ([]time.Duration, int, error) {
					if err := g.Shape(ep.addr, depth, size); err != nil {
						return nil, depth, err
					}
					time.Sleep(50 * time.Millisecond) // the reshaped queue fills
					return nil, depth, g.Cancel(ep.addr)
				})
				if err != nil {
					return rows, err
				}
			}
		}
		if ep.dir == "out" {
			// Two full packets and no short one: the request has them
			// but stays queued; then the gadget cancels it.
			err := run(AbortPartialOut, abortlog.KindGadgetCancel, func() ([]time.Duration, int, error) {
				if err := g.Shape(ep.addr, 1, 64<<10); err != nil {
					return nil, 1, err
				}
				time.Sleep(50 * time.Millisecond)
				buf := make([]byte, 2*p.MaxPacket)
				if sc, ok := o.Checker.(*SourceSinkChecker); ok {
					sc.Pattern.Fill(buf, 0)
				}
				n, err := p.Out.WriteContext(ctx, buf)
				hostBytes = n
				if err != nil {
					return nil, 1, err
				}
				return nil, 1, g.Cancel(ep.addr)
			})
			hostBytes = 0
			if err != nil {
				return rows, err
			}
		}
		if err := g.Shape(ep.addr, 0, 0); err != nil {
			return rows, err
		}
		// The reshape's own cancels land before the next scenario starts.
		seq, err := g.Next()
		if err != nil {
			return rows, err
		}
		if _, err := g.collect(ctx, seq, nil, -1, 200*time.Millisecond, 3*time.Second); err != nil {
			return rows, err
		}
	}
	ao := AbortOptions{Interface: o.Interface, Checker: o.Checker, CancelAfter: 20 * time.Millisecond,
		Disconnect: o.Disconnect, Connect: o.Connect}
	hostOnly := []struct {
		name string
		xfer func() (string, time.Duration, error)
	}{
		{"host-cancel-read", func() (string, time.Duration, error) {
			return cancelTransfer(ctx, ao, func(ctx context.Context) (int, error) {
				n, err := p.In.ReadContext(ctx, make([]byte, hostXfer))
				o.Checker.Advance(n)
				return n, err
			})
		}},
		{"host-cancel-write", func() (string, time.Duration, error) {
			buf := make([]byte, hostXfer)
			if sc, ok := o.Checker.(*SourceSinkChecker); ok {
				sc.Pattern.Fill(buf, 0)
			}
			return cancelTransfer(ctx, ao, func(ctx context.Context) (int, error) { return p.Out.WriteContext(ctx, buf) })
		}},
		{"halt-in", func() (string, time.Duration, error) {
			return haltEndpoint(ctx, d, p.In.Desc.Address, func(ctx context.Context) (int, error) {
				return p.In.ReadContext(ctx, make([]byte, 4096))
			})
		}},
		{"halt-out", func() (string, time.Duration, error) {
			return haltEndpoint(ctx, d, p.Out.Desc.Address, func(ctx context.Context) (int, error) {
				return p.Out.WriteContext(ctx, make([]byte, 512))
			})
		}},
	}
	for _, s := range hostOnly {
		err := run(s.name, abortlog.KindHostOnly, func() ([]time.Duration, int, error) {
			_, took, err := s.xfer()
			return []time.Duration{took}, -1, err
		})
		if err != nil {
			return rows, err
		}
	}
	shutdowns := []struct {
		name    string
		provoke func() (time.Duration, error)
	}{
		{"set-interface", func() (time.Duration, error) {
			start := time.Now()
			err := d.SetInterface(o.Interface, 0)
			o.Checker.Restarted()
			return time.Since(start), err
		}},
		{"reset", func() (time.Duration, error) {
			start := time.Now()
			_, err := d.Reset(ctx)
			took := time.Since(start)
			if err == nil {
				p, err = d.Claim(o.Interface, 0)
			}
			o.Checker.Restarted()
			return took, err
		}},
	}
	if o.Disconnect != nil && o.Connect != nil {
		shutdowns = append(shutdowns, struct {
			name    string
			provoke func() (time.Duration, error)
		}{"disconnect", func() (time.Duration, error) {
			_, took, err := disconnect(ctx, d, p, ao)
			if err == nil {
				p, err = d.Claim(o.Interface, 0)
			}
			o.Checker.Restarted()
			return took, err
		}})
	}
	for _, s := range shutdowns {
		err := run(s.name, abortlog.KindShutdown, func() ([]time.Duration, int, error) {
			took, err := s.provoke()
			return []time.Duration{took}, -1, err
		})
		if err != nil {
			return rows, err
		}
	}
	return rows, g.Policies(true)
}
