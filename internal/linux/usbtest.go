package linux

import (
	"os"
	"runtime"
	"structs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// USBTestParam is struct usbtest_param_64 from the kernel's
// drivers/usb/misc/usbtest.c: the inputs of one usbtest run and the duration
// the kernel measured around it. The kernel accepts this layout on every
// architecture (USBTEST_REQUEST_64), so 32-bit builds use it too instead of
// depending on the C library's struct timeval.
type USBTestParam struct {
	_          structs.HostLayout
	TestNum    uint32
	Iterations uint32
	Length     uint32
	Vary       uint32
	SGLen      uint32
	_          uint32 // where the C compiler aligns the __s64 fields; explicit so that 32-bit Go matches
	// DurationSec and DurationUsec are written by the kernel on success.
	DurationSec  int64
	DurationUsec int64
}

// The layout is checked when compiling for each architecture: an array
// length that would be negative does not build.
var (
	_ [unsafe.Sizeof(USBTestParam{}) - 40]struct{}
	_ [40 - unsafe.Sizeof(USBTestParam{})]struct{}
	_ [unsafe.Offsetof(USBTestParam{}.DurationSec) - 24]struct{}
	_ [24 - unsafe.Offsetof(USBTestParam{}.DurationSec)]struct{}
)

// usbdevfsIoctl is struct usbdevfs_ioctl from <linux/usbdevice_fs.h>: it
// carries a driver-private ioctl to the driver bound to interface Ifno.
type usbdevfsIoctl struct {
	_         structs.HostLayout
	Ifno      int32
	IoctlCode int32
	Data      unsafe.Pointer
}

var (
	// usbtestRequest64 is USBTEST_REQUEST_64, _IOWR('U', 100, struct usbtest_param_64).
	usbtestRequest64 = uint32(3<<30 | unsafe.Sizeof(USBTestParam{})<<16 | 'U'<<8 | 100)
	// usbdevfsIoctlReq is USBDEVFS_IOCTL, _IOWR('U', 18, struct usbdevfs_ioctl).
	usbdevfsIoctlReq = uint(3<<30 | unsafe.Sizeof(usbdevfsIoctl{})<<16 | 'U'<<8 | 18)
)

// USBTestRequest runs one test of the kernel's usbtest driver: it sends
// USBTEST_REQUEST_64 through USBDEVFS_IOCTL on a usbfs device node
// (/dev/bus/usb/BBB/DDD, opened read-write) to the driver bound to interface
// ifno, and blocks until the kernel has run the test. On success the kernel
// fills p's duration fields. A test the device or driver cannot run fails
// with EOPNOTSUPP, a failed test with the errno the driver returned, an
// interface without a driver with ENODATA.
func USBTestRequest(fd, ifno int, p *USBTestParam) error {
	w := usbdevfsIoctl{Ifno: int32(ifno), IoctlCode: int32(usbtestRequest64), Data: unsafe.Pointer(p)}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(usbdevfsIoctlReq), uintptr(unsafe.Pointer(&w)))
	runtime.KeepAlive(p)
	if errno != 0 {
		return os.NewSyscallError("ioctl USBDEVFS_IOCTL USBTEST_REQUEST", errno)
	}
	return nil
}
