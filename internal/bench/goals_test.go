package bench

import (
	"math"
	"strings"
	"testing"
)

// cal is a calibration in which a copy costs 2 ns/B and a zeroing 1 ns/B.
var cal = PassCost{Size: 64 << 10, Reps: 5, Bytes: 8 << 20, CopyNs: 2, ZeroNs: 1, CopyBest: 2, ZeroBest: 1}

func TestCeilingCountsThePassesOfEachSide(t *testing.T) {
	for _, c := range []struct {
		dir  string
		ioa  bool
		want float64
	}{
		// IN: kernel 1 copy (2); gadgetd 2 copies + 1 zero (5), or 2 copies (4).
		{"in", true, 2.0 / 5},
		{"in", false, 2.0 / 4},
		// OUT: kernel 1 copy + memset (3); gadgetd 2 copies + 1 zero (5), or 4.
		{"out", true, 3.0 / 5},
		{"out", false, 3.0 / 4},
	} {
		if got := Ceiling(c.dir, c.ioa, cal); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Ceiling(%s, init_on_alloc %v) = %v, want %v", c.dir, c.ioa, got, c.want)
		}
	}
	if got := Ceiling("in", true, PassCost{Size: 4096, Err: "read /dev/zero: EIO"}); got != 0 {
		t.Errorf("Ceiling of a failed calibration = %v, want 0", got)
	}
	// IN is held to 0.9 x the ceiling when that is lower than 0.9, OUT to 1.
	if got := Threshold("in", 0.4); math.Abs(got-0.36) > 1e-9 {
		t.Errorf("Threshold(in, 0.4) = %v, want 0.36", got)
	}
	if got := Threshold("in", 1.5); got != InRatio {
		t.Errorf("Threshold(in, 1.5) = %v, want %v", got, InRatio)
	}
	if got := Threshold("in", 0); got != InRatio {
		t.Errorf("Threshold(in, uncalibrated) = %v, want %v", got, InRatio)
	}
	if got := Threshold("out", 0.4); got != OutRatio {
		t.Errorf("Threshold(out) = %v, want %v", got, OutRatio)
	}
}

// rounds makes n interleaved rounds of one point, kernel at k MB/s and
// gadgetd at g, host peer CPU host seconds per second.
func rounds(host string, dir string, size, flight, n int, k, g, hostCPU float64) []Point {
	var out []Point
	for r := range n {
		for _, impl := range []struct {
			name string
			mb   float64
		}{{KernelSourceSink, k}, {GadgetdSourceSink, g}} {
			// Vary every round around the median so that it is the
			// median that is judged, not the first round.
			mb := impl.mb * (1 + 0.1*float64(r-n/2))
			p := Point{Impl: impl.name, Dir: dir, RequestSize: size, InFlight: flight, Round: r, Seconds: 1, Bytes: int64(mb * 1e6), HostCPU: hostCPU}
			if dir == "in" {
				p.InMBps = mb
			} else {
				p.OutMBps = mb
			}
			out = append(out, p)
		}
	}
	return out
}

func find(t *testing.T, vs []Verdict, host, dir string, size, flight int) Verdict {
	t.Helper()
	for _, v := range vs {
		if v.Host == host && v.Got.Dir == dir && v.Got.RequestSize == size && v.Got.InFlight == flight {
			return v
		}
	}
	t.Fatalf("no verdict for %s %s %d x%d in %+v", host, dir, size, flight, vs)
	return Verdict{}
}

