// Package usbtest drives the Linux kernel's usbtest host driver
// (drivers/usb/misc/usbtest.c), the way the kernel's tools/usb/testusb.c
// does, so that any gadget can be checked against the host-side tests that
// gadget zero (the kernel's SourceSink and Loopback functions) passes.
//
// usbtest binds to gadget zero's IDs (0525:a4a0, and 0525:a4a4 / 0525:a4a3
// for its user-mode variants) and to IDs added through its new_id file:
// Bind adds one so that a gadget with its own IDs is driven exactly like
// gadget zero. Find lists the interfaces usbtest has claimed; Run and
// RunSuite issue USBTEST_REQUEST through usbfs (/dev/bus/usb/BBB/DDD) and
// report each test's outcome with the kernel-measured duration and, for the
// bulk tests, the bytes moved and the throughput.
//
// A usbtest ioctl runs to completion in the kernel and cannot be
// interrupted: a cancelled context makes Run return at once, but the test
// keeps the device until the kernel finishes it.
package usbtest
