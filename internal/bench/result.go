package bench

import (
	"time"

	"github.com/gadgetkit/gadgetkit/internal/latency"
)

// Run is everything one guest run measured; results.json holds one.
type Run struct {
	Date    time.Time `json:"date"`
	Kernel  string    `json:"kernel"`   // uname -r of the guest
	CPU     string    `json:"cpu"`      // model name from the guest's /proc/cpuinfo
	CPUs    int       `json:"cpus"`     // online CPUs of the guest
	Full    bool      `json:"full"`     // the --full sweep
	Seconds float64   `json:"duration"` // seconds per throughput point
	// GadgetQueue is the gadget-side queue depth of every function
	// (bulk_qlen, queue_depth); the gadget-side request size is the
	// point's request size.
	GadgetQueue int `json:"gadget_queue"`
	// LoadAvg is the guest's /proc/loadavg at the start and the end.
	LoadAvg [2]string `json:"load_avg"`
	// Cmdline is the guest kernel's command line (/proc/cmdline).
	Cmdline string `json:"cmdline,omitempty"`
	// InitOnAlloc says whether the kernel zeroes every allocation, which
	// adds a pass over the data to each f_fs request (goals.go).
	InitOnAlloc *InitOnAlloc `json:"init_on_alloc,omitempty"`
	// Calibration is the cost of one zeroing and one copy pass per byte at
	// each request size, measured in this run before the points.
	Calibration []PassCost `json:"calibration,omitempty"`
	// UDCs is how many dummy UDCs the guest had; the throughput points
	// bind the kernel's and gadgetd's function at once when there are two.
	UDCs int `json:"udcs,omitempty"`
	// SweepRounds is how many rounds Points holds.
	SweepRounds int `json:"sweep_rounds,omitempty"`
	// Seconds of the guest's run from Measure's start to its end.
	Elapsed float64 `json:"elapsed_s,omitempty"`

	Points []Point `json:"points"`
	// Usbtest are the sourcesink points with the kernel's usbtest driver
	// as the host (tests 27 and 28) instead of hosttest.
	Usbtest []Point `json:"usbtest,omitempty"`
	// UsbtestRounds is how many interleaved rounds Usbtest holds.
	UsbtestRounds int `json:"usbtest_rounds,omitempty"`
	// Profile are usbtest points measured once more under strace and perf.
	Profile    []Point            `json:"profile,omitempty"`
	Cancel     []CancelResult     `json:"cancel,omitempty"`
	Disconnect []DisconnectResult `json:"disconnect,omitempty"`
	Scale      []ScaleResult      `json:"scale,omitempty"`
	Errors     []string           `json:"errors,omitempty"` // parts that could not be measured, and why
}

// Implementations measured; kernel ones are the reference of the gadgetd
// one with the same personality.
const (
	KernelSourceSink  = "kernel-sourcesink"
	GadgetdSourceSink = "gadgetd-sourcesink"
	KernelLoopback    = "kernel-loopback"
	GadgetdLoopback   = "gadgetd-loopback"
	// AnchorSourceSink is the throughput floor of user space over f_fs
	// (anchorss.go), measured beside the two sourcesinks with usbtest.
	AnchorSourceSink = "anchor-sourcesink"
)

// Reference returns the kernel implementation gadgetd's impl is compared
// with, or "" when impl is itself a reference.
func Reference(impl string) string {
	switch impl {
	case GadgetdSourceSink:
		return KernelSourceSink
	case GadgetdLoopback:
		return KernelLoopback
	}
	return ""
}

