package ffs

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// An ep0 that fails ends Run and changes no state: WaitState must return
// Run's error then, not wait for its own context (which a caller such as
// examples/echo may never cancel).
func TestWaitStateReturnsWhenRunFails(t *testing.T) {
	fn, peer := runnable(t)
	record := func(typ byte) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, 0, typ, 0, 0, 0} }
	// Only a hang guard: without Run's end WaitState waits until here.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- fn.Run(context.Background()) }()
	if _, err := unix.Write(peer, record(byte(EventBind))); err != nil {
		t.Fatal(err)
	}
	if err := fn.WaitState(ctx, StateBound); err != nil {
		t.Fatalf("waiting for BIND: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- fn.WaitState(ctx, StateEnabled) }()
	// No kernel writes event type 200: Run fails on it.
	if _, err := unix.Write(peer, record(200)); err != nil {
		t.Fatal(err)
	}
	runErr := <-ran
	if runErr == nil || errors.Is(runErr, context.Canceled) {
		t.Fatalf("Run returned %v, want the decode error", runErr)
	}
	err := <-waited
	if !errors.Is(err, runErr) || ctx.Err() != nil {
		t.Fatalf("WaitState returned %v (its context: %v), want Run's error %q", err, ctx.Err(), runErr)
	}
	if fn.State() != StateBound {
		t.Errorf("state %v after Run failed, want bound", fn.State())
	}
	// A waiter that comes after Run has returned is told at once too.
	if err := fn.WaitState(ctx, StateUnbound); !errors.Is(err, runErr) {
		t.Errorf("WaitState after Run returned: %v, want Run's error", err)
	}
}

// Run's context ending is an end of Run like any other: a WaitState on
// another context returns with context.Canceled.
func TestWaitStateAfterRunsContextEnds(t *testing.T) {
	fn, _ := runnable(t)
	runCtx, stop := context.WithCancel(context.Background())
	stop()
	if err := fn.Run(runCtx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a done context: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fn.WaitState(ctx, StateEnabled); !errors.Is(err, context.Canceled) || ctx.Err() != nil {
		t.Fatalf("WaitState after Run's context ended: %v, want context.Canceled from Run", err)
	}
}

// A serving loop, for WaitState(ctx, StateEnabled) == nil { serve }, must end
// when Run has returned or ctx is done, even though the last state seen is
// the one it waits for: returning nil there made such a loop spin (found by
// examples/checksum, whose Serve did exactly this).
func TestWaitStateEndsAServingLoop(t *testing.T) {
	fn, peer := runnable(t)
	record := func(typ byte) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, 0, typ, 0, 0, 0} }
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- fn.Run(runCtx) }()
	for _, ev := range []EventType{EventBind, EventEnable} {
		if _, err := unix.Write(peer, record(byte(ev))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard only
	defer cancel()
	if err := fn.WaitState(ctx, StateEnabled); err != nil {
		t.Fatalf("waiting for ENABLE: %v", err)
	}
	done, doneCancel := context.WithCancel(context.Background())
	doneCancel()
	if err := fn.WaitState(done, StateEnabled); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitState(done ctx) in the state wanted: %v, want context.Canceled", err)
	}
	stop()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if fn.State() != StateEnabled {
		t.Fatalf("state %v after Run returned, want the last seen (enabled)", fn.State())
	}
	if err := fn.WaitState(ctx, StateEnabled); !errors.Is(err, context.Canceled) || ctx.Err() != nil {
		t.Errorf("WaitState(enabled) after Run returned in that state: %v, want Run's context.Canceled", err)
	}
}
