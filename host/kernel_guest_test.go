//go:build cgo

package host

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// kernelSourceSink is what the host must see from guest.NewGadget's
// defaults with the kernel's SourceSink function at high speed. bcdDevice
// is the kernel version and not compared.
func kernelSourceSink(serial string) *Snapshot {
	bulk := func(a usb.EndpointAddress) Endpoint {
		return Endpoint{EndpointDescriptor: usb.EndpointDescriptor{Address: a, Attributes: 2, MaxPacketSize: 512}}
	}
	return &Snapshot{
		Device: usb.DeviceDescriptor{USB: 0x0200, MaxPacketSize0: 64, Vendor: 0x1d6b, Product: 0x0104,
			ManufacturerIndex: 1, ProductIndex: 2, SerialIndex: 3, NumConfigurations: 1},
		Configs: []Configuration{{
			ConfigDescriptor: usb.ConfigDescriptor{TotalLength: 9 + 9 + 7 + 7, NumInterfaces: 1, ConfigurationValue: 1,
				ConfigurationIndex: 4, Attributes: 0x80, MaxPower: 50},
			Interfaces: []AltSetting{{
				InterfaceDescriptor: usb.InterfaceDescriptor{NumEndpoints: 2, Class: 0xff},
				Endpoints:           []Endpoint{bulk(0x81), bulk(0x02)},
			}},
		}},
		Strings: map[usb.LangID]map[uint8]string{0x0409: {1: "gadgetkit", 2: "gadgetkit test gadget", 3: serial, 4: "test"}},
	}
}

func TestGuestVerifySourceSink(t *testing.T) {
	g, d := kernelFunction(t, "SourceSink", nil)
	got, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want := kernelSourceSink(g.Serial)
	if diffs := Compare(want, got, "device.bcdDevice"); len(diffs) != 0 {
		t.Errorf("SourceSink descriptors differ from the expected ones:\n%v", diffs)
	}
	// The expectation is not vacuous: a different endpoint size is named.
	want.Configs[0].Interfaces[0].Endpoints[0].MaxPacketSize = 64
	diffs := Compare(want, got, "device.bcdDevice")
	if len(diffs) != 1 || diffs[0].Path != "config[1].interface[0,0].endpoint[ep1in].wMaxPacketSize" {
		t.Errorf("with wMaxPacketSize 64 expected: %v", diffs)
	}
}

