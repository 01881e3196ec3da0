package bench

import (
	"cmp"
	"fmt"
	"slices"
)

// The throughput goals of issue 15, per point of the grid and direction.
const (
	// MinRounds is how many interleaved rounds a throughput goal needs.
	MinRounds = 5
	// OutRatio is gadgetd's OUT goal: at least the kernel's MB/s.
	OutRatio = 1.0
	// InRatio is gadgetd's IN goal: 0.9x the kernel's MB/s or 0.9x the
	// copy-bound ceiling, whichever is lower.
	InRatio = 0.9
	// HostBound is the host peer's share of a vCPU from which a hosttest
	// point is taken to be paced by the host, not the gadget.
	HostBound = 0.8
)

// Pass is one pass over the data that a side of the comparison makes per
// byte moved, as the kernel's code does it (drivers/usb/gadget/function/
// f_fs.c, f_sourcesink.c, drivers/usb/gadget/udc/dummy_hcd.c).
type Pass struct {
	// Kind is "copy" (rep movsb: memcpy, copy_from_iter, copy_to_iter),
	// "zero" (rep stosb: init_on_alloc's zeroing, memset) or "check" (a
	// read-only compare, not calibrated and not counted).
	Kind  string
	Where string
	// InitOnAlloc marks the pass that only an init_on_alloc kernel makes.
	InitOnAlloc bool
}

// Passes lists the passes of impl (KernelSourceSink or GadgetdSourceSink)
// in direction dir ("in" or "out", the host's view) on the gadget's side
// and in dummy_hcd; the host's own work (usbtest's) is the same for both
// and left out.
func Passes(impl, dir string) []Pass {
	dummy := Pass{Kind: "copy", Where: "dummy_hcd: dummy_perform_transfer's memcpy between the request's and the URB's buffer (in dummy_timer)"}
	ffsAlloc := Pass{Kind: "zero", Where: "f_fs: ffs_epfile_io's kmalloc of the bounce buffer, zeroed by init_on_alloc (clear_page_erms / memset)", InitOnAlloc: true}
	switch {
	case impl == KernelSourceSink && dir == "in":
		// source_sink_start_ep fills each request once (reinit_write_data);
		// source_sink_complete requeues an IN request untouched.
		return []Pass{dummy}
	case impl == GadgetdSourceSink && dir == "in":
		// gadgetd fills each buffer once per pattern; io_submit copies it
		// into a fresh bounce buffer at every request.
		return []Pass{
			{Kind: "copy", Where: "f_fs: ffs_epfile_io's copy_from_iter from gadgetd's buffer into the bounce buffer (inside io_submit)"},
			ffsAlloc,
			dummy,
		}
	case impl == KernelSourceSink && dir == "out":
		return []Pass{
			dummy,
			{Kind: "check", Where: "f_sourcesink: check_read_data's byte loop (pattern 0)"},
			{Kind: "zero", Where: "f_sourcesink: source_sink_complete's memset(req->buf, 0x55) before the requeue"},
		}
	case impl == GadgetdSourceSink && dir == "out":
		return []Pass{
			ffsAlloc,
			dummy,
			{Kind: "copy", Where: "f_fs: ffs_user_copy_worker's copy_to_iter from the bounce buffer into gadgetd's buffer (on f_fs's workqueue)"},
			{Kind: "check", Where: "gadgetd: checkPattern's compare per packet (bytes.Equal)"},
		}
	}
	return nil
}

// PassCount is how many counted passes of each kind a side makes.
func PassCount(ps []Pass, initOnAlloc bool) (copies, zeros int) {
	for _, p := range ps {
		if p.InitOnAlloc && !initOnAlloc {
			continue
		}
		switch p.Kind {
		case "copy":
			copies++
		case "zero":
			zeros++
		}
	}
	return copies, zeros
}

