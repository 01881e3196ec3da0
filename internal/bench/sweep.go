package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// SweepOptions is the throughput grid. Every implementation is measured at
// every request size, transfers in flight and direction (loopback: both
// directions only, as nothing comes back without OUT data).
type SweepOptions struct {
	Impls    []string
	Sizes    []int
	InFlight []int
	Dirs     []string
	Duration time.Duration // per point
	Queue    int           // gadget-side requests per endpoint
	UDC      string
	Hosttest string // path of the hosttest binary
	Gadgetd  string
	Dir      string    // scratch directory
	Log      io.Writer // one line per point
}

// QuickSweep and FullSweep are the grids of scripts/bench.sh and
// scripts/bench.sh --full: 96 points of 2 seconds and 192 of 1 second, each
// with hosttest's start (one to three seconds under emulation, depending on
// the host's load).
func QuickSweep() SweepOptions {
	return SweepOptions{
		Impls:    []string{KernelSourceSink, GadgetdSourceSink, KernelLoopback, GadgetdLoopback},
		Sizes:    []int{512, 4 << 10, 64 << 10, 1 << 20},
		InFlight: []int{1, 8, 32},
		Dirs:     []string{"in", "out", "both"},
		Duration: 2 * time.Second,
		Queue:    16,
	}
}

func FullSweep() SweepOptions {
	o := QuickSweep()
	o.Sizes = []int{512, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}
	o.InFlight = []int{1, 4, 8, 32}
	o.Duration = time.Second
	return o
}

// Sweep measures the grid. For each request size it sets up each
// implementation in turn (kernel first, then gadgetd, so the pair is
// measured close together in time) and runs hosttest bench at every
// transfers-in-flight and direction. A point or setup that fails is
// recorded with its error and the sweep goes on.
func Sweep(ctx context.Context, o SweepOptions) []Point {
	var points []Point
	for _, size := range o.Sizes {
		for _, impl := range o.Impls {
			dirs := o.Dirs
			if impl == KernelLoopback || impl == GadgetdLoopback {
				dirs = []string{"both"}
			}
			fail := func(err error) {
				for _, n := range o.InFlight {
					for _, d := range dirs {
						points = append(points, Point{Impl: impl, Dir: d, RequestSize: size, InFlight: n, Err: err.Error()})
					}
				}
			}
			serial := fmt.Sprintf("%s-%d", strings.ReplaceAll(impl, "-", ""), size)
			srv, err := Start(ctx, Setup{Impl: impl, RequestSize: size, Queue: o.Queue, UDC: o.UDC, Serial: serial, Gadgetd: o.Gadgetd, Dir: o.Dir})
			if err != nil {
				fmt.Fprintf(o.Log, "bench: %s %s: setup failed: %v\n", impl, SizeLabel(size), err)
				fail(err)
				continue
			}
			for _, n := range o.InFlight {
				for _, d := range dirs {
					p := measure(ctx, o, srv, Point{Impl: impl, Dir: d, RequestSize: size, InFlight: n})
					fmt.Fprintf(o.Log, "bench: %-18s %-4s %5s x%-2d %8.1f MB/s  gadget %5.2fs kworker %5.2fs host %5.2fs busy %5.2fs %s%s\n",
						p.Impl, p.Dir, SizeLabel(size), n, p.MBps(), p.GadgetCPU, p.KworkerCPU, p.HostCPU, p.BusyCPU, p.Err, p.CPUErr)
					points = append(points, p)
				}
			}
			if err := srv.Stop(); err != nil {
				fmt.Fprintf(o.Log, "bench: %s %s: teardown: %v\n", impl, SizeLabel(size), err)
			}
		}
	}
	return points
}

// hostResult is the part of `hosttest bench --json` used here
// (cmd/hosttest/README.md).
type hostResult struct {
	Seconds float64 `json:"seconds"`
	In      *struct {
		Bytes int64   `json:"bytes"`
		MBps  float64 `json:"mb_per_s"`
	} `json:"in"`
	Out *struct {
		Bytes int64   `json:"bytes"`
		MBps  float64 `json:"mb_per_s"`
	} `json:"out"`
}

// cpuSample is every CPU counter of a point at one instant.
type cpuSample struct {
	at                                     time.Time
	gadget, gadgetSys, host, kworker, busy float64
}

