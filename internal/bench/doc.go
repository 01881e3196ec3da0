// Package bench measures gadgetd against the kernel's own SourceSink (and
// Loopback) functions on dummy_hcd, in one guest run, with the same host
// driver on both: the kernel's usbtest, and hosttest bench (libusb).
//
// The guest side (Calibrate, UsbtestSweep, Sweep, Cancellation, Scale)
// runs as root where dummy_hcd, configfs and FunctionFS are loaded, and
// fills a Run. The host side judges each Run against issue 15's goals
// (Goals, CancelGoals: the copy-bound ceiling from the calibrated passes)
// and merges the Runs of every guest of a make bench into one report and an
// SVG plot (WriteReport, WriteReportSVG). cmd/benchguest is the command for
// both sides; scripts/bench.sh drives it, one guest per kernel and setting.
//
// CPU time comes from /proc, sampled every 50 ms while hosttest runs:
// utime+stime of the gadget process and of the host peer, the kworker
// threads' time (f_fs completes every request on a workqueue), and the whole
// guest's busy time from /proc/stat. Only the samples inside hosttest's
// timed run count (not its start: libusb, the claim), and the rates over
// them are scaled to the run. /proc counts clock ticks (10 ms), so each
// figure carries that much rounding per sampling window.
package bench
