// Package usbtest drives the Linux kernel's usbtest host driver
// (drivers/usb/misc/usbtest.c), the way the kernel's tools/usb/testusb.c
// does, so that any gadget can be checked against the host-side tests that
// gadget zero (the kernel's SourceSink and Loopback functions) passes.
//
// Find lists the interfaces usbtest has claimed; Run and RunSuite issue
// USBTEST_REQUEST through usbfs (/dev/bus/usb/BBB/DDD) and report each
// test's outcome with the kernel-measured duration and, for the bulk tests,
// the bytes moved and the throughput. SourceSinkSuite and LoopbackSuite are
// what gadget zero's functions pass; Throughput is the queued bulk pair.
//
// What usbtest binds to: its own table (GadgetZero 0525:a4a0 with every
// test, UserMode 0525:a4a4 without the ep0 vendor requests) and, on kernels
// whose usbtest has a new_id file, IDs added by Bind. Debian's 6.1 has none
// (ErrNoDynamicID), so a gadget that wants usbtest's bulk tests there uses
// gadget zero's IDs. usbtest runs tests on interface 0 only and sets its
// altsetting 0 before every test, so a function cannot carry data from one
// test to the next.
//
// A usbtest ioctl runs to completion in the kernel and cannot be
// interrupted: a cancelled context makes Run return at once (Abandoned)
// while the kernel goes on; unplugging the device ends it.
package usbtest