func sample(gadgetPID, hostPID int, kworkers []string) (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	var err error
	if gadgetPID > 0 {
		if s.gadget, s.gadgetSys, err = ProcTimes(gadgetPID); err != nil {
			return s, err
		}
	}
	if hostPID > 0 {
		if s.host, err = ProcCPU(hostPID); err != nil {
			return s, err
		}
	}
	s.kworker = KworkerCPU(kworkers)
	s.busy, err = BusyCPU()
	s.at = time.Now()
	return s, err
}

// sampleEvery is the sampling period of the CPU counters during a point.
const sampleEvery = 50 * time.Millisecond

// window returns the CPU seconds each counter used over a run of seconds,
// from the samples taken inside the timed run: hosttest's timed run is the
// last seconds before it exited at end, so samples in
// [end-0.95*seconds, end-50ms] see transfers only, not the start of libusb
// and the claim of the interface. The rates over that window are scaled to
// the whole run.
func window(samples []cpuSample, end time.Time, seconds float64) (cpuSample, error) {
	lo := end.Add(-time.Duration(0.95 * seconds * float64(time.Second)))
	hi := end.Add(-50 * time.Millisecond)
	var in []cpuSample
	for _, s := range samples {
		if !s.at.Before(lo) && !s.at.After(hi) {
			in = append(in, s)
		}
	}
	if len(in) < 2 {
		return cpuSample{}, fmt.Errorf("%d CPU samples inside the timed run of %.2fs: too short to measure", len(in), seconds)
	}
	a, b := in[0], in[len(in)-1]
	k := seconds / b.at.Sub(a.at).Seconds()
	return cpuSample{
		gadget:    (b.gadget - a.gadget) * k,
		gadgetSys: (b.gadgetSys - a.gadgetSys) * k,
		host:      (b.host - a.host) * k,
		kworker:   (b.kworker - a.kworker) * k,
		busy:      (b.busy - a.busy) * k,
	}, nil
}

// measure runs one hosttest bench against srv, sampling the CPU counters
// while it runs.
func measure(ctx context.Context, o SweepOptions, srv *Server, p Point) Point {
	args := []string{"bench", "--serial", srv.Serial, "--dir", p.Dir, "--size", strconv.Itoa(p.RequestSize),
		"--in-flight", strconv.Itoa(p.InFlight), "--duration", o.Duration.String(), "--json", "--progress=false",
		"--timeout", (o.Duration + 30*time.Second).String()}
	cmd := exec.CommandContext(ctx, o.Hosttest, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		p.Err = err.Error()
		return p
	}
	kworkers := KworkerStats()
	stop := make(chan struct{})
	sampled := make(chan []cpuSample)
	go func() {
		var ss []cpuSample
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				sampled <- ss
				return
			case <-t.C:
				if s, err := sample(srv.PID, cmd.Process.Pid, kworkers); err == nil {
					ss = append(ss, s)
				}
			}
		}
	}()
	err := cmd.Wait()
	end := time.Now()
	close(stop)
	samples := <-sampled
	if err != nil {
		p.Err = strings.TrimSpace(fmt.Sprintf("hosttest %s: %v: %s", strings.Join(args, " "), err, stderr.String()))
		return p
	}
	var r hostResult
	if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
		p.Err = fmt.Sprintf("hosttest bench --json: %v", err)
		return p
	}
	p.Seconds = r.Seconds
	if r.In != nil {
		p.InMBps, p.Bytes = r.In.MBps, p.Bytes+r.In.Bytes
	}
	if r.Out != nil {
		p.OutMBps, p.Bytes = r.Out.MBps, p.Bytes+r.Out.Bytes
	}
	cpu, err := window(samples, end, r.Seconds)
	if err != nil {
		p.CPUErr = err.Error()
	}
	p.GadgetCPU, p.GadgetSysCPU, p.HostCPU, p.KworkerCPU, p.BusyCPU = cpu.gadget, cpu.gadgetSys, cpu.host, cpu.kworker, cpu.busy
	if srv.PID > 0 {
		if p.GadgetHWMKiB, p.Threads, err = ProcStatus(srv.PID); err != nil {
			p.Err = err.Error()
		}
	}
	return p
}
