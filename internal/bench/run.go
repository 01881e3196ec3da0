package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/usbtest"
)

// Options is one whole guest run.
type Options struct {
	// CalibrateSizes are the request sizes of the pass calibration
	// (none: not calibrated); CalibrateReps and CalibrateBytes its
	// repetitions and bytes per pass kind and repetition.
	CalibrateSizes []int
	CalibrateReps  int
	CalibrateBytes int64
	Sweep          SweepOptions
	Usbtest        UsbtestOptions
	Cancel         CancelOptions
	Scale          ScaleOptions
	Log            io.Writer
}

// Measure runs the sweep, the cancellation measurements and the scale
// measurements, in that order, and describes the guest.
func Measure(ctx context.Context, o Options) *Run {
	r := &Run{
		Date:        time.Now().UTC(),
		Kernel:      kernelRelease(),
		CPU:         cpuModel(),
		CPUs:        runtime.NumCPU(),
		Seconds:     o.Sweep.Duration.Seconds(),
		GadgetQueue: o.Sweep.Queue,
		SweepRounds: max(o.Sweep.Rounds, 1),
	}
	start := time.Now()
	r.LoadAvg[0] = loadAvg()
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		r.Cmdline = strings.TrimSpace(string(b))
	}
	ioa := DetectInitOnAlloc()
	r.InitOnAlloc = &ioa
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, format+"\n", a...) }
	o.Sweep.Log, o.Scale.Log = o.Log, logf

	// usbfs caps the memory of all URBs in flight at 16 MiB by default:
	// 1 MiB x 8 in both directions needs more.
	if err := os.WriteFile(usbfsMemory, []byte("0"), 0); err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("lifting the usbfs memory limit: %v (large points may fail with ENOMEM)", err))
	}
	if len(o.CalibrateSizes) > 0 {
		r.Calibration = Calibrate(o.CalibrateSizes, o.CalibrateReps, o.CalibrateBytes)
		for _, c := range r.Calibration {
			logf("bench: calibration %5s: zero %.3f ns/B (best %.3f), copy %.3f ns/B (best %.3f), %d reps of %d bytes %s",
				SizeLabel(c.Size), c.ZeroNs, c.ZeroBest, c.CopyNs, c.CopyBest, c.Reps, c.Bytes, c.Err)
		}
	}
	udcs := UDCs()
	r.UDCs = len(udcs)
	o.Sweep.UDCs, o.Usbtest.UDCs = udcs, udcs
	r.Points = Sweep(ctx, o.Sweep)
	if len(o.Usbtest.Sizes) > 0 {
		o.Usbtest.Log = o.Log
		if _, err := os.Stat(usbtest.DriverDir); err != nil {
			r.Errors = append(r.Errors, "usbtest reference: the usbtest module is not loaded (vmtest run --module usbtest)")
		} else {
			r.Usbtest, r.Profile = UsbtestSweep(ctx, o.Usbtest)
			r.UsbtestRounds = max(o.Usbtest.Rounds, 1)
		}
	}
	if len(o.Cancel.Depths) > 0 {
		var err error
		r.Cancel, r.Disconnect, err = Cancellation(ctx, o.Cancel)
		if err != nil {
			r.Errors = append(r.Errors, "cancellation: "+err.Error())
		}
		for _, c := range r.Cancel {
			logf("bench: cancel depth %d %s: p50 %.0f us p99 %.0f us max %.0f us %v %v load %s", c.Depth, c.Path, c.Latency.P50, c.Latency.P99, c.Latency.Max, c.Outcomes, c.IOCancel, loadAvg())
		}
		for _, d := range r.Disconnect {
			logf("bench: disconnect with %d pending: p50 %.0f us p99 %.0f us max %.0f us %v", d.Pending, d.Latency.P50, d.Latency.P99, d.Latency.Max, d.Outcomes)
		}
	}
	if len(o.Scale.Pairs)+len(o.Scale.UDCs) > 0 {
		if len(udcs) == 0 {
			r.Errors = append(r.Errors, "scale: no UDC")
		} else {
			r.Scale = Scale(ctx, o.Scale, udcs)
		}
	}
	r.LoadAvg[1] = loadAvg()
	r.Elapsed = time.Since(start).Seconds()
	return r
}

// usbfsMemory is usbcore's limit on the memory of usbfs URBs in flight, in
// MiB; 0 lifts it.
const usbfsMemory = "/sys/module/usbcore/parameters/usbfs_memory_mb"

// UDCs lists the dummy UDCs in number order.
func UDCs() []string {
	var out []string
	for i := 0; ; i++ {
		name := fmt.Sprintf("dummy_udc.%d", i)
		if _, err := os.Stat("/sys/class/udc/" + name); err != nil {
			return out
		}
		out = append(out, name)
	}
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAvg is the 1, 5 and 15 minute load average from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