// Ceiling is the copy-bound ceiling of gadgetd over the kernel in
// direction dir: the kernel's cost per byte over gadgetd's, each the sum
// of its counted passes at the calibrated cost; 0 without a calibration.
func Ceiling(dir string, initOnAlloc bool, pc PassCost) float64 {
	if pc.Err != "" || pc.CopyNs <= 0 || pc.ZeroNs <= 0 {
		return 0
	}
	cost := func(impl string) float64 {
		c, z := PassCount(Passes(impl, dir), initOnAlloc)
		return float64(c)*pc.CopyNs + float64(z)*pc.ZeroNs
	}
	return div(cost(KernelSourceSink), cost(GadgetdSourceSink))
}

// Threshold is the ratio gadgetd must reach in dir given the ceiling
// (0: not calibrated, so the IN goal is 0.9x the kernel): OUT 1.0, IN 0.9 x
// min(1, ceiling), both the lower of the two.
func Threshold(dir string, ceiling float64) float64 {
	in := InRatio
	if ceiling > 0 {
		in = InRatio * min(1, ceiling)
	}
	switch dir {
	case "out":
		return OutRatio
	case "in":
		return in
	}
	return min(in, OutRatio)
}

// Verdict states.
const (
	Met        = "met"
	NotMet     = "not met"
	NotCounted = "not counted"
)

// Verdict is one throughput goal row: the medians of the rounds in which
// both the kernel's and gadgetd's point succeeded, the threshold it is held
// to and whether it counts.
type Verdict struct {
	Ratio            // medians: Got is gadgetd's, Ref the kernel's
	Host      string // "usbtest" or "hosttest"
	Rounds    int    // rounds with both points measured
	Ceiling   float64
	Threshold float64
	// HostShare is the larger of the two sides' median share of a vCPU
	// used by the host peer (hosttest only; -1: not sampled).
	HostShare float64
	State     string
	Why       string // why it is not counted
}

// Value is gadgetd's MB/s over the kernel's.
func (v Verdict) Value() float64 { return v.MBps() }

// Goals judges every point of the usbtest and the hosttest grids of r
// (sourcesinks only), in grid order.
func Goals(r *Run) []Verdict {
	ioa := r.InitOnAlloc == nil || r.InitOnAlloc.On
	cal := map[int]PassCost{}
	for _, c := range r.Calibration {
		cal[c.Size] = c
	}
	var out []Verdict
	for _, src := range []struct {
		host   string
		points []Point
	}{{"usbtest", r.Usbtest}, {"hosttest", r.Points}} {
		for _, g := range pairedRounds(src.points) {
			ceiling := 0.0
			if g.dir != "both" {
				ceiling = Ceiling(g.dir, ioa, cal[g.size])
			} else if pc, ok := cal[g.size]; ok {
				ceiling = Ceiling("in", ioa, pc) // both is held to the IN threshold
			}
			v := Verdict{Host: src.host, Rounds: g.rounds, Ceiling: ceiling, Threshold: Threshold(g.dir, ceiling), HostShare: -1}
			med := MedianPoints(g.points)
			for _, m := range med {
				if m.Impl == KernelSourceSink {
					v.Ref = m
				} else {
					v.Got = m
				}
			}
			if src.host == "hosttest" {
				k, gd := hostShareOf(g.points, KernelSourceSink), hostShareOf(g.points, GadgetdSourceSink)
				v.HostShare = max(k, gd)
				if k < 0 || gd < 0 {
					v.HostShare = -1
				}
			}
			judge(&v)
			out = append(out, v)
		}
	}
	return out
}

func judge(v *Verdict) {
	var why []string
	if v.Host == "hosttest" {
		switch {
		case v.HostShare < 0:
			why = append(why, "host peer's CPU not sampled")
		case v.HostShare >= HostBound:
			why = append(why, fmt.Sprintf("host-bound: host peer at %.0f%% of a vCPU", 100*v.HostShare))
		}
	}
	if v.Rounds < MinRounds {
		why = append(why, fmt.Sprintf("%d round(s), want >= %d", v.Rounds, MinRounds))
	}
	switch {
	case len(why) > 0:
		v.State, v.Why = NotCounted, joinWhy(why)
	case v.Value() >= v.Threshold:
		v.State = Met
	default:
		v.State = NotMet
	}
}

