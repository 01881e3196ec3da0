package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
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
	// Rounds repeats every point, kernel first, then gadgetd (0 and 1:
	// one round).
	Rounds int
	// UDCs are the UDCs the implementations of one request size are
	// bound to at once, one each; UDC alone means one at a time.
	UDCs     []string
	UDC      string
	Hosttest string // path of the hosttest binary
	Gadgetd  string
	Dir      string    // scratch directory
	Log      io.Writer // one line per point
}

// AllImpls are the implementations the sweep knows.
var AllImpls = []string{KernelSourceSink, GadgetdSourceSink, KernelLoopback, GadgetdLoopback}

// QuickSweep is the grid of `benchguest run` (make bench): the sourcesinks
// at the goal grid, 4K, 64K and 1M x 1, 8 and 32 in flight, every
// direction, 1 s per point. FullSweep (--full) is the old long grid: both
// personalities, 6 request sizes x 4 depths.
func QuickSweep() SweepOptions {
	return SweepOptions{
		Impls:    []string{KernelSourceSink, GadgetdSourceSink},
		Sizes:    []int{4 << 10, 64 << 10, 1 << 20},
		InFlight: []int{1, 8, 32},
		Dirs:     []string{"in", "out", "both"},
		Duration: time.Second,
		Queue:    16,
		Rounds:   1,
	}
}

func FullSweep() SweepOptions {
	o := QuickSweep()
	o.Impls = AllImpls
	o.Sizes = []int{512, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}
	o.InFlight = []int{1, 4, 8, 32}
	return o
}

// Sweep measures the grid. For each request size it sets up the
// implementations at once, each on a UDC of its own (as many at a time as
// there are UDCs; an idle gadget costs nothing, dummy_hcd's timer runs only
// while URBs are queued), then measures every point once per round, each
// implementation in turn at the same point (kernel first), so that a pair
// is measured seconds apart. A point or setup that fails is recorded with
// its error and the sweep goes on.
func Sweep(ctx context.Context, o SweepOptions) []Point {
	udcs := o.UDCs
	if len(udcs) == 0 {
		udcs = []string{o.UDC}
	}
	var points []Point
	for _, size := range o.Sizes {
		for batch := range slices.Chunk(o.Impls, len(udcs)) {
			points = append(points, sweepBatch(ctx, o, size, batch, udcs)...)
		}
	}
	return points
}

func dirsOf(o SweepOptions, impl string) []string {
	if impl == KernelLoopback || impl == GadgetdLoopback {
		return []string{"both"}
	}
	return o.Dirs
}

func sweepBatch(ctx context.Context, o SweepOptions, size int, impls, udcs []string) []Point {
	var points []Point
	srvs := make(map[string]*Server)
	for i, impl := range impls {
		serial := fmt.Sprintf("%s-%d", strings.ReplaceAll(impl, "-", ""), size)
		srv, err := Start(ctx, Setup{Impl: impl, RequestSize: size, Queue: o.Queue, UDC: udcs[i], Serial: serial, Gadgetd: o.Gadgetd, Dir: o.Dir})
		if err != nil {
			fmt.Fprintf(o.Log, "bench: %s %s: setup failed: %v\n", impl, SizeLabel(size), err)
			for round := range max(o.Rounds, 1) {
				for _, n := range o.InFlight {
					for _, d := range dirsOf(o, impl) {
						points = append(points, Point{Impl: impl, Dir: d, RequestSize: size, InFlight: n, Round: round, Err: err.Error()})
					}
				}
			}
			continue
		}
		srvs[impl] = srv
	}
	for round := range max(o.Rounds, 1) {
		for _, n := range o.InFlight {
			for _, d := range o.Dirs {
				for _, impl := range impls {
					srv := srvs[impl]
					if srv == nil || !slices.Contains(dirsOf(o, impl), d) {
						continue
					}
					p := measure(ctx, o, srv, Point{Impl: impl, Dir: d, RequestSize: size, InFlight: n, Round: round})
					fmt.Fprintf(o.Log, "bench: round %d %-18s %-4s %5s x%-2d %8.1f MB/s  gadget %5.2fs kworker %5.2fs host %5.2fs busy %5.2fs %s%s\n",
						round, p.Impl, p.Dir, SizeLabel(size), n, p.MBps(), p.GadgetCPU, p.KworkerCPU, p.HostCPU, p.BusyCPU, p.Err, p.CPUErr)
					points = append(points, p)
				}
			}
		}
	}
	for _, impl := range impls {
		if srv := srvs[impl]; srv != nil {
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
