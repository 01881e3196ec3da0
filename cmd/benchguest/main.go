// Command benchguest runs gadgetkit's benchmarks inside the guest and turns
// their results into docs/benchmarks.md on the host; scripts/bench.sh
// drives both (make bench).
//
//	benchguest run --out DIR [--full]     in the guest, as root: results.json
//	benchguest report --run DIR ...       anywhere: every guest's results merged into the markdown and the SVG plot
//	benchguest hostload --node N --pipe 81:02 ...  the host peer of run's endpoint-pair scaling
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:          "benchguest",
		Short:        "gadgetd against the kernel's SourceSink and Loopback on dummy_hcd",
		SilenceUsage: true,
	}
	root.AddCommand(newRun(), newReport(), newHostLoad(), newAnchor())
	return root
}

func newRun() *cobra.Command {
	var (
		out, udc  string
		full      bool
		duration  time.Duration
		queue     int
		cancels   int
		rounds    int
		noSweep   bool
		sizes     string
		depths    string
		impls     []string
		sweepRnds int
		scale     bool
		noScale   bool
		noUT      bool
		noAnchor  bool
		utRounds  int
		utSizes   string
		utFlight  string
		cDepths   string
		profile   bool
		utMiB     int
		noCal     bool
		calReps   int
		calMiB    int
	)
	c := &cobra.Command{
		Use:   "run --out DIR",
		Short: "Measure everything in this guest (root, dummy_hcd loaded) and write DIR/results.json",
		Long: `run first calibrates what one zeroing pass and one copy pass over the data
cost this kernel at each request size (the copy-bound ceiling of docs/
benchmarks.md); then measures the kernel's SourceSink against gadgetd's
sourcesink with the kernel's usbtest as the host (tests 27 and 28, when the
usbtest module is loaded): 4K, 64K and 1M x 1, 8 and 32 in flight, 5
interleaved rounds, with the throughput anchor (anchor-sourcesink: the least
user space can do over f_fs) beside them unless --no-anchor, all bound at
once on their own UDCs and each point measured on the kernel's, then on
gadgetd's, then on the anchor's; then the same grid with hosttest
bench (libusb) as the host, every direction, one round; then times
cancellations through package ffs against the anchor and disconnects. --scale
adds 1, 4 and 15 bulk pairs on one function (or the most the UDC binds) and
one gadgetd per UDC on 1, 2 and 4 UDCs; --full the long hosttest grid (both
personalities, 6 sizes x 4 depths) and the scale measurements. gadgetd and
hosttest must be on PATH. Progress goes to stderr, one line per point.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out: required")
			}
			var err error
			sw := bench.QuickSweep()
			if full {
				sw = bench.FullSweep()
			}
			if c.Flags().Changed("duration") {
				sw.Duration = duration
			}
			if c.Flags().Changed("gadget-queue") {
				sw.Queue = queue
			}
			if c.Flags().Changed("rounds") {
				sw.Rounds = sweepRnds
			}
			if sizes != "" {
				if sw.Sizes, err = parseList(sizes); err != nil {
					return fmt.Errorf("--sizes %q: %v", sizes, err)
				}
			}
			if depths != "" {
				if sw.InFlight, err = parseList(depths); err != nil {
					return fmt.Errorf("--in-flight %q: %v", depths, err)
				}
			}
			for _, impl := range impls {
				if !slices.Contains(bench.AllImpls, impl) {
					return fmt.Errorf("--impl %q: want one of %s", impl, strings.Join(bench.AllImpls, ", "))
				}
			}
			if len(impls) > 0 {
				sw.Impls = impls
			}
			if noSweep {
				sw.Sizes = nil
			}
			if sw.Duration <= 0 || sw.Queue < 1 || cancels < 1 || rounds < 0 || sw.Rounds < 1 {
				return fmt.Errorf("--duration %v, --gadget-queue %d, --cancels %d, --rounds %d: must be positive; --disconnects %d: must not be negative",
					sw.Duration, sw.Queue, cancels, sw.Rounds, rounds)
			}
			if calReps < 1 || calMiB < 1 {
				return fmt.Errorf("--calibrate-reps %d, --calibrate-mib %d: must be positive", calReps, calMiB)
			}
			if utRounds < 1 {
				return fmt.Errorf("--usbtest-rounds %d: must be positive", utRounds)
			}
			if utMiB < 1 {
				return fmt.Errorf("--usbtest-mib %d: must be positive", utMiB)
			}
			usbtestSizes, usbtestFlight := []int{4 << 10, 64 << 10, 1 << 20}, []int{1, 8, 32}
			if full {
				usbtestSizes = []int{512, 4 << 10, 64 << 10, 1 << 20}
			}
			if noUT || noSweep {
				usbtestSizes = nil
			}
			if utSizes != "" {
				if usbtestSizes, err = parseList(utSizes); err != nil {
					return fmt.Errorf("--usbtest-sizes %q: %v", utSizes, err)
				}
			}
			if utFlight != "" {
				if usbtestFlight, err = parseList(utFlight); err != nil {
					return fmt.Errorf("--usbtest-in-flight %q: %v", utFlight, err)
				}
			}
			cancelDepths := []int{1, 8, 32}
			if cDepths != "" {
				if cancelDepths, err = parseList(cDepths); err != nil {
					return fmt.Errorf("--cancel-depths %q: %v", cDepths, err)
				}
			}
			hosttest, err := exec.LookPath("hosttest")
			if err != nil {
				return err
			}
			gadgetd, err := exec.LookPath("gadgetd")
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			scratch, err := os.MkdirTemp("", "bench")
			if err != nil {
				return err
			}
			defer os.RemoveAll(scratch)

			sw.UDC, sw.Hosttest, sw.Gadgetd, sw.Dir = udc, hosttest, gadgetd, scratch
			o := bench.Options{
				Sweep:  sw,
				Cancel: bench.CancelOptions{UDC: udc, Depths: cancelDepths, Cancels: cancels, Rounds: rounds},
				Scale: bench.ScaleOptions{Pairs: []int{1, 4, 15}, UDCs: []int{1, 2, 4}, RequestSize: 64 << 10, InFlight: 8,
					Duration: 3 * time.Second, Hosttest: hosttest, Gadgetd: gadgetd, Dir: scratch},
				Usbtest: bench.UsbtestOptions{Sizes: usbtestSizes, InFlight: usbtestFlight, Bytes: utMiB << 20, Rounds: utRounds,
					Anchor: !noAnchor, Queue: sw.Queue, UDC: udc, Gadgetd: gadgetd, Dir: scratch},
				CalibrateReps:  calReps,
				CalibrateBytes: int64(calMiB) << 20,
				Log:            c.ErrOrStderr(),
			}
			if !noCal {
				for _, s := range slices.Concat(usbtestSizes, sw.Sizes) {
					if !slices.Contains(o.CalibrateSizes, s) {
						o.CalibrateSizes = append(o.CalibrateSizes, s)
					}
				}
				slices.Sort(o.CalibrateSizes)
			}
			if profile {
				strace, err := exec.LookPath("strace")
				if err != nil {
					return fmt.Errorf("--profile: %w", err)
				}
				perf, err := exec.LookPath("perf")
				if err != nil {
					return fmt.Errorf("--profile: %w", err)
				}
				o.Usbtest.Profile = &bench.ProfileOptions{Strace: strace, Perf: perf, Dir: out}
			}
			if !(scale || full) || noScale {
				o.Scale.Pairs, o.Scale.UDCs = nil, nil
			}
			r := bench.Measure(c.Context(), o)
			r.Full = full
			b, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(out, "results.json"), append(b, '\n'), 0o644)
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "directory for results.json")
	f.StringVar(&udc, "udc", "dummy_udc.0", "UDC of the cancellation measurements (the throughput points use every UDC, one per function)")
	f.BoolVar(&full, "full", false, "the long hosttest grid (both personalities, 6 sizes x 4 depths), usbtest at 512 too, and --scale")
	f.DurationVar(&duration, "duration", 0, "seconds per hosttest point (default 1s)")
	f.IntVar(&queue, "gadget-queue", 0, "gadget-side requests per endpoint (default 16)")
	f.IntVar(&sweepRnds, "rounds", 1, "interleaved rounds of the hosttest points (kernel, then gadgetd, at each point)")
	f.IntVar(&cancels, "cancels", 3000, "cancels per queue depth")
	f.IntVar(&rounds, "disconnects", 20, "disconnect rounds")
	f.BoolVar(&noSweep, "no-sweep", false, "skip the throughput points (hosttest and usbtest)")
	f.BoolVar(&scale, "scale", false, "measure endpoint pairs on one function and gadgetd on several UDCs")
	f.BoolVar(&noScale, "no-scale", false, "skip the scale measurements even with --full")
	f.BoolVar(&noUT, "no-usbtest", false, "skip the sourcesink points with the kernel's usbtest as the host")
	f.BoolVar(&noAnchor, "no-anchor", false, "leave the throughput anchor (anchor-sourcesink) out of the usbtest points")
	f.StringVar(&sizes, "sizes", "", "request sizes of the hosttest points, e.g. 4K,64K,1M (default: the grid's)")
	f.StringVar(&depths, "in-flight", "", "transfers in flight of the hosttest points, e.g. 1,8,32 (default: the grid's)")
	f.IntVar(&utRounds, "usbtest-rounds", 5, "interleaved rounds of the usbtest points (kernel, then gadgetd, at each point)")
	f.StringVar(&utSizes, "usbtest-sizes", "", "request sizes of the usbtest points, e.g. 64K (default 4K,64K,1M; given, they run even with --no-sweep)")
	f.StringVar(&utFlight, "usbtest-in-flight", "", "transfers in flight of the usbtest points (default 1,8,32)")
	f.IntVar(&utMiB, "usbtest-mib", 16, "MiB per usbtest point at least; a point also moves at least 8 times the gadget side's queue of one endpoint (--gadget-queue requests), at most 1024 transfers, at least one of each in flight")
	f.StringVar(&cDepths, "cancel-depths", "", "requests in flight of the cancel measurements (default 1,8,32)")
	f.BoolVar(&noCal, "no-calibrate", false, "skip the per-pass calibration (no copy-bound ceiling: the IN goal then counts against 0.9x the kernel)")
	f.IntVar(&calReps, "calibrate-reps", 5, "repetitions of each calibrated pass (the median is used)")
	f.IntVar(&calMiB, "calibrate-mib", 8, "MiB per calibrated pass kind and repetition")
	f.BoolVar(&profile, "profile", false, "one more usbtest round with gadgetd under strace -c -f and the guest under perf record -a (both on PATH); raw outputs in --out")
	f.StringSliceVar(&impls, "impl", nil, "implementations of the hosttest points (default: kernel-sourcesink,gadgetd-sourcesink; --full adds the loopbacks)")
	return c
}

func newReport() *cobra.Command {
	var runDir, results, hostFile, md, svg string
	c := &cobra.Command{
		Use:   "report (--run DIR | --results FILE [--host FILE]) --md FILE [--svg FILE]",
		Short: "Write the markdown report and the SVG plot from every guest's results.json",
		Long: `report merges a make bench run: --run DIR holds run.json (the host's CPU, the
command, the whole run's wall time) and one directory per guest, in name
order, each with the results.json that benchguest run wrote and the
host.json that scripts/bench.sh wrote beside it (kernel choice, extra
command line, host load before and after, wall time). --results FILE
reports a single guest's results instead (--host: its host.json).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if (runDir == "") == (results == "") || md == "" {
				return fmt.Errorf("--md and one of --run or --results are required")
			}
			var rep bench.Report
			if runDir != "" {
				var err error
				if rep, err = loadRunDir(runDir); err != nil {
					return err
				}
			} else {
				var g bench.Guest
				g.Run = new(bench.Run)
				if err := readJSON(results, g.Run); err != nil {
					return err
				}
				if hostFile != "" {
					if err := readJSON(hostFile, &g.Host); err != nil {
						return err
					}
				}
				rep = bench.Report{Command: g.Host.Command, CPU: g.Host.CPU, Seconds: g.Host.Seconds, Guests: []bench.Guest{g}}
			}
			if svg != "" {
				rel, err := filepath.Rel(filepath.Dir(md), svg)
				if err != nil {
					return err
				}
				rep.SVG = rel
				if err := writeFile(svg, func(w io.Writer) error { return bench.WriteReportSVG(w, rep) }); err != nil {
					return err
				}
			}
			return writeFile(md, func(w io.Writer) error { return bench.WriteReport(w, rep) })
		},
	}
	f := c.Flags()
	f.StringVar(&runDir, "run", "", "directory of a make bench run: run.json and one directory per guest")
	f.StringVar(&results, "results", "", "results.json of a single guest (benchguest run)")
	f.StringVar(&hostFile, "host", "", "host.json of that guest (scripts/bench.sh writes it)")
	f.StringVar(&md, "md", "", "markdown file to write")
	f.StringVar(&svg, "svg", "", "SVG plot to write, linked from the markdown")
	return c
}