func joinWhy(w []string) string {
	s := w[0]
	for _, x := range w[1:] {
		s += "; " + x
	}
	return s
}

// pointGroup is one direction, size and depth with the points of the
// rounds in which both sourcesinks succeeded.
type pointGroup struct {
	dir          string
	size, flight int
	rounds       int
	points       []Point
}

func pairedRounds(points []Point) []pointGroup {
	type key struct {
		dir          string
		size, flight int
	}
	type rk struct {
		key
		round int
	}
	byRound := map[rk]map[string]Point{}
	var keys []key
	for _, p := range points {
		if p.Err != "" || (p.Impl != KernelSourceSink && p.Impl != GadgetdSourceSink) {
			continue
		}
		k := key{p.Dir, p.RequestSize, p.InFlight}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		r := rk{k, p.Round}
		if byRound[r] == nil {
			byRound[r] = map[string]Point{}
		}
		byRound[r][p.Impl] = p
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(dirOrder(a.dir), dirOrder(b.dir)), cmp.Compare(a.size, b.size), cmp.Compare(a.flight, b.flight))
	})
	var rks []rk
	for r := range byRound {
		rks = append(rks, r)
	}
	slices.SortFunc(rks, func(a, b rk) int { return cmp.Compare(a.round, b.round) })
	var out []pointGroup
	for _, k := range keys {
		g := pointGroup{dir: k.dir, size: k.size, flight: k.flight}
		for _, r := range rks {
			if r.key != k {
				continue
			}
			pair := byRound[r]
			kp, ok1 := pair[KernelSourceSink]
			gp, ok2 := pair[GadgetdSourceSink]
			if ok1 && ok2 {
				g.rounds++
				g.points = append(g.points, kp, gp)
			}
		}
		if g.rounds > 0 {
			out = append(out, g)
		}
	}
	return out
}

// hostShareOf is the median share of a vCPU the host peer used in impl's
// points, -1 when any was not sampled.
func hostShareOf(points []Point, impl string) float64 {
	var v []float64
	for _, p := range points {
		if p.Impl != impl {
			continue
		}
		if p.CPUErr != "" || p.Seconds <= 0 {
			return -1
		}
		v = append(v, p.HostCPU/p.Seconds)
	}
	if len(v) == 0 {
		return -1
	}
	return median(v)
}

// CancelVerdict is one cancellation goal row.
type CancelVerdict struct {
	Goal    string
	Depth   int
	Engine  CancelResult
	Anchor  CancelResult // zero when the goal has no anchor
	Value   float64      // the engine's p99 over the anchor's, or the p99 in us
	Limit   float64
	State   string
	Measure string
}

// Cancel goals.
const (
	CancelVsAnchor = "engine p99 <= 2x the anchor's p99, same run"
	CancelUnder1ms = "engine p99 < 1 ms at depth 1"
)

// CancelGoals judges the engine's cancel-to-completion p99 against the
// anchor's at every depth, and against 1 ms at depth 1.
func CancelGoals(r *Run) []CancelVerdict {
	var out []CancelVerdict
	for _, c := range r.Cancel {
		if c.Path == "anchor" || c.Latency.Count == 0 {
			continue
		}
		if a, ok := anchorOf(r.Cancel, c.Depth); ok && a.Latency.Count > 0 {
			v := CancelVerdict{Goal: CancelVsAnchor, Depth: c.Depth, Engine: c, Anchor: a, Value: div(c.Latency.P99, a.Latency.P99), Limit: GoalAnchorRatio}
			v.State = state(c.Latency.P99 <= GoalAnchorRatio*a.Latency.P99)
			out = append(out, v)
		}
		if c.Depth == 1 {
			v := CancelVerdict{Goal: CancelUnder1ms, Depth: 1, Engine: c, Value: c.Latency.P99, Limit: GoalP99us}
			v.State = state(c.Latency.P99 < GoalP99us)
			out = append(out, v)
		}
	}
	return out
}

func state(ok bool) string {
	if ok {
		return Met
	}
	return NotMet
}
