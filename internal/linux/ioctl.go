package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// IoctlBuf issues an ioctl whose argument points at buf, which the kernel
// reads or fills (for example FUNCTIONFS_ENDPOINT_DESC). It returns the
// ioctl's non-negative result.
func IoctlBuf(fd int, req uint, buf []byte) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	if errno != 0 {
		return 0, os.NewSyscallError("ioctl", errno)
	}
	return int(r), nil
}

// IoctlArg issues an ioctl with an integer argument and returns its
// non-negative result (for example FUNCTIONFS_INTERFACE_REVMAP).
func IoctlArg(fd int, req uint, arg uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg)
	if errno != 0 {
		return 0, os.NewSyscallError("ioctl", errno)
	}
	return int(r), nil
}