// runFile is DIR/run.json of a make bench run.
type runFile struct {
	CPU     string  `json:"cpu"`
	Command string  `json:"command"`
	Seconds float64 `json:"seconds"`
}

// loadRunDir reads run.json and every guest directory of dir (one holding
// a results.json), in name order.
func loadRunDir(dir string) (bench.Report, error) {
	var rf runFile
	if err := readJSON(filepath.Join(dir, "run.json"), &rf); err != nil {
		return bench.Report{}, err
	}
	rep := bench.Report{Command: rf.Command, CPU: rf.CPU, Seconds: rf.Seconds}
	found, err := filepath.Glob(filepath.Join(dir, "*", "results.json"))
	if err != nil {
		return rep, err
	}
	slices.Sort(found)
	for _, res := range found {
		g := bench.Guest{Run: new(bench.Run)}
		if err := readJSON(res, g.Run); err != nil {
			return rep, err
		}
		if err := readJSON(filepath.Join(filepath.Dir(res), "host.json"), &g.Host); err != nil {
			return rep, err
		}
		rep.Guests = append(rep.Guests, g)
	}
	if len(rep.Guests) == 0 {
		return rep, fmt.Errorf("%s: no guest directory with a results.json", dir)
	}
	return rep, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeFile writes path through a temporary file, so a failed write leaves
// the old one.
func writeFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bench-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// parseList parses comma-separated positive counts with optional K or M
// (binary) suffixes.
func parseList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		mult := 1
		switch {
		case strings.HasSuffix(f, "K"):
			mult, f = 1<<10, strings.TrimSuffix(f, "K")
		case strings.HasSuffix(f, "M"):
			mult, f = 1<<20, strings.TrimSuffix(f, "M")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

func newHostLoad() *cobra.Command {
	var (
		node     string
		pipes    []string
		size     int
		inFlight int
		duration time.Duration
	)
	c := &cobra.Command{
		Use:   "hostload --node /dev/bus/usb/BBB/DDD --pipe IN:OUT ...",
		Short: "Drive several bulk pairs of one device at once through usbfs and print MB/s as JSON",
		Long: `hostload is the host peer that run starts for its endpoint-pair scaling:
--in-flight synchronous transfers of --size bytes per direction on every
--pipe (host endpoint addresses in hex, e.g. 81:01) for --duration, all from
one usbfs file so that no second process resets the configuration.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if node == "" || len(pipes) == 0 {
				return fmt.Errorf("--node and at least one --pipe are required")
			}
			if size < 1 || inFlight < 1 || duration <= 0 {
				return fmt.Errorf("--size %d, --in-flight %d, --duration %v: all must be positive", size, inFlight, duration)
			}
			var ps []bench.Pipe
			for _, p := range pipes {
				var in, out uint8
				if _, err := fmt.Sscanf(p, "%x:%x", &in, &out); err != nil || in&0x80 == 0 || out&0x80 != 0 {
					return fmt.Errorf("--pipe %q: want IN:OUT endpoint addresses in hex, IN with bit 7 set (81:01)", p)
				}
				ps = append(ps, bench.Pipe{In: in, Out: out})
			}
			r, err := bench.HostLoad(c.Context(), node, ps, size, inFlight, duration)
			if err != nil {
				return err
			}
			return json.NewEncoder(c.OutOrStdout()).Encode(r)
		},
	}
	f := c.Flags()
	f.StringVar(&node, "node", "", "usbfs device node")
	f.StringArrayVar(&pipes, "pipe", nil, "bulk pair IN:OUT, host addresses in hex; repeatable")
	f.IntVar(&size, "size", 64<<10, "bytes per transfer")
	f.IntVar(&inFlight, "in-flight", 8, "transfers in flight per direction per pipe")
	f.DurationVar(&duration, "duration", 3*time.Second, "how long to run")
	return c
}

func newAnchor() *cobra.Command {
	var (
		mount       string
		size, queue int
	)
	c := &cobra.Command{
		Use:   "anchor-sourcesink --mount DIR",
		Short: "Serve the throughput anchor on a FunctionFS mount (started by run)",
		Long: `anchor-sourcesink is the floor under gadgetd's sourcesink that run measures
beside it with usbtest: on one OS thread, --queue requests of --request-size
bytes per endpoint (bulk IN zeros, bulk OUT not checked), each resubmitted as
soon as io_getevents reaps it, with no eventfd, runtime poller or goroutine
hand-off. It writes the descriptors to the mount (one vendor interface, bulk
IN and OUT), prints "ready" when the UDC may be bound, and serves until
SIGTERM or SIGINT.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if mount == "" {
				return fmt.Errorf("--mount is required")
			}
			if size < 1 || queue < 1 {
				return fmt.Errorf("--request-size %d, --queue %d: both must be positive", size, queue)
			}
			return bench.ServeAnchor(c.Context(), mount, size, queue, c.OutOrStdout())
		},
	}
	f := c.Flags()
	f.StringVar(&mount, "mount", "", "FunctionFS mount of the function")
	f.IntVar(&size, "request-size", 64<<10, "bytes per request")
	f.IntVar(&queue, "queue", 16, "requests in flight per endpoint")
	return c
}
