//go:build cgo

package faults

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/gousb"

	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/internal/testkit"
	"github.com/gadgetkit/gadgetkit/internal/usbtest"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// outcome of one control request as the host sees it.
type outcome int

const (
	answered outcome = iota
	stalled
	failed // another error: recorded by the caller
)

// control issues a request and classifies the result: answered, stalled
// (EPIPE), or a test failure for anything else (a timeout means user space
// never answered).
func control(t *testing.T, r *rig, rt, req uint8, val, idx uint16, data []byte) (outcome, int) {
	t.Helper()
	o, n, err := try(r, rt, req, val, idx, data)
	if o == failed {
		t.Fatal(err)
	}
	return o, n
}

func try(r *rig, rt, req uint8, val, idx uint16, data []byte) (outcome, int, error) {
	n, err := r.d.Control(rt, req, val, idx, data)
	switch {
	case err == nil:
		return answered, n, nil
	case errors.Is(err, gousb.ErrorPipe):
		return stalled, n, nil
	}
	return failed, n, fmt.Errorf("control %#02x %#02x wValue %#x wIndex %#x wLength %d: %w", rt, req, val, idx, len(data), err)
}

// The gadget package's log limiter (gadget/ratelimit.go): each kind of
// trouble is logged once per interval, with one summary line when it
// repeated, in a table of at most this many kinds; the others are counted
// with one notice and one summary line.
const (
	logInterval = time.Minute
	logKinds    = 64
)

var floodSeed = flag.Uint64("flood.seed", 0, "TestSetupFlood: seed of the requests (0: from the clock, printed)")

// TestSetupFlood sends thousands of control requests of every type,
// recipient, direction and length (unknown interfaces and endpoints too) to
// the loopback, which answers none of them, while a checked stream runs:
// each is stalled promptly, the stream is intact, the process does not
// grow, and the log grows with time, not with the number of requests.
func TestSetupFlood(t *testing.T) {
	r := start(t, "loopback.yaml")
	r.check("before the flood")
	base := measure()
	logBase := r.log.Count("\n")
	seed := *floodSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -flood.seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 9))

	done := make(chan error, 1)
	sizes := r.streamSizes()
	go func() {
		_, err := r.stream(append(append(sizes, sizes...), sizes...))
		done <- err
	}()
	const n = 3000
	types := []uint8{0x40, 0xc0, 0x41, 0xc1, 0x42, 0xc2, 0x21, 0xa1, 0x60, 0xe0, 0x43, 0xc3}
	counts := map[outcome]int{}
	failures := map[string]int{}
	var slowest time.Duration // reported, not asserted: the machine's load sets it
	var slowestReq string
	start := time.Now()
	for i := range n {
		rt := types[rng.IntN(len(types))]
		idx := uint16(rng.IntN(3)) // interface 0, 1, 2
		if rt&0x1f == 2 {
			idx = []uint16{0x81, 0x01, 0x8f, 0x0f, 0x82}[rng.IntN(5)] // endpoints, some unknown
		}
		if rt&0x60 != 0x40 {
			// usbfs refuses a class request to an interface or endpoint
			// the process has not claimed before it reaches the wire.
			idx = []uint16{0, 0, 0x81}[rt&0x1f]
		}
		length := rng.IntN(4097)
		if i%10 == 0 {
			length = 0 // no data stage
		}
		data := make([]byte, length)
		req, val := uint8(rng.IntN(256)), uint16(rng.Uint32())
		t0 := time.Now()
		o, n, err := try(r, rt, req, val, idx, data)
		if d := time.Since(t0); d > slowest {
			slowest, slowestReq = d, fmt.Sprintf("request %d (%#02x %#02x wLength %d)", i, rt, req, length)
		}
		counts[o]++
		if o == answered {
			t.Errorf("request %d (%#02x %#02x wValue %#x wIndex %#x wLength %d) answered with %d bytes by a loopback that answers none",
				i, rt, req, val, idx, length, n)
		}
		if err != nil {
			failures[fmt.Sprintf("%#02x idx %#x", rt, idx)]++
			if counts[failed] == 1 {
				t.Logf("first failure, request %d: %v", i, err)
			}
			if counts[failed] == 10 {
				buf := make([]byte, 1<<20)
				t.Fatalf("10 requests failed (last: %v), stopping the flood after %d; goroutines:\n%s", err, i+1, buf[:runtime.Stack(buf, true)])
			}
		}
	}
	took := time.Since(start)
	if err := <-done; err != nil {
		t.Fatalf("stream during the flood: %v", err)
	}
	if counts[failed] != 0 {
		t.Errorf("%d requests neither answered nor stalled: %v", counts[failed], failures)
	}
	lines := r.log.Count("\n") - logBase
	// Every interval the flood touched may log each kind of the table
	// twice (first and summary) and the overflow twice; 10 lines for the
	// stream and the session.
	intervals := int(took/logInterval) + 2
	if bound := intervals*(2*logKinds+2) + 10; lines > bound {
		t.Errorf("the flood of %d requests in %v logged %d lines, more than %d", n, took, lines, bound)
	}
	r.check("after the flood")
	u := assertNoGrowth(t, "flood", base, 16<<10)
	t.Logf("%d requests in %v (%.0f/s): %d stalled, the slowest %s in %v; usage %+v -> %+v; %d log lines, %d mention a control request",
		n, took.Round(time.Millisecond), n/took.Seconds(), counts[stalled], slowestReq, slowest.Round(time.Millisecond), base, u, lines, r.log.Count("control request"))
}

