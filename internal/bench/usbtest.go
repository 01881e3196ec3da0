package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/usbtest"
)

// UsbtestOptions is the second reference: the kernel's own usbtest driver
// as the host (tests 27, OUT, and 28, IN: queued bulk), against the
// kernel's SourceSink and gadgetd's sourcesink with gadget zero's IDs.
type UsbtestOptions struct {
	Sizes    []int
	InFlight []int
	// Bytes is what one point moves at least; see usbtestTransfers.
	Bytes int
	// Rounds repeats the whole grid, each round setting up and measuring
	// every implementation in turn, so that the machine's load changes
	// fall on both alike (0 and 1: one round).
	Rounds int
	// Profile, when set, adds a round after the measured ones with
	// gadgetd under strace -c, and one with the whole guest under perf
	// record; their points are in Run.Profile, not in the measured rounds,
	// as tracing slows the gadget down.
	Profile *ProfileOptions
	Queue   int
	// Anchor adds the throughput anchor (AnchorSourceSink) to every
	// point: the floor of user space over f_fs.
	Anchor bool
	// UDCs: the two implementations of a size are bound at once, one
	// per UDC; UDC alone: one after the other.
	UDCs    []string
	UDC     string
	Gadgetd string
	Dir     string
	Log     io.Writer
}

// UsbtestSweep measures every size and in-flight count with usbtest. For
// each size the kernel's SourceSink and gadgetd's sourcesink (and the
// anchor, with Anchor) are set up at once, each on its own UDC (too few
// UDCs: in turn), and each round measures every point on the kernel's
// function, then at once on gadgetd's (then on the anchor's). The host
// side runs in the kernel, so the host's CPU is in BusyCPU and HostCPU
// stays 0.
func UsbtestSweep(ctx context.Context, o UsbtestOptions) (points, profiled []Point) {
	udcs := o.UDCs
	if len(udcs) == 0 {
		udcs = []string{o.UDC}
	}
	impls := []string{KernelSourceSink, GadgetdSourceSink}
	if o.Anchor {
		impls = append(impls, AnchorSourceSink)
	}
	for _, size := range o.Sizes {
		for batch := range slices.Chunk(impls, len(udcs)) {
			p, pr := usbtestSize(ctx, o, size, batch, udcs)
			points, profiled = append(points, p...), append(profiled, pr...)
		}
	}
	return points, profiled
}

// usbtestGadget is one implementation set up for usbtest.
type usbtestGadget struct {
	srv  *Server
	conn *usbtest.Conn
}

// usbtestSize sets up impls at one size and measures every round, then
// the profiled rounds.
func usbtestSize(ctx context.Context, o UsbtestOptions, size int, impls, udcs []string) (points, profiled []Point) {
	rounds := max(o.Rounds, 1)
	gs := make(map[string]usbtestGadget)
	defer func() {
		for _, impl := range impls {
			g, ok := gs[impl]
			if !ok {
				continue
			}
			g.conn.Close()
			if err := g.srv.Stop(); err != nil {
				fmt.Fprintf(o.Log, "bench: usbtest %s %s: teardown: %v\n", impl, SizeLabel(size), err)
			}
		}
	}()
	for i, impl := range impls {
		g, err := usbtestSetup(ctx, o, impl, size, udcs[i])
		if err != nil {
			fmt.Fprintf(o.Log, "bench: usbtest %s %s: %v\n", impl, SizeLabel(size), err)
			for round := range rounds {
				for _, n := range o.InFlight {
					for _, d := range []string{"out", "in"} {
						points = append(points, Point{Impl: impl, Dir: d, RequestSize: size, InFlight: n, Round: round, Err: err.Error()})
					}
				}
			}
			continue
		}
		gs[impl] = g
	}
	round := func(round int, prof *profiler) []Point {
		var pts []Point
		for _, n := range o.InFlight {
			for _, d := range []string{"out", "in"} {
				for _, impl := range impls {
					g, ok := gs[impl]
					if !ok {
						continue
					}
					p := usbtestPoint(ctx, g.conn, g.srv, Point{Impl: impl, Dir: d, RequestSize: size, InFlight: n, Round: round}, usbtestTransfers(o.Bytes, size, n, o.Queue), prof)
					fmt.Fprintf(o.Log, "bench: usbtest round %d %-18s %-4s %5s x%-2d %8.1f MB/s  gadget %5.2fs kworker %5.2fs busy %5.2fs load %s %s\n",
						round, p.Impl, p.Dir, SizeLabel(size), n, p.MBps(), p.GadgetCPU, p.KworkerCPU, p.BusyCPU, loadAvg(), p.Err)
					pts = append(pts, p)
				}
			}
		}
		return pts
	}
	for r := range rounds {
		points = append(points, round(r, nil)...)
	}
	if o.Profile != nil {
		// One round per tracer: strace stops gadgetd at every system
		// call, which would skew perf's samples towards it.
		next := rounds
		if o.Profile.Strace != "" {
			profiled = append(profiled, round(next, &profiler{o: ProfileOptions{Strace: o.Profile.Strace, Dir: o.Profile.Dir}})...)
			next++
		}
		if o.Profile.Perf != "" {
			profiled = append(profiled, round(next, &profiler{o: ProfileOptions{Perf: o.Profile.Perf, Dir: o.Profile.Dir}})...)
		}
	}
	return points, profiled
}

