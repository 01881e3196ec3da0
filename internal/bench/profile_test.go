package bench

import (
	"maps"
	"testing"
)

func TestParseStraceCounts(t *testing.T) {
	// strace -c -f output as strace 6.1 writes it.
	const out = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 62.10    0.120000          58      2048           io_submit
 20.00    0.040000          19      2040       998 read
 10.00    0.020000           9      2100           epoll_pwait
  7.90    0.015000           7      2000           futex
------ ----------- ----------- --------- --------- ----------------
100.00    0.195000          23      8188       998 total
`
	got := parseStraceCounts(out)
	want := map[string]int64{"io_submit": 2048, "read": 2040, "read errors": 998, "epoll_pwait": 2100, "futex": 2000}
	if !maps.Equal(got, want) {
		t.Fatalf("parseStraceCounts:\n got %v\nwant %v", got, want)
	}
}

func TestParsePerfReport(t *testing.T) {
	const out = `# Samples: 12K of event 'cpu-clock:pppH'
#
# Overhead  Command          Symbol
# ........  ...............  .........................
#
    31.25%  kworker/u4:2     [k] memcpy_orig
    12.50%  gadgetd          [k] copy_user_generic_string
     1.10%  gadgetd          [.] runtime.futex
`
	got := parsePerfReport(out)
	want := []PerfSymbol{
		{31.25, "kworker/u4:2", "[k] memcpy_orig"},
		{12.5, "gadgetd", "[k] copy_user_generic_string"},
		{1.1, "gadgetd", "[.] runtime.futex"},
	}
	if len(got) != len(want) {
		t.Fatalf("parsePerfReport: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestParseCtxSwitches(t *testing.T) {
	const status = "Name:\tgadgetd\nThreads:\t1\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t7\n"
	if got := parseCtxSwitches(status); got != 157 {
		t.Fatalf("parseCtxSwitches = %d, want 157", got)
	}
}

// Medians are taken per figure: the round with the median MB/s need not be
// the one with the median CPU per MiB.
func TestMedianPoints(t *testing.T) {
	mk := func(impl string, round int, mbps, cpu float64) Point {
		return Point{Impl: impl, Dir: "in", RequestSize: 65536, InFlight: 8, Round: round, InMBps: mbps, Bytes: 100 << 20, GadgetCPU: cpu}
	}
	pts := []Point{
		mk(GadgetdSourceSink, 0, 100, 3), mk(GadgetdSourceSink, 1, 300, 1), mk(GadgetdSourceSink, 2, 200, 5),
		{Impl: GadgetdSourceSink, Dir: "in", RequestSize: 65536, InFlight: 8, Round: 3, Err: "failed"},
		mk(KernelSourceSink, 0, 50, 0),
	}
	got := MedianPoints(pts)
	if len(got) != 2 {
		t.Fatalf("MedianPoints: %d points, want 2: %v", len(got), got)
	}
	g := got[0]
	if g.InMBps != 200 || g.Bytes != 1<<20 {
		t.Errorf("median MB/s %v over %d bytes, want 200 over 1 MiB", g.InMBps, g.Bytes)
	}
	// 3 s over 100 MiB is 30 ms/MiB, the median of 10, 30 and 50.
	if ms := g.PerMiB(g.GadgetCPU); ms < 29.999 || ms > 30.001 {
		t.Errorf("median gadget CPU %.3f ms/MiB, want 30", ms)
	}
	if got[1].InMBps != 50 || got[1].Bytes != 100<<20 || got[1].Impl != KernelSourceSink {
		t.Errorf("a single round changed: %v, want %v", got[1], pts[4])
	}
}
