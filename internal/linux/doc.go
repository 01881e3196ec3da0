// Package linux is the only place in gadgetkit that makes raw system calls or
// uses unsafe. It wraps Linux kernel AIO (io_setup, io_submit, io_getevents,
// io_cancel, io_destroy) with the kernel's struct iocb and struct io_event
// laid out exactly as <linux/aio_abi.h> declares them on either endianness,
// plus the eventfd that IOCB_FLAG_RESFD signals, page-aligned memory that the
// garbage collector never moves, and the few ioctls whose argument is a
// pointer (FunctionFS endpoint descriptors; usbfs control and bulk transfers,
// the host side of gadget tests where no libusb is available).
//
// Every error is an *os.SyscallError naming the call, so callers can test the
// errno with errors.Is.
//
// Memory handed to the kernel (iocbs and data buffers) must stay valid until
// the matching completion has been reaped; Map returns memory outside the Go
// heap so that this contract is explicit: nothing moves it and nothing frees
// it except Region.Unmap.
package linux