// Point is one throughput measurement: one implementation, direction,
// request size and number of transfers in flight.
type Point struct {
	Impl        string  `json:"impl"`
	Dir         string  `json:"dir"` // in, out or both (host's view)
	RequestSize int     `json:"request_size"`
	InFlight    int     `json:"in_flight"`
	Round       int     `json:"round,omitempty"` // of interleaved rounds, from 0
	Seconds     float64 `json:"seconds"`
	InMBps      float64 `json:"in_mb_per_s"`
	OutMBps     float64 `json:"out_mb_per_s"`
	Bytes       int64   `json:"bytes"` // both directions
	// CPU seconds over the point: the gadget process (0 for the kernel's
	// functions, which have none), the host peer, the kworker threads and
	// the whole guest (every CPU's non-idle time).
	GadgetCPU float64 `json:"gadget_cpu_s"`
	// GadgetSysCPU is the kernel-mode part of GadgetCPU: io_submit, which
	// copies IN data into f_fs's bounce buffer, and the other syscalls.
	GadgetSysCPU float64 `json:"gadget_sys_cpu_s"`
	HostCPU      float64 `json:"host_cpu_s"`
	KworkerCPU   float64 `json:"kworker_cpu_s"`
	BusyCPU      float64 `json:"busy_cpu_s"`
	// Gadget process after the point: peak RSS (VmHWM) and OS threads.
	GadgetHWMKiB int64 `json:"gadget_hwm_kib,omitempty"`
	Threads      int   `json:"gadget_threads,omitempty"`
	// GadgetCtxSwitches counts the context switches (voluntary and not)
	// of every thread of the gadget process over the point (usbtest).
	GadgetCtxSwitches int64 `json:"gadget_ctx_switches,omitempty"`
	// Syscalls counts the gadget process's system calls by name over the
	// point (strace -c -f), in profiled points only.
	Syscalls map[string]int64 `json:"syscalls,omitempty"`
	// PerfTop is the guest's hottest symbols over the point (perf record
	// -a), in profiled points only.
	PerfTop []PerfSymbol `json:"perf_top,omitempty"`
	Err     string       `json:"error,omitempty"`
	// CPUErr says why the CPU figures are missing while the throughput is
	// not (too few samples inside a short run on a starved guest).
	CPUErr string `json:"cpu_error,omitempty"`
}

// MBps is the point's throughput over both directions, in 10^6 bytes/s.
func (p Point) MBps() float64 { return p.InMBps + p.OutMBps }

// PerMiB returns CPU milliseconds per MiB moved, 0 when nothing moved.
func (p Point) PerMiB(cpuSeconds float64) float64 {
	if p.Bytes <= 0 {
		return 0
	}
	return cpuSeconds * 1000 / (float64(p.Bytes) / (1 << 20))
}

// Latency is a set of durations summarised in microseconds, percentiles by
// nearest rank.
type Latency = latency.Summary

// CancelResult is the time from io_cancel to the reaped completion of a
// pending OUT read on an idle endpoint, with Depth reads in flight.
type CancelResult struct {
	// Path is "engine", package ffs's context cancel (Request.Wait), or
	// "anchor", the least work possible: io_cancel, then io_getevents
	// blocking on a locked OS thread, no eventfd, poller or goroutine.
	Path     string         `json:"path,omitempty"`
	Depth    int            `json:"depth"`
	Latency  Latency        `json:"latency"`
	Outcomes map[string]int `json:"outcomes"` // the completion's error, "ECONNRESET" expected
	// IOCancel counts io_cancel's answers (EINPROGRESS on mainline).
	IOCancel map[string]int `json:"io_cancel"`
}

// DisconnectResult is the time from writing "disconnect" to soft_connect
// until every pending request of the function was reaped.
type DisconnectResult struct {
	Pending  int            `json:"pending"` // requests in flight at the disconnect
	Latency  Latency        `json:"latency"`
	Outcomes map[string]int `json:"outcomes"` // "ESHUTDOWN" expected
}

// ScaleResult is aggregate throughput with several bulk pairs (or UDCs)
// busy at once.
type ScaleResult struct {
	Setup       string  `json:"setup"` // "pairs" (one function) or "udcs" (one gadget per UDC)
	Count       int     `json:"count"` // endpoint pairs or UDCs
	RequestSize int     `json:"request_size"`
	InFlight    int     `json:"in_flight"`
	MBps        float64 `json:"mb_per_s"` // every pipe, both directions
	// GadgetCPU is the gadget processes' CPU time over Seconds, the wall
	// time of the host peers (their start included).
	GadgetCPU  float64 `json:"gadget_cpu_s"`
	Seconds    float64 `json:"seconds"`
	Goroutines int     `json:"goroutines,omitempty"` // of the serving process, mid-run ("pairs")
	Reapers    int     `json:"reapers,omitempty"`    // goroutines running ffs's reaper, mid-run ("pairs")
	Threads    int     `json:"threads"`              // OS threads of the gadget processes, mid-run
	HWMKiB     int64   `json:"hwm_kib"`
	Err        string  `json:"error,omitempty"`

	bindFailed bool // the UDC refused the gadget
}

// PerfSymbol is one line of perf report: the share of the samples in one
// symbol, and the command (thread name) it ran in.
type PerfSymbol struct {
	Percent float64 `json:"percent"`
	Comm    string  `json:"comm"`
	Symbol  string  `json:"symbol"`
}
