package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gadgetkit/gadgetkit/ffs"
)

// ScaleOptions sets up Scale.
type ScaleOptions struct {
	Pairs       []int // bulk pairs on one function, e.g. 1, 4, 15
	UDCs        []int // gadgetd instances, one per dummy UDC
	RequestSize int
	InFlight    int // per direction per pipe, host and gadget side
	Duration    time.Duration
	Hosttest    string
	Gadgetd     string
	Dir         string
	Log         func(format string, a ...any)
}

// serve keeps every request of ep in flight until ctx ends: a source on
// IN, a sink on OUT.
func serve(ctx context.Context, ep *ffs.EP) error {
	var reqs []*ffs.Request
	defer func() {
		for _, r := range reqs {
			r.Release()
		}
	}()
	for range ep.QueueDepth() {
		r, err := ep.Get(ctx)
		if err != nil {
			return err
		}
		reqs = append(reqs, r)
		if err := r.Submit(ep.RequestSize()); err != nil {
			return err
		}
	}
	for i := 0; ; i = (i + 1) % len(reqs) {
		if _, err := reqs[i].Wait(ctx); err != nil {
			for j, r := range reqs {
				if j != i {
					r.Wait(ctx)
				}
			}
			return err
		}
		if err := reqs[i].Submit(ep.RequestSize()); err != nil {
			return err
		}
	}
}

// reapers counts the goroutines of this process running ffs's reaper.
func reapers() int {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "ffs.(*engine).reap(") {
			n++
		}
	}
	return n
}

// hostBench runs one hosttest bench --dir both on interface iface of the
// device serial and returns MB/s over both directions.
func hostBench(ctx context.Context, o ScaleOptions, serial string, iface int) (float64, error) {
	args := []string{"bench", "--serial", serial, "--interface", strconv.Itoa(iface), "--dir", "both",
		"--size", strconv.Itoa(o.RequestSize), "--in-flight", strconv.Itoa(o.InFlight),
		"--duration", o.Duration.String(), "--json", "--progress=false", "--timeout", (o.Duration + 60*time.Second).String()}
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, o.Hosttest, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("hosttest %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	var r hostResult
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, err
	}
	var mb float64
	if r.In != nil {
		mb += r.In.MBps
	}
	if r.Out != nil {
		mb += r.Out.MBps
	}
	return mb, nil
}

// Scale measures aggregate throughput with N bulk pairs on one function
// served by this process, then with one gadgetd per UDC.
func Scale(ctx context.Context, o ScaleOptions, udcs []string) []ScaleResult {
	var out []ScaleResult
	prev := 0
	for _, n := range o.Pairs {
		r := scalePairs(ctx, o, udcs[0], n)
		o.Log("bench: scale pairs %d: %.1f MB/s, %d goroutines (%d reapers), %d threads %s", n, r.MBps, r.Goroutines, r.Reapers, r.Threads, r.Err)
		out = append(out, r)
		// dummy_hcd has fewer bulk endpoints than 15 pairs need: measure
		// the most it takes instead.
		for m := n - 1; r.bindFailed && m > prev; m-- {
			r = scalePairs(ctx, o, udcs[0], m)
			if !r.bindFailed {
				o.Log("bench: scale pairs %d (the most the UDC binds): %.1f MB/s, %d goroutines (%d reapers), %d threads %s", m, r.MBps, r.Goroutines, r.Reapers, r.Threads, r.Err)
				out = append(out, r)
			}
		}
		prev = n
	}
	for _, n := range o.UDCs {
		r := ScaleResult{Setup: "udcs", Count: n, RequestSize: o.RequestSize, InFlight: o.InFlight}
		if n > len(udcs) {
			r.Err = fmt.Sprintf("%d UDCs wanted, the guest has %d (vmtest run --udcs)", n, len(udcs))
		} else {
			r = scaleUDCs(ctx, o, udcs[:n])
		}
		o.Log("bench: scale udcs %d: %.1f MB/s, %d threads %s", n, r.MBps, r.Threads, r.Err)
		out = append(out, r)
	}
	return out
}