// A gadget built differently from the expectation is caught field by field.
func TestGuestVerifyCatchesChangedGadget(t *testing.T) {
	guest.Require(t)
	g := guest.NewGadget(t, guest.GadgetSpec{PID: 0x0105, VID: 0x1d6b, MaxPowerMA: 200, Functions: []string{"SourceSink.0"}})
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Open(ctx, Options{Selector: Selector{Serial: g.Serial}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, df := range Compare(kernelSourceSink(g.Serial), got, "device.bcdDevice") {
		paths = append(paths, df.Path)
	}
	if want := "device.idProduct config[1].bMaxPower"; strings.Join(paths, " ") != want {
		t.Errorf("differences at %v, want %s", paths, want)
	}
}

func TestGuestSourceSinkData(t *testing.T) {
	_, d := kernelFunction(t, "SourceSink", map[string]string{"pattern": "1", "bulk_buflen": "4096"})
	p, err := d.Claim(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pat := Pattern{Kind: PatternMod63, Period: 512}
	c := &SourceSinkChecker{Pattern: pat}
	for range 3 {
		if err := c.Check(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// The checker is not vacuous: OUT data off the pattern gets the OUT
	// endpoint halted by the gadget.
	bad := make([]byte, 4096)
	Pattern{Kind: PatternMod63, Period: 512}.Fill(bad, 1)
	_, err1 := p.Out.WriteContext(ctx, bad)
	_, err2 := p.Out.WriteContext(ctx, bad)
	if err1 == nil && err2 == nil {
		t.Error("SourceSink accepted OUT data off its pattern")
	}
	if err := d.ClearHalt(p.Out.Desc.Address); err != nil {
		t.Fatal(err)
	}

	for _, dir := range []string{"in", "out", "both"} {
		o := BenchOptions{RequestSize: 16384, InFlight: 4, Duration: 700 * time.Millisecond, Pattern: pat, CheckIn: true}
		if dir != "out" {
			o.In = p.In
		}
		if dir != "in" {
			o.Out = p.Out
		}
		r, err := Bench(ctx, o)
		if err != nil {
			t.Fatalf("bench %s: %v", dir, err)
		}
		for name, dr := range map[string]*DirResult{"in": r.In, "out": r.Out} {
			if dr == nil {
				continue
			}
			t.Logf("bench %s/%s: %.1f MB/s, %.0f transfers/s, latency p50 %.0fus p99 %.0fus max %.0fus",
				dir, name, dr.MBPerSec, dr.TransfersSec, dr.Latency.P50, dr.Latency.P99, dr.Latency.Max)
			if dr.Transfers == 0 || dr.Bytes != dr.Transfers*16384 || dr.Latency.Count != dr.Transfers {
				t.Errorf("bench %s/%s: %+v", dir, name, dr)
			}
		}
	}
	// Bench's IN check is not vacuous either: zeros are not pattern 1.
	_, err = Bench(ctx, BenchOptions{In: p.In, RequestSize: 4096, InFlight: 1, Bytes: 8192, Pattern: Pattern{Kind: PatternZero}, CheckIn: true})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Errorf("bench checking pattern 1 data against zeros: %v", err)
	}
}

func TestGuestLoopback(t *testing.T) {
	_, d := kernelFunction(t, "Loopback", map[string]string{"bulk_buflen": "4096", "qlen": "8"})
	p, err := d.Claim(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sizes := DefaultLoopbackSizes(p.MaxPacket, 4096)
	start := time.Now()
	rounds, err := Loopback(ctx, p.Out, p.In, LoopbackOptions{Sizes: sizes, MaxPacket: p.MaxPacket, Pattern: Pattern{Kind: PatternRandom, Seed: 5}})
	if err != nil {
		t.Fatal(err)
	}
	var total int
	for _, r := range rounds {
		total += r.Size
	}
	t.Logf("looped back %d sizes, %d bytes, in %v", len(rounds), total, time.Since(start))
	if len(rounds) != len(sizes) {
		t.Errorf("%d rounds, want %d", len(rounds), len(sizes))
	}
	r, err := Bench(ctx, BenchOptions{In: p.In, Out: p.Out, RequestSize: 4096, InFlight: 4, Duration: 700 * time.Millisecond})
	if err != nil {
		t.Fatalf("bench both: %v", err)
	}
	t.Logf("loopback bench: in %.1f MB/s out %.1f MB/s", r.In.MBPerSec, r.Out.MBPerSec)
	if r.In.Bytes == 0 || r.Out.Bytes == 0 {
		t.Errorf("bench moved nothing: %+v %+v", r.In, r.Out)
	}
}

func testAbort(t *testing.T, fn string, attrs map[string]string, c Checker) {
	g, d := kernelFunction(t, fn, attrs)
	udc := g.UDC()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	results, err := Abort(ctx, d, AbortOptions{
		Checker: c,
		// Unbind and bind, not soft_connect: on 6.1 dummy_hcd a gadget
		// reconnected through soft_connect never answers the host again
		// (device descriptor read/64, error -71).
		Disconnect: g.Unbind,
		Connect:    func() error { return g.BindTo(udc) },
	})
	for _, r := range results {
		t.Logf("%-13s %s%s (%v) %s", r.Scenario, r.Provoked, r.Skipped, r.Elapsed, r.Error)
		switch {
		case r.Scenario == AbortGadgetCancel:
			if r.Skipped == "" {
				t.Errorf("gadget-cancel ran without a hook")
			}
		case !r.OK() || r.Skipped != "":
			t.Errorf("%s: %s%s", r.Scenario, r.Error, r.Skipped)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(AbortScenarios) {
		t.Errorf("%d results, want %d", len(results), len(AbortScenarios))
	}
}

func TestGuestAbortLoopback(t *testing.T) {
	testAbort(t, "Loopback", map[string]string{"bulk_buflen": "4096"}, &LoopbackChecker{Pattern: Pattern{Kind: PatternRandom, Seed: 9}})
}

func TestGuestAbortSourceSink(t *testing.T) {
	testAbort(t, "SourceSink", map[string]string{"pattern": "1", "bulk_buflen": "4096"},
		&SourceSinkChecker{Pattern: Pattern{Kind: PatternMod63, Period: 512}})
}

// A gadget that leaves mid-transfer ends the run with ErrGone, long before
// its Duration, whichever way it leaves.
func TestGuestGadgetDisappears(t *testing.T) {
	for _, how := range []string{"unbind", "soft_connect"} {
		t.Run(how, func(t *testing.T) {
			g, d := kernelFunction(t, "Loopback", nil)
			p, err := d.Claim(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			udc := g.UDC()
			time.AfterFunc(300*time.Millisecond, func() {
				var err error
				if how == "unbind" {
					err = g.Unbind()
				} else {
					err = guest.SoftConnect(udc, false)
				}
				if err != nil {
					t.Error(err)
				}
			})
			if how == "soft_connect" {
				t.Cleanup(func() { guest.SoftConnect(udc, true) })
			}
			// A run that outlives its Duration returns no error, so
			// ErrGone says the gadget's leaving ended it; the context
			// only guards a hang.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			start := time.Now()
			_, err = Bench(ctx, BenchOptions{In: p.In, Out: p.Out, RequestSize: 4096, InFlight: 2, Duration: 60 * time.Second})
			err = d.Classify(err)
			t.Logf("after %v: %v", time.Since(start), err)
			if !errors.Is(err, ErrGone) {
				t.Errorf("bench across a gadget %s: %v, want ErrGone", how, err)
			}
		})
	}
}