// TestControlHandlerHostile sends gadget zero's vendor requests to the
// sourcesink personality with wrong lengths, directions, values and
// recipients: each is stalled (or, when the kernel rewrites it, answered
// within bounds), and none changes the control buffer.
func TestControlHandlerHostile(t *testing.T) {
	r := start(t, "sourcesink.yaml")
	valid := make([]byte, 300)
	for i := range valid {
		valid[i] = byte(i*7 + 1)
	}
	if o, _ := control(t, r, 0x40, 0x5b, 0, 0, valid); o != answered {
		t.Fatal("the valid control write 0x5b was stalled")
	}
	readBack := func(what string) {
		t.Helper()
		buf := make([]byte, len(valid))
		if o, n := control(t, r, 0xc0, 0x5c, 0, 0, buf); o != answered || !bytes.Equal(buf[:n], valid) {
			t.Fatalf("after %s: read back %d bytes (%v), want the %d written last", what, n, o, len(valid))
		}
	}
	readBack("the valid write")
	cases := []struct {
		name    string
		rt, req uint8
		val     uint16
		idx     uint16
		length  int
		want    outcome
	}{
		{"write request in the IN direction", 0xc0, 0x5b, 0, 0, 10, stalled},
		{"read request in the OUT direction", 0x40, 0x5c, 0, 0, 10, stalled},
		{"write with wValue", 0x40, 0x5b, 1, 0, 10, stalled},
		{"write with wIndex", 0x40, 0x5b, 0, 1, 10, stalled},
		{"read with wIndex", 0xc0, 0x5c, 0, 0x100, 10, stalled},
		{"unknown interface", 0xc1, 0x5c, 0, 7, 10, stalled},
		{"unknown endpoint", 0xc2, 0x5c, 0, 0x8f, 10, stalled},
		{"class request", 0xa1, 0x01, 0, 0, 10, stalled},
		{"unknown vendor request", 0xc0, 0x77, 0, 0, 10, stalled},
		{"unknown vendor request without data", 0x40, 0x77, 0, 0, 0, stalled},
		{"write without data stage", 0x40, 0x5b, 0, 0, 0, answered},
		{"read without data stage", 0xc0, 0x5c, 0, 0, 0, answered},
	}
	for _, c := range cases {
		data := make([]byte, c.length)
		for i := range data {
			data[i] = 0xee
		}
		if o, _ := control(t, r, c.rt, c.req, c.val, c.idx, data); o != c.want {
			t.Errorf("%s: %v, want %v", c.name, o, c.want)
		}
		readBack(c.name)
	}
	// The largest request a Linux host sends through usbfs (libusb refuses
	// more than 4096 bytes, usbfs more than a page), which is also the whole
	// buffer: answered in full.
	buf := make([]byte, 4096)
	o, n := control(t, r, 0xc0, 0x5c, 0, 0, buf)
	if o != answered || n != 4096 || !bytes.Equal(buf[:len(valid)], valid) {
		t.Errorf("read of wLength 4096: %v, %d bytes; want all 4096, starting with the buffer", o, n)
	}
	readBack("the read of wLength 4096")
}

