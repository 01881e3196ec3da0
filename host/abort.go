//go:build cgo

package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/gousb"
)

// Abort scenario names, in the order Abort runs them.
const (
	AbortCancelRead   = "cancel-read"   // host cancels a bulk IN read in flight (context deadline)
	AbortCancelWrite  = "cancel-write"  // host cancels a bulk OUT write in flight
	AbortHaltIn       = "halt-in"       // SET_FEATURE(ENDPOINT_HALT) on IN, read stalls, CLEAR_FEATURE
	AbortHaltOut      = "halt-out"      // the same on OUT
	AbortSetInterface = "set-interface" // SET_INTERFACE restarts the function's endpoints
	AbortReset        = "reset"         // port reset, the device re-enumerates
	AbortGadgetCancel = "gadget-cancel" // the gadget cancels its own requests (AbortOptions.GadgetCancel)
	AbortDisconnect   = "disconnect"    // the gadget leaves the bus mid-transfer and comes back
)

// AbortScenarios lists every scenario name.
var AbortScenarios = []string{AbortCancelRead, AbortCancelWrite, AbortHaltIn, AbortHaltOut,
	AbortSetInterface, AbortReset, AbortGadgetCancel, AbortDisconnect}

// AbortOptions configures Abort.
type AbortOptions struct {
	Interface, Alt int
	Checker        Checker
	Scenarios      []string      // nil: all of AbortScenarios
	CancelAfter    time.Duration // deadline of the transfer a cancel scenario aborts (0: 50ms)
	// GadgetCancel asks the gadget to cancel its in-flight requests (a
	// vendor request to gadgetd). Nil skips the gadget-cancel scenario.
	GadgetCancel func(ctx context.Context, d *Device) error
	// Disconnect takes the gadget off the bus and Connect brings it back
	// (soft_connect, the gadget's UDC attribute). Nil skips disconnect.
	Disconnect, Connect func() error
}

// AbortResult is what one scenario provoked and whether the pipe carried
// correct data afterwards.
type AbortResult struct {
	Scenario string        `json:"scenario"`
	Skipped  string        `json:"skipped,omitempty"`  // why it did not run
	Provoked string        `json:"provoked,omitempty"` // what the abort did, as observed by the host
	Elapsed  time.Duration `json:"elapsed_ns"`         // from provoking the abort to its transfer ending
	Error    string        `json:"error,omitempty"`    // the abort or the check after it went wrong
}

// OK reports whether the scenario ran (or was skipped) without error.
func (r AbortResult) OK() bool { return r.Error == "" }

// Abort runs the selected scenarios one after another on d. Each one
// provokes its abort, recovers (Checker.Resync, re-claiming after a reset or
// reconnect) and then runs Checker.Check. A scenario's failure is recorded
// in its result; the error return is for when d cannot be used any more.
func Abort(ctx context.Context, d *Device, o AbortOptions) ([]AbortResult, error) {
	if o.Checker == nil {
		return nil, errors.New("abort: no checker for the gadget function")
	}
	if o.CancelAfter <= 0 {
		o.CancelAfter = 50 * time.Millisecond
	}
	names := o.Scenarios
	if names == nil {
		names = AbortScenarios
	}
	p, err := d.Claim(o.Interface, o.Alt)
	if err != nil {
		return nil, err
	}
	// Start clean: an earlier command may have left data in the gadget.
	if err := o.Checker.Resync(ctx, p); err != nil {
		return nil, d.Classify(err)
	}
	if err := o.Checker.Check(ctx, p); err != nil {
		return nil, fmt.Errorf("abort: the pipe fails its check before any abort: %w", d.Classify(err))
	}
	var results []AbortResult
	for _, name := range names {
		r := AbortResult{Scenario: name}
		var provoked string
		var elapsed time.Duration
		var err error
		switch name {
		case AbortCancelRead:
			provoked, elapsed, err = cancelTransfer(ctx, o, func(ctx context.Context) (int, error) {
				n, err := p.In.ReadContext(ctx, make([]byte, 1<<20))
				o.Checker.Advance(n)
				return n, err
			})
		case AbortCancelWrite:
			buf := make([]byte, 4<<20)
			if sc, ok := o.Checker.(*SourceSinkChecker); ok {
				sc.Pattern.Fill(buf, 0)
			}
			provoked, elapsed, err = cancelTransfer(ctx, o, func(ctx context.Context) (int, error) {
				return p.Out.WriteContext(ctx, buf)
			})
		case AbortHaltIn:
			provoked, elapsed, err = haltEndpoint(ctx, d, p.In.Desc.Address, func(ctx context.Context) (int, error) {
				return p.In.ReadContext(ctx, make([]byte, 4096))
			})
		case AbortHaltOut:
			provoked, elapsed, err = haltEndpoint(ctx, d, p.Out.Desc.Address, func(ctx context.Context) (int, error) {
				return p.Out.WriteContext(ctx, make([]byte, 512))
			})
		case AbortSetInterface:
			start := time.Now()
			err = d.SetInterface(o.Interface, o.Alt)
			elapsed = time.Since(start)
			provoked = fmt.Sprintf("SET_INTERFACE(%d, alt %d) took %v", o.Interface, o.Alt, elapsed.Round(time.Microsecond))
			o.Checker.Restarted()
		case AbortReset:
			start := time.Now()
			var again bool
			if again, err = d.Reset(ctx); err == nil {
				p, err = d.Claim(o.Interface, o.Alt)
			}
			elapsed = time.Since(start)
			provoked = fmt.Sprintf("port reset took %v, re-enumerated: %v", elapsed.Round(time.Microsecond), again)
			o.Checker.Restarted()
		case AbortGadgetCancel:
			if o.GadgetCancel == nil {
				r.Skipped = "no gadget-side cancel hook (needs gadgetd's vendor request)"
				results = append(results, r)
				continue
			}
			start := time.Now()
			err = o.GadgetCancel(ctx, d)
			elapsed = time.Since(start)
			provoked = "gadget asked to cancel its requests"
		case AbortDisconnect:
			if o.Disconnect == nil || o.Connect == nil {
				r.Skipped = "no disconnect/connect hooks"
				results = append(results, r)
				continue
			}
			provoked, elapsed, err = disconnect(ctx, d, p, o)
			if err == nil {
				p, err = d.Claim(o.Interface, o.Alt)
			}
			o.Checker.Restarted()
		default:
			return results, fmt.Errorf("abort: unknown scenario %q (want one of %v)", name, AbortScenarios)
		}
		r.Provoked, r.Elapsed = provoked, elapsed
		if err == nil {
			if err = o.Checker.Resync(ctx, p); err == nil {
				err = o.Checker.Check(ctx, p)
				if err != nil {
					err = fmt.Errorf("pipe check after the abort: %w", err)
				}
			}
		}
		if err != nil {
			err = d.Classify(err)
			r.Error = err.Error()
		}
		results = append(results, r)
		if errors.Is(err, ErrGone) || ctx.Err() != nil {
			return results, err
		}
	}
	return results, nil
}

