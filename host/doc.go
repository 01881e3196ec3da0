// Package host is the USB host side of gadgetkit's tests: it finds a gadget
// from the host (sysfs polling, then libusb through github.com/google/gousb),
// reads and compares the descriptors the host sees, moves patterned data
// through loopback and source/sink functions, measures throughput and
// latency, and provokes aborts (cancelled transfers, halts, alternate
// settings, resets, disconnects).
//
// This is the only package (with cmd/hosttest) that uses cgo and libusb; the
// gadget side of the module never imports it. Everything that does not need
// a device (sysfs matching, descriptor parsing and comparison, patterns,
// statistics, control request parsing, the loopback and bench engines) is
// plain Go working on small interfaces, so it is tested without hardware;
// the *_guest_test.go files run the rest against dummy_hcd in the vmtest
// guest.
//
// No call can block forever: every data transfer takes a context, and every
// Device has a control timeout, because gousb's default of zero waits
// forever.
package host
