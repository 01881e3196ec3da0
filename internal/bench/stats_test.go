package bench

import (
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A comm with a space and a parenthesis: fields are counted from the
	// last ')'. utime 250 and stime 50 ticks: 3 seconds.
	line := "1234 (kworker/0:1H) evil)) S 2 0 0 0 -1 69238880 0 0 0 0 250 50 0 0 0 -20 1 0 12 0 0 18446744073709551615\n"
	comm, cpu, sys, err := parseStat(line)
	if err != nil || comm != "kworker/0:1H) evil)" || cpu != 3 || sys != 0.5 {
		t.Fatalf("parseStat = %q, %v, %v, %v; want \"kworker/0:1H) evil)\", 3, 0.5, nil", comm, cpu, sys, err)
	}
	for _, bad := range []string{"", "1234 no parens", "1 (x) S 1 2 3", "1 (x) S 2 0 0 0 -1 0 0 0 0 0 u s 0"} {
		if _, _, _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestParseBusy(t *testing.T) {
	// user 100 nice 20 system 30 idle 1000 iowait 500 irq 4 softirq 6 steal 40 guest 7 guest_nice 0:
	// busy = 100+20+30+4+6+40 = 200 ticks = 2 s (guest time is already in user).
	got, err := parseBusy("cpu  100 20 30 1000 500 4 6 40 7 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n")
	if err != nil || got != 2 {
		t.Fatalf("parseBusy = %v, %v; want 2", got, err)
	}
	if _, err := parseBusy("cpu0 1 2 3 4 5 6 7 8\n"); err == nil {
		t.Error("parseBusy accepted a per-CPU line as the total")
	}
}

func TestParseStatus(t *testing.T) {
	s := "Name:\tgadgetd\nVmPeak:\t  800000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t   12000 kB\nThreads:\t7\n"
	hwm, th, err := parseStatus(s)
	if err != nil || hwm != 12345 || th != 7 {
		t.Fatalf("parseStatus = %d, %d, %v; want 12345, 7", hwm, th, err)
	}
	if _, _, err := parseStatus("Name:\tkthreadd\nThreads:\t1\n"); err == nil {
		t.Error("parseStatus accepted a status without VmHWM (a kernel thread)")
	}
}

func TestWindowExcludesStartAndScales(t *testing.T) {
	end := time.Unix(1000, 0)
	at := func(s float64) time.Time { return end.Add(time.Duration(s * float64(time.Second))) }
	// A 2 s run that ended at end; hosttest's start (before end-2s) burnt
	// 5 s of host CPU that must not count. Inside the run the host uses
	// 0.5 CPU and the gadget 0.25.
	samples := []cpuSample{
		{at: at(-3), host: 0},
		{at: at(-2.5), host: 5},
		{at: at(-1.8), host: 5.0, gadget: 1},
		{at: at(-1.0), host: 5.4, gadget: 1.2},
		{at: at(-0.2), host: 5.8, gadget: 1.4, busy: 9},
		{at: at(-0.02), host: 100, gadget: 100}, // exit: outside the window
	}
	// Only the samples at -1.8 to -0.2 count (the window is -1.9 to -0.05):
	// the first at -1.8 has busy 0.
	w, err := window(samples, end, 2)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if !near(w.host, 1) || !near(w.gadget, 0.5) || !near(w.busy, 9*2/1.6) {
		t.Fatalf("window = host %v gadget %v busy %v; want 1, 0.5, %v", w.host, w.gadget, w.busy, 9*2/1.6)
	}
	if _, err := window(samples[:2], end, 2); err == nil {
		t.Error("window with no sample inside the run gave a result")
	}
}
