//go:build cgo

package faults

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gousb"

	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// rounds is how often each fault is injected: the usage after the first
// recovery is the baseline the last one must not exceed.
const rounds = 3

// fault is one row of the matrix: inject the fault on a loopback whose
// queues are full both ways, and leave the host with the interface claimed
// again.
type fault struct {
	name   string
	inject func(t *testing.T, r *rig)
}

var matrix = []fault{
	{"disconnect", func(t *testing.T, r *rig) {
		// soft_connect connect leaves ep0 mute on 6.1's dummy_hcd, so the
		// cable comes back by rebinding.
		udc := r.g.UDC()
		if err := guest.SoftConnect(udc, false); err != nil {
			t.Fatal(err)
		}
		if err := guest.WaitHostGone(r.serial, hangGuard); err != nil {
			t.Fatal(err)
		}
		hostSeesGone(t, r)
		r.waitState("bound")
		r.bindTo("")
		r.waitState("unbound")
		r.bindTo(udc)
		r.reopen()
	}},
	{"udc-rebind", func(t *testing.T, r *rig) {
		udc := r.g.UDC()
		r.bindTo("")
		if err := guest.WaitHostGone(r.serial, hangGuard); err != nil {
			t.Fatal(err)
		}
		hostSeesGone(t, r)
		r.waitState("unbound")
		r.bindTo(udc)
		r.reopen()
	}},
	{"host-reset", func(t *testing.T, r *rig) {
		ev := r.g.Status().Functions[0].Events
		before, enables := ev["disable"], ev["enable"]
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		// dummy_hcd keeps the address, so libusb's handle survives.
		if _, err := r.d.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		// The host configures the device again after the reset: wait for
		// that ENABLE, not the state from before the reset.
		waitFor(t, "an ENABLE after the reset", func() bool {
			return r.g.Status().Functions[0].Events["enable"] > enables
		})
		r.waitState("enabled")
		if got := r.g.Status().Functions[0].Events["disable"]; got <= before {
			t.Fatalf("the gadget saw %d DISABLE events after the reset, %d before", got, before)
		}
		r.claim()
	}},
	{"set-configuration", func(t *testing.T, r *rig) {
		cfgValue := filepath.Join(r.hostDir(), "bConfigurationValue")
		for range 3 {
			writeSysfs(t, cfgValue, "0")
			r.waitState("bound")
			writeSysfs(t, cfgValue, "1")
			r.waitState("enabled")
		}
		r.reopen()
	}},
	{"set-interface", func(t *testing.T, r *rig) {
		before := r.g.Status().Functions[0].Events["enable"]
		for range 5 {
			// SET_INTERFACE(interface 0, alternate setting 0): f_fs disables and
			// enables the endpoints again.
			if _, err := r.d.Control(0x01, 0x0b, 0, 0, nil); err != nil {
				t.Fatalf("SET_INTERFACE: %v", err)
			}
		}
		waitFor(t, "an ENABLE after SET_INTERFACE", func() bool {
			return r.g.Status().Functions[0].Events["enable"] > before
		})
		r.waitState("enabled")
	}},
	{"authorized", func(t *testing.T, r *rig) {
		auth := filepath.Join(r.hostDir(), "authorized")
		writeSysfs(t, auth, "0")
		r.waitState("bound")
		writeSysfs(t, auth, "1")
		r.waitState("enabled")
		r.reopen()
	}},
}

// hostSeesGone: a control transfer on the old handle fails.
func hostSeesGone(t *testing.T, r *rig) {
	t.Helper()
	var status [2]byte
	if _, err := r.d.Control(0x80, 0x00, 0, 0, status[:]); err == nil {
		t.Fatal("GET_STATUS on a device that left succeeded")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMatrix injects each fault rounds times into a loopback whose queues
// are full in both directions, and after each checks a fresh stream (every
// byte once, in order, nothing stale) and, after the last, that the process
// holds no more goroutines and fds than after the first.
func TestMatrix(t *testing.T) {
	for _, f := range matrix {
		t.Run(f.name, func(t *testing.T) {
			r := start(t, "loopback.yaml")
			r.check("before any fault")
			var base usage
			bytes := 0
			for i := range rounds {
				r.fill()
				f.inject(t, r)
				bytes += r.check(f.name)
				if i == 0 {
					base = measure()
				}
			}
			u := assertNoGrowth(t, f.name, base, 8<<10)
			t.Logf("%s x%d: %d bytes checked each way after the faults; usage after the first %+v, after the last %+v",
				f.name, rounds, bytes, base, u)
		})
	}
}

// TestClearHaltMidStream clears the halt of both bulk endpoints over and
// over while a checked stream runs: the stream must not notice.
func TestClearHaltMidStream(t *testing.T) {
	r := start(t, "loopback.yaml")
	r.check("before")
	in, out := r.p.In.Desc.Address, r.p.Out.Desc.Address
	done := make(chan error, 1)
	sizes := append(r.streamSizes(), r.streamSizes()...)
	go func() {
		_, err := r.stream(sizes)
		done <- err
	}()
	clears := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("stream with %d clear-halts in its middle: %v", clears, err)
			}
			if clears < 10 {
				t.Fatalf("only %d clear-halts happened during the stream", clears)
			}
			t.Logf("%d CLEAR_FEATURE(ENDPOINT_HALT) during the stream", clears)
			r.check("after")
			return
		default:
		}
		for _, ep := range []gousb.EndpointAddress{in, out} {
			if err := r.d.ClearHalt(ep); err != nil {
				t.Fatal(err)
			}
			clears++
		}
	}
}
