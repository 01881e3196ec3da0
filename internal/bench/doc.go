// Package bench measures gadgetd against the kernel's own SourceSink and
// Loopback functions on dummy_hcd, in one guest run, with the same host
// driver (hosttest bench, libusb) on both.
//
// The guest side (Sweep, CancelLatency, DisconnectLatency, Scale) runs as
// root where dummy_hcd, configfs and FunctionFS are loaded, and fills a Run.
// The host side turns a Run into the summary table, the ratio of each
// gadgetd figure to the kernel's at the same point, and an SVG plot
// (WriteMarkdown, WriteSVG). cmd/benchguest is the command for both sides;
// scripts/bench.sh drives it.
//
// CPU time comes from /proc, sampled every 50 ms while hosttest runs:
// utime+stime of the gadget process and of the host peer, the kworker
// threads' time (f_fs completes every request on a workqueue), and the whole
// guest's busy time from /proc/stat. Only the samples inside hosttest's
// timed run count (not its start: libusb, the claim), and the rates over
// them are scaled to the run. /proc counts clock ticks (10 ms), so each
// figure carries that much rounding per sampling window.
package bench