func TestGoals(t *testing.T) {
	r := &Run{InitOnAlloc: &InitOnAlloc{On: true, Known: true}, Calibration: []PassCost{cal}}
	// IN 64K x8: ceiling 0.4, threshold 0.36: 40 of 100 MB/s passes.
	r.Usbtest = append(r.Usbtest, rounds("usbtest", "in", 64<<10, 8, 5, 100, 40, 0)...)
	// IN 64K x1: 30 of 100 fails the same threshold.
	r.Usbtest = append(r.Usbtest, rounds("usbtest", "in", 64<<10, 1, 5, 100, 30, 0)...)
	// OUT 64K x8: 0.99x fails 1.0.
	r.Usbtest = append(r.Usbtest, rounds("usbtest", "out", 64<<10, 8, 5, 50, 49.5, 0)...)
	// OUT 64K x32: only 4 rounds where both succeeded: not counted.
	out32 := rounds("usbtest", "out", 64<<10, 32, 5, 50, 60, 0)
	out32[1].Err = "usbtest test 27: timeout" // round 0's gadgetd point
	r.Usbtest = append(r.Usbtest, out32...)
	// hosttest both 64K x8: 5 rounds but the host peer at 95% of a vCPU.
	r.Points = append(r.Points, rounds("hosttest", "both", 64<<10, 8, 5, 10, 20, 0.95)...)
	// hosttest out 64K x8: a quiet host peer (50%), gadgetd 1.2x.
	r.Points = append(r.Points, rounds("hosttest", "out", 64<<10, 8, 5, 10, 12, 0.5)...)

	vs := Goals(r)
	if len(vs) != 6 {
		t.Fatalf("%d verdicts, want 6: %+v", len(vs), vs)
	}
	pass := find(t, vs, "usbtest", "in", 64<<10, 8)
	if pass.State != Met || math.Abs(pass.Value()-0.4) > 1e-9 || math.Abs(pass.Threshold-0.36) > 1e-9 || pass.Rounds != 5 {
		t.Errorf("IN 64K x8: %s, ratio %v, threshold %v, %d rounds; want met, 0.4, 0.36, 5", pass.State, pass.Value(), pass.Threshold, pass.Rounds)
	}
	if v := find(t, vs, "usbtest", "in", 64<<10, 1); v.State != NotMet {
		t.Errorf("IN 64K x1 at 0.30x against 0.36: %s, want %s", v.State, NotMet)
	}
	if v := find(t, vs, "usbtest", "out", 64<<10, 8); v.State != NotMet || v.Threshold != 1 {
		t.Errorf("OUT 64K x8 at 0.99x: %s against %v, want %s against 1", v.State, v.Threshold, NotMet)
	}
	if v := find(t, vs, "usbtest", "out", 64<<10, 32); v.State != NotCounted || v.Rounds != 4 || !strings.Contains(v.Why, "4 round(s)") {
		t.Errorf("OUT 64K x32 with a failed round: %s (%s), %d rounds; want not counted for 4 rounds", v.State, v.Why, v.Rounds)
	}
	if v := find(t, vs, "hosttest", "both", 64<<10, 8); v.State != NotCounted || !strings.Contains(v.Why, "host-bound: host peer at 95% of a vCPU") {
		t.Errorf("hosttest both at a host peer of 95%%: %s (%s); want host-bound, not counted", v.State, v.Why)
	}
	if v := find(t, vs, "hosttest", "out", 64<<10, 8); v.State != Met || math.Abs(v.HostShare-0.5) > 1e-9 {
		t.Errorf("hosttest out at a host peer of 50%%: %s (%s), host share %v; want met", v.State, v.Why, v.HostShare)
	}
	// Grid order: usbtest before hosttest, in before out, depth ascending.
	if vs[0].Got.Dir != "in" || vs[0].Got.InFlight != 1 || vs[len(vs)-1].Host != "hosttest" {
		t.Errorf("verdicts out of order: first %s x%d, last %s", vs[0].Got.Dir, vs[0].Got.InFlight, vs[len(vs)-1].Host)
	}
}

func TestGoalsWithoutCalibrationHoldINTo0_9(t *testing.T) {
	r := &Run{Usbtest: rounds("usbtest", "in", 4096, 8, 5, 100, 80, 0)}
	v := Goals(r)[0]
	if v.Ceiling != 0 || v.Threshold != InRatio || v.State != NotMet {
		t.Errorf("uncalibrated IN at 0.8x: ceiling %v threshold %v %s; want 0, 0.9, not met", v.Ceiling, v.Threshold, v.State)
	}
}

func TestCancelGoals(t *testing.T) {
	lat := func(p99 float64) Latency { return Latency{Count: 3000, P50: 100, P99: p99, Max: 2 * p99} }
	r := &Run{Cancel: []CancelResult{
		{Path: "anchor", Depth: 1, Latency: lat(400)},
		{Path: "engine", Depth: 1, Latency: lat(700)}, // 1.75x, < 1 ms: both met
		{Path: "anchor", Depth: 32, Latency: lat(1000)},
		{Path: "engine", Depth: 32, Latency: lat(2500)}, // 2.5x: not met
	}}
	got := map[string]string{}
	for _, v := range CancelGoals(r) {
		got[v.Goal+" "+SizeLabel(v.Depth)] = v.State
	}
	want := map[string]string{CancelVsAnchor + " 1": Met, CancelUnder1ms + " 1": Met, CancelVsAnchor + " 32": NotMet}
	if len(got) != len(want) {
		t.Fatalf("cancel verdicts %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	r.Cancel[1].Latency = lat(1000) // exactly 1 ms is not under it
	for _, v := range CancelGoals(r) {
		if v.Goal == CancelUnder1ms && v.State != NotMet {
			t.Errorf("p99 of 1000 us: %s, want not met", v.State)
		}
	}
}
