//go:build cgo

package host

import (
	"context"
	"fmt"
	"time"
)

// A Checker proves that a pipe carries correct data, knowing what the
// gadget function at the other end does with it.
type Checker interface {
	// Check moves some data through the pipe and verifies every byte.
	Check(ctx context.Context, p *Pipe) error
	// Resync clears what an aborted transfer may have left half done: a
	// partly filled OUT request on the gadget, data waiting on IN.
	Resync(ctx context.Context, p *Pipe) error
	// Restarted tells the checker that the gadget function restarted its
	// endpoints (SET_INTERFACE, reset, reconnect), so streams begin anew.
	Restarted()
	// Advance accounts for n bytes read from IN outside Check (by a
	// cancelled read), keeping a stream position aligned.
	Advance(n int)
}

// LoopbackChecker checks a loopback function: what goes OUT comes back IN.
type LoopbackChecker struct {
	Pattern Pattern
	Sizes   []int // default: a short, an exact max-packet multiple and a large transfer
}

// Check round-trips Sizes through the pipe.
func (c *LoopbackChecker) Check(ctx context.Context, p *Pipe) error {
	sizes := c.Sizes
	if sizes == nil {
		sizes = []int{1, p.MaxPacket, 3*p.MaxPacket + 7, 64 << 10}
	}
	_, err := Loopback(ctx, p.Out, p.In, LoopbackOptions{Sizes: sizes, MaxPacket: p.MaxPacket, Pattern: c.Pattern})
	return err
}

// Resync ends a partly filled OUT request with a ZLP and discards what IN
// holds until it stays idle after the ZLP went out. The ZLP is written
// while IN drains: a loopback whose requests are all full accepts nothing
// until its IN side is read.
func (c *LoopbackChecker) Resync(ctx context.Context, p *Pipe) error {
	zlp := make(chan error, 1)
	go func() {
		_, err := p.Out.WriteContext(ctx, nil)
		zlp <- err
	}()
	for {
		if _, err := Drain(ctx, p.In, 100*time.Millisecond); err != nil {
			return fmt.Errorf("resync: %w", err)
		}
		select {
		case err := <-zlp:
			if err != nil {
				return fmt.Errorf("resync: ZLP: %w", err)
			}
			// The ZLP's own echo (or the rest of a request it ended).
			_, err = Drain(ctx, p.In, 100*time.Millisecond)
			return err
		default:
		}
	}
}

// Restarted does nothing: a loopback function keeps no stream position.
func (c *LoopbackChecker) Restarted() {}

// Advance does nothing: Resync discards whatever IN still holds.
func (c *LoopbackChecker) Advance(int) {}

// Drain reads r until a read of idle passes with no data, and returns the
// bytes discarded.
func Drain(ctx context.Context, r Reader, idle time.Duration) (int64, error) {
	buf := make([]byte, 64<<10)
	var total int64
	for {
		rctx, cancel := context.WithTimeout(ctx, idle)
		n, err := r.ReadContext(rctx, buf)
		expired := rctx.Err() != nil
		cancel()
		total += int64(n)
		switch {
		case err == nil:
		case expired && ctx.Err() == nil:
			if n == 0 {
				return total, nil
			}
		default:
			return total, fmt.Errorf("drain: %w", err)
		}
	}
}

// SourceSinkChecker checks a SourceSink function: IN delivers the pattern,
// OUT data must match it, or the gadget halts the OUT endpoint. It tracks
// the IN stream position so that a cancelled read that moved some bytes
// keeps the stream aligned.
type SourceSinkChecker struct {
	Pattern Pattern // zero, or mod63 with Period wMaxPacketSize (pattern=1)
	Bytes   int     // per direction per Check; default 16 KiB

	inOffset int64
}

func (c *SourceSinkChecker) bytes() int {
	if c.Bytes > 0 {
		return c.Bytes
	}
	return 16 << 10
}

// Check reads and checks IN data, then writes patterned OUT data (a
// mismatch makes the gadget stall the endpoint, failing a later write).
func (c *SourceSinkChecker) Check(ctx context.Context, p *Pipe) error {
	buf := make([]byte, c.bytes())
	n, err := p.In.ReadContext(ctx, buf)
	if cerr := c.Pattern.Check(buf[:n], c.inOffset); cerr != nil {
		return fmt.Errorf("IN: %w", cerr)
	}
	c.inOffset += int64(n)
	if err != nil {
		return fmt.Errorf("IN: read: %w", err)
	}
	out := make([]byte, c.bytes())
	c.Pattern.Fill(out, 0)
	// Twice: a halt the first write provoked shows on the second.
	for range 2 {
		if _, err := p.Out.WriteContext(ctx, out); err != nil {
			return fmt.Errorf("OUT: write: %w", err)
		}
	}
	return nil
}

// Resync ends a partly filled OUT request with a short packet; SourceSink
// checks only the bytes a request actually got.
func (c *SourceSinkChecker) Resync(ctx context.Context, p *Pipe) error {
	if _, err := p.Out.WriteContext(ctx, nil); err != nil {
		return fmt.Errorf("resync: ZLP: %w", err)
	}
	return nil
}

// Restarted resets the IN stream position: SourceSink refills its
// requests from the start of the pattern when its endpoints are enabled.
func (c *SourceSinkChecker) Restarted() { c.inOffset = 0 }

// Advance moves the IN stream position past n bytes read elsewhere.
func (c *SourceSinkChecker) Advance(n int) { c.inOffset += int64(n) }
