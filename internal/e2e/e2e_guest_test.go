//go:build cgo

package e2e

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// serve starts the gadget of a file in configs/ and opens it from the host
// side, claiming interface iface.
func serve(t *testing.T, name string, iface int) (*gadget.Gadget, *host.Device, *host.Pipe, *config.Config) {
	t.Helper()
	guest.Require(t)
	path := filepath.Join("..", "..", "configs", name)
	cfg, err := config.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StatusSocket = ""
	g, err := gadget.Start(cfg, gadget.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("gadget teardown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := host.Open(ctx, host.Options{Selector: host.Selector{Serial: cfg.Gadget.Strings[0].Serial}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	p, err := d.Claim(iface, 0)
	if err != nil {
		t.Fatal(err)
	}
	return g, d, p, cfg
}

// mixedSizes returns transfer sizes from 0 to 1 MiB adding up to at least
// total bytes: the boundaries first (zero-length, one byte, around a
// packet, around the gadget's request, 1 MiB), then random sizes of which a
// quarter are exact multiples of the max packet size.
func mixedSizes(total, mp, request int) []int {
	sizes := []int{0, 1, mp - 1, mp, mp + 1, 2 * mp, request - 1, request, request + 1, request + mp, 1 << 20, 1<<20 - 1}
	rng := rand.New(rand.NewPCG(1, 2))
	sum := 0
	for _, s := range sizes {
		sum += s
	}
	for sum < total {
		s := rng.IntN(1<<20) + 1
		if rng.IntN(4) == 0 {
			s = (s + mp - 1) / mp * mp
		}
		sizes = append(sizes, s)
		sum += s
	}
	return sizes
}

// TestLoopback100MiB writes 100 MiB through configs/loopback.yaml in mixed
// sizes and checks every byte comes back in order: the pattern is one
// pseudo-random stream over all sizes, so a lost, repeated or reordered
// packet breaks it.
func TestLoopback100MiB(t *testing.T) {
	g, _, p, _ := serve(t, "loopback.yaml", 0)
	sizes := mixedSizes(100<<20, p.MaxPacket, 16384)
	total := 0
	zlps := 0
	for _, s := range sizes {
		total += s
		if s%p.MaxPacket == 0 {
			zlps++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	start := time.Now()
	rounds, err := host.Loopback(ctx, p.Out, p.In, host.LoopbackOptions{
		Sizes:     sizes,
		MaxPacket: p.MaxPacket,
		Pattern:   host.Pattern{Kind: host.PatternRandom, Seed: 7},
	})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("after %d of %d sizes: %v", len(rounds), len(sizes), err)
	}
	t.Logf("%d transfers (%d ending in a ZLP), %d bytes each way in %v: %.1f MB/s",
		len(rounds), zlps, total, took.Round(time.Millisecond), float64(total)/took.Seconds()/1e6)
	st := g.Status().Functions[0]
	var in, out uint64
	for _, ep := range st.Endpoints {
		if len(ep.Errors) != 0 {
			t.Errorf("%s: errors %v (last: %s)", ep.Name, ep.Errors, ep.LastError)
		}
		if ep.Address[len(ep.Address)-2:] == "in" {
			in = ep.Bytes
		} else {
			out = ep.Bytes
		}
	}
	if in != uint64(total) || out != uint64(total) {
		t.Errorf("gadget counted %d bytes OUT and %d IN, host moved %d each way", out, in, total)
	}
}

// TestSourceSink reads the IN pattern of the shipped file (zeros, as
// gadget zero's default) and checks it, writes the pattern to OUT and sees
// the gadget accept it, writes a wrong byte and sees the gadget count it,
// and round-trips gadget zero's control test buffer.
func TestSourceSink(t *testing.T) {
	g, d, p, cfg := serve(t, "sourcesink.yaml", 0)
	if got := cfg.Functions[0].FunctionFS.Personality.Pattern; got != config.PatternZeros {
		t.Fatalf("configs/sourcesink.yaml sources %v, this test checks zeros", got)
	}
	pat := host.Pattern{Kind: host.PatternZero}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const size = 8 << 20
	buf := make([]byte, 64<<10)
	var off int64
	for off < size {
		n, err := p.In.ReadContext(ctx, buf)
		if err != nil {
			t.Fatalf("IN at byte %d: %v", off, err)
		}
		if err := pat.Check(buf[:n], off); err != nil {
			t.Fatalf("IN: %v", err)
		}
		off += int64(n)
	}

	data := make([]byte, 64<<10)
	pat.Fill(data, 0)
	for sent := 0; sent < size; sent += len(data) {
		if _, err := p.Out.WriteContext(ctx, data); err != nil {
			t.Fatalf("OUT at byte %d: %v", sent, err)
		}
	}
	out := func() gadget.EndpointStatus {
		for _, ep := range g.Status().Functions[0].Endpoints {
			if ep.Address[len(ep.Address)-3:] == "out" {
				return ep
			}
		}
		t.Fatal("no OUT endpoint in the status")
		return gadget.EndpointStatus{}
	}
	waitFor := func(what string, ok func(gadget.EndpointStatus) bool) gadget.EndpointStatus {
		deadline := time.Now().Add(5 * time.Second)
		for {
			ep := out()
			if ok(ep) {
				return ep
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %+v", what, ep)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ep := waitFor("the OUT bytes", func(ep gadget.EndpointStatus) bool { return ep.Bytes >= size })
	if len(ep.Errors) != 0 {
		t.Fatalf("OUT pattern refused: %v (%s)", ep.Errors, ep.LastError)
	}

	// A short packet, so that the gadget's request completes with it.
	bad := make([]byte, p.MaxPacket/2)
	pat.Fill(bad, 0)
	bad[5] ^= 0xff
	if _, err := p.Out.WriteContext(ctx, bad); err != nil {
		t.Fatal(err)
	}
	ep = waitFor("the bad byte to be counted", func(ep gadget.EndpointStatus) bool { return ep.Errors["pattern"] > 0 })
	if ep.Errors["pattern"] != 1 {
		t.Errorf("pattern errors %d, want 1 (%s)", ep.Errors["pattern"], ep.LastError)
	}
	t.Logf("OUT: %d bytes accepted, bad byte reported as %q", ep.Bytes, ep.LastError)

	ctrl := make([]byte, 300)
	for i := range ctrl {
		ctrl[i] = byte(i * 7)
	}
	if _, err := d.Control(0x40, 0x5b, 0, 0, ctrl); err != nil {
		t.Fatalf("control write 0x5b: %v", err)
	}
	back := make([]byte, len(ctrl))
	n, err := d.Control(0xc0, 0x5c, 0, 0, back)
	if err != nil {
		t.Fatalf("control read 0x5c: %v", err)
	}
	if !bytes.Equal(back[:n], ctrl) {
		t.Errorf("0x5c returned %d bytes % x..., want the %d written", n, back[:min(n, 8)], len(ctrl))
	}
	if _, err := d.Control(0x40, 0x5d, 0, 0, nil); err == nil {
		t.Error("vendor request 0x5d was accepted, want a stall")
	}
}

// TestComposite serves configs/composite.yaml (the kernel's ACM serial
// function beside a FunctionFS loopback with OS descriptors) and loops data
// through the vendor interface. (Comparing the descriptors with the file
// waits for host.Snapshot to accept strings that exist in one language
// only: ACM's are en-US only, and the 0x0407 request for them stalls.)
func TestComposite(t *testing.T) {
	guest.Require(t)
	if err := guest.LoadModule("usb_f_acm", ""); err != nil {
		t.Fatal(err)
	}
	// ACM's two interfaces come first.
	_, _, p, _ := serve(t, "composite.yaml", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sizes := []int{0, 1, p.MaxPacket, 65535, 65536, 65537, 1 << 20}
	if _, err := host.Loopback(ctx, p.Out, p.In, host.LoopbackOptions{Sizes: sizes, MaxPacket: p.MaxPacket,
		Pattern: host.Pattern{Kind: host.PatternRandom, Seed: 3}}); err != nil {
		t.Fatal(err)
	}
}