// usbtestSetup starts impl at size on udc with gadget zero's IDs and waits
// for usbtest to claim it.
func usbtestSetup(ctx context.Context, o UsbtestOptions, impl string, size int, udc string) (usbtestGadget, error) {
	serial := fmt.Sprintf("ut%s-%d", impl[:1], size)
	srv, err := Start(ctx, Setup{Impl: impl, RequestSize: size, Queue: o.Queue, UDC: udc, Serial: serial,
		Gadgetd: o.Gadgetd, Dir: o.Dir, GadgetZero: true})
	if err != nil {
		return usbtestGadget{}, fmt.Errorf("setup failed: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	dev, err := usbtest.Wait(wctx, func(d usbtest.Device) bool { return d.Serial == serial })
	cancel()
	var conn *usbtest.Conn
	if err == nil {
		conn, err = usbtest.Open(dev)
	}
	if err != nil {
		srv.Stop()
		return usbtestGadget{}, fmt.Errorf("usbtest did not claim the gadget: %w", err)
	}
	return usbtestGadget{srv: srv, conn: conn}, nil
}

// maxUsbtestTransfers bounds one usbtest point: the ioctl cannot be
// interrupted, and small requests must stay at seconds.
const maxUsbtestTransfers = 1024

// queueMultiple is how many times what the gadget side queues on one
// endpoint a point moves at least. usbtest starts its clock right after the
// SET_INTERFACE it sends before every test: the kernel's SourceSink queues
// its requests inside that request (set_alt), before the clock, while f_fs
// only posts ENABLE there, so a FunctionFS function refills its whole queue
// (both endpoints: a kmalloc, zeroed with init_on_alloc, and for IN a copy,
// per request) inside the timed window. At 1M x 16 requests per endpoint
// that is 32 MiB of the kernel's work, four times an 8 MiB point: the point
// would time the refill, not the stream. Eight queues' worth keeps the
// refill to a small share of the window.
const queueMultiple = 8

// usbtestTransfers is how many transfers of size one point makes: bytes'
// worth, at least queueMultiple times the gadget side's queue of depth
// requests per endpoint and at least one of each of the inFlight, at most
// maxUsbtestTransfers (but never fewer than inFlight).
func usbtestTransfers(bytes, size, inFlight, depth int) int {
	n := max(bytes/size, queueMultiple*depth)
	n = min(n, maxUsbtestTransfers)
	return max(n, inFlight)
}

// usbtestPoint runs test 27 (out) or 28 (in) once; CPU counters are read
// just before and after the ioctl, which has no start-up cost to exclude.
func usbtestPoint(ctx context.Context, c *usbtest.Conn, srv *Server, p Point, transfers int, prof *profiler) Point {
	test := 27
	if p.Dir == "in" {
		test = 28
	}
	// Each iteration of tests 27 and 28 is InFlight transfers.
	iters := max(transfers/p.InFlight, 1)
	kworkers := KworkerStats()
	var stopProf func() error
	if prof != nil {
		var err error
		if stopProf, err = prof.start(&p, srv.PID); err != nil {
			p.Err = err.Error()
			return p
		}
	}
	before, err := sample(srv.PID, 0, kworkers)
	if err != nil {
		p.Err = err.Error()
		return p
	}
	sw0 := CtxSwitches(srv.PID)
	r, err := c.Run(ctx, usbtest.Params{Test: test, Iterations: uint32(iters), Length: uint32(p.RequestSize), SGLen: uint32(p.InFlight)})
	after, serr := sample(srv.PID, 0, kworkers)
	p.GadgetCtxSwitches = CtxSwitches(srv.PID) - sw0
	if stopProf != nil {
		if perr := stopProf(); perr != nil && serr == nil {
			serr = perr
		}
	}
	switch {
	case err != nil:
		p.Err = err.Error()
		return p
	case r.Status != usbtest.Passed:
		p.Err = fmt.Sprintf("usbtest test %d: %s: %v", test, r.Status, r.Err)
		return p
	case serr != nil:
		p.Err = serr.Error()
		return p
	}
	p.Seconds = r.Duration.Seconds()
	p.Bytes = int64(r.Bytes)
	if p.Dir == "in" {
		p.InMBps = r.MBps()
	} else {
		p.OutMBps = r.MBps()
	}
	p.GadgetCPU = after.gadget - before.gadget
	p.GadgetSysCPU = after.gadgetSys - before.gadgetSys
	p.KworkerCPU = after.kworker - before.kworker
	p.BusyCPU = after.busy - before.busy
	if srv.PID > 0 {
		if p.GadgetHWMKiB, p.Threads, err = ProcStatus(srv.PID); err != nil {
			p.Err = err.Error()
		}
	}
	return p
}