// TestRequestsAfterDisable deconfigures the device (SET_CONFIGURATION 0)
// and sends requests to the disabled function: they are stalled, and once
// configured again the loopback carries data.
func TestRequestsAfterDisable(t *testing.T) {
	r := start(t, "loopback.yaml")
	r.check("before")
	cfgValue := filepath.Join(r.hostDir(), "bConfigurationValue")
	writeSysfs(t, cfgValue, "0")
	r.waitState("bound")
	for _, rt := range []uint8{0x41, 0xc1, 0x42, 0xc2, 0x40, 0xc0} {
		idx := uint16(0)
		if rt&0x1f == 2 {
			idx = 0x81
		}
		if o, _ := control(t, r, rt, 0x01, 0, idx, make([]byte, 8)); o != stalled {
			t.Errorf("request %#02x to a deconfigured device was answered", rt)
		}
	}
	writeSysfs(t, cfgValue, "1")
	r.waitState("enabled")
	r.reopen()
	r.check("after configuring again")
}

// TestZeroLengthPackets sends ZLPs at every point of a stream: first thing
// after ENABLE, in runs, after a short packet and after a full one. The
// loopback echoes each as a ZLP, in order.
func TestZeroLengthPackets(t *testing.T) {
	r := start(t, "loopback.yaml")
	mp := r.p.MaxPacket
	sizes := []int{0, 0, 0, 1, 0, mp, 0, 0, mp - 1, 0, 2 * mp, 0, 16384, 0, 0, 16384 + mp, 0}
	if _, err := r.stream(sizes); err != nil {
		t.Fatalf("ZLP stream: %v", err)
	}
	r.check("after the ZLPs")
}

// TestControlOUTBeyondEP0Buffer sends what libusb cannot: gadget zero's
// control write 0x5b with 8192 bytes, from the kernel's usbtest driver
// (test 14 writes 0, 4096 and 8192 bytes, each read back with 0x5c). The
// 8192-byte write is stalled (composite refuses an OUT data stage beyond
// its 4096-byte ep0 buffer), and the sourcesink still answers control
// requests and carries bulk data afterwards.
func TestControlOUTBeyondEP0Buffer(t *testing.T) {
	guest.Require(t)
	if err := guest.LoadModule("usbtest", ""); err != nil {
		t.Fatal(err)
	}
	defer guest.UnloadModule("usbtest")
	cfg := loadConfig(t, "sourcesink.yaml")
	var log testkit.Log
	g, err := gadget.Start(cfg, gadget.Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Close(); err != nil {
			t.Errorf("gadget teardown: %v", err)
		}
		testkit.AssertNoResidue(t)
		if t.Failed() {
			t.Logf("gadget log:\n%s", log.String())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	serial := cfg.Gadget.Strings[0].Serial
	dev, err := usbtest.Wait(ctx, func(d usbtest.Device) bool { return d.Serial == serial })
	if err != nil {
		t.Fatal(err)
	}
	conn, err := usbtest.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	run := func(p usbtest.Params) usbtest.Result {
		t.Helper()
		r, err := conn.Run(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := run(usbtest.Params{Test: 14, Iterations: 3, Length: 8192, Vary: 4096}); r.Status != usbtest.Failed || r.Errno() != syscall.EPIPE {
		t.Fatalf("control writes up to 8192 bytes: %s (%v), want a failure by stall (EPIPE)", r.Status, r.Err)
	}
	if r := run(usbtest.Params{Test: 14, Iterations: 3, Length: 4096, Vary: 2048}); r.Status != usbtest.Passed {
		t.Fatalf("control writes up to 4096 bytes after the stall: %s (%v)", r.Status, r.Err)
	}
	if r := run(usbtest.Params{Test: 1, Iterations: 100, Length: 4096}); r.Status != usbtest.Passed {
		t.Fatalf("bulk OUT after the stall: %s (%v)", r.Status, r.Err)
	}
}