// cancelTransfer runs xfer with a deadline of o.CancelAfter and describes
// how it ended. A transfer that completes before its deadline is reported,
// not failed: there was nothing in flight to cancel.
func cancelTransfer(ctx context.Context, o AbortOptions, xfer func(context.Context) (int, error)) (string, time.Duration, error) {
	tctx, cancel := context.WithTimeout(ctx, o.CancelAfter)
	defer cancel()
	start := time.Now()
	n, err := xfer(tctx)
	elapsed := time.Since(start)
	switch {
	case err == nil:
		return fmt.Sprintf("completed with %d bytes before the %v deadline", n, o.CancelAfter), elapsed, nil
	case errors.Is(err, gousb.TransferCancelled):
		return fmt.Sprintf("cancelled after %v with %d bytes moved (deadline %v)", elapsed.Round(time.Microsecond), n, o.CancelAfter), elapsed, nil
	}
	return "", elapsed, fmt.Errorf("transfer ended with %d bytes and %w, want cancelled", n, err)
}

func haltEndpoint(ctx context.Context, d *Device, ep gousb.EndpointAddress, xfer func(context.Context) (int, error)) (string, time.Duration, error) {
	if err := d.SetHalt(ep); err != nil {
		return "", 0, err
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	n, err := xfer(tctx)
	elapsed := time.Since(start)
	if !errors.Is(err, gousb.TransferStall) {
		d.ClearHalt(ep)
		return "", elapsed, fmt.Errorf("transfer on halted %s ended with %d bytes and %v, want a stall", ep, n, err)
	}
	if err := d.ClearHalt(ep); err != nil {
		return "", elapsed, err
	}
	return fmt.Sprintf("transfer on halted %s stalled after %v; halt cleared", ep, elapsed.Round(time.Microsecond)), elapsed, nil
}

// disconnect keeps reads in flight (one after another: a source completes
// any single read), takes the gadget off the bus and measures how long the
// read in flight takes to fail; then it reconnects and reopens the device.
func disconnect(ctx context.Context, d *Device, p *Pipe, o AbortOptions) (string, time.Duration, error) {
	type result struct {
		n   int
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		buf := make([]byte, 64<<10)
		total := 0
		for {
			n, err := p.In.ReadContext(ctx, buf)
			total += n
			select {
			case <-stop:
				err = errors.New("stopped")
			default:
			}
			if err != nil {
				done <- result{total, err, time.Now()}
				return
			}
		}
	}()
	time.Sleep(o.CancelAfter) // let the read get in flight
	start := time.Now()
	if err := o.Disconnect(); err != nil {
		return "", 0, fmt.Errorf("disconnect hook: %w", err)
	}
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		return "", time.Since(start), fmt.Errorf("read in flight did not end after the disconnect: %w", context.Cause(ctx))
	}
	elapsed := res.at.Sub(start)
	provoked := fmt.Sprintf("read in flight failed %v after the disconnect (%d bytes read in all): %v", elapsed.Round(time.Microsecond), res.n, res.err)
	if err := WaitSysfsGone(ctx, d.opts.SysfsRoot, d.Info); err != nil {
		return provoked, elapsed, err
	}
	if err := o.Connect(); err != nil {
		return provoked, elapsed, fmt.Errorf("connect hook: %w", err)
	}
	return provoked, elapsed, d.Reopen(ctx)
}

// SetInterface sends SET_INTERFACE(iface, alt) as a standard control request,
// so that it reaches the gadget even when the interface has a single
// alternate setting (gousb only selects a setting when there are several).
func (d *Device) SetInterface(iface, alt int) error {
	const rtStandardOutInterface, reqSetInterface = 0x01, 0x0b
	if _, err := d.Control(rtStandardOutInterface, reqSetInterface, uint16(alt), uint16(iface), nil); err != nil {
		return fmt.Errorf("SET_INTERFACE(%d, alt %d): %w", iface, alt, err)
	}
	return nil
}