func scalePairs(ctx context.Context, o ScaleOptions, udc string, n int) (res ScaleResult) {
	res = ScaleResult{Setup: "pairs", Count: n, RequestSize: o.RequestSize, InFlight: o.InFlight}
	rg, err := newRig(ctx, fmt.Sprintf("pairs%d", n), udc, n, o.InFlight, o.RequestSize)
	if err != nil {
		res.Err = err.Error()
		res.bindFailed = errors.Is(err, errBind)
		return res
	}
	defer func() {
		if err := rg.close(); err != nil && res.Err == "" {
			res.Err = err.Error()
		}
	}()
	sctx, stop := context.WithCancel(ctx)
	var served sync.WaitGroup
	for _, ep := range rg.f.EPs() {
		served.Go(func() { serve(sctx, ep) })
	}
	defer func() { stop(); served.Wait() }()

	args := []string{"hostload", "--size", strconv.Itoa(o.RequestSize), "--in-flight", strconv.Itoa(o.InFlight), "--duration", o.Duration.String()}
	dir := HostDevice(rg.serial)
	node, err := guest.DevNode(dir)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	args = append(args, "--node", node)
	for i := range n {
		in, err1 := rg.in[i].HostAddress()
		out, err2 := rg.out[i].HostAddress()
		if err := errors.Join(err1, err2); err != nil {
			res.Err = err.Error()
			return res
		}
		args = append(args, "--pipe", fmt.Sprintf("%02x:%02x", uint8(in), uint8(out)))
	}
	self := os.Getpid()
	exe, err := os.Executable()
	if err != nil {
		res.Err = err.Error()
		return res
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	before, _ := ProcCPU(self)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		res.Err = err.Error()
		return res
	}
	// Sample mid-run, while every pipe is busy.
	time.Sleep(o.Duration / 2)
	res.Goroutines, res.Reapers = runtime.NumGoroutine(), reapers()
	_, res.Threads, _ = ProcStatus(self)
	err = cmd.Wait()
	res.Seconds = time.Since(start).Seconds()
	after, _ := ProcCPU(self)
	res.GadgetCPU = after - before
	res.HWMKiB, _, _ = ProcStatus(self)
	if err != nil {
		res.Err = fmt.Sprintf("benchguest %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		return res
	}
	var hl HostLoadResult
	if err := json.Unmarshal([]byte(stdout.String()), &hl); err != nil {
		res.Err = fmt.Sprintf("benchguest hostload: %v", err)
		return res
	}
	res.MBps = hl.MBps
	return res
}

func scaleUDCs(ctx context.Context, o ScaleOptions, udcs []string) ScaleResult {
	res := ScaleResult{Setup: "udcs", Count: len(udcs), RequestSize: o.RequestSize, InFlight: o.InFlight}
	var srvs []*Server
	defer func() {
		for _, s := range srvs {
			s.Stop()
		}
	}()
	for i, udc := range udcs {
		s, err := Start(ctx, Setup{Impl: GadgetdSourceSink, RequestSize: o.RequestSize, Queue: o.InFlight, UDC: udc,
			Serial: fmt.Sprintf("udcs%d-%d", len(udcs), i), Gadgetd: o.Gadgetd, Dir: o.Dir})
		if err != nil {
			res.Err = err.Error()
			return res
		}
		srvs = append(srvs, s)
	}
	cpu := func() float64 {
		var t float64
		for _, s := range srvs {
			c, _ := ProcCPU(s.PID)
			t += c
		}
		return t
	}
	before := cpu()
	start := time.Now()
	mbs := make([]float64, len(srvs))
	errs := make([]error, len(srvs))
	var hosts sync.WaitGroup
	for i, s := range srvs {
		hosts.Go(func() { mbs[i], errs[i] = hostBench(ctx, o, s.Serial, 0) })
	}
	time.Sleep(o.Duration / 2)
	for _, s := range srvs {
		_, th, _ := ProcStatus(s.PID)
		res.Threads += th
	}
	hosts.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.GadgetCPU = cpu() - before
	for i, s := range srvs {
		hwm, _, _ := ProcStatus(s.PID)
		res.HWMKiB += hwm
		res.MBps += mbs[i]
	}
	if err := errors.Join(errs...); err != nil {
		res.Err = err.Error()
	}
	return res
}
