package linux

import (
	"os"
	"structs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// CancelAt is io_cancel with every argument the caller's: iocb is a user
// address (IOCB.Addr, or anything else, 0 included, to probe the kernel's
// checks) and result is the io_event the kernel may write. Context.Cancel
// is the form the toolkit uses.
func (c Context) CancelAt(iocb uint64, result *Event) error {
	_, _, errno := unix.Syscall(unix.SYS_IO_CANCEL, uintptr(c), uintptr(iocb), uintptr(unsafe.Pointer(result)))
	if errno != 0 {
		return os.NewSyscallError("io_cancel", errno)
	}
	return nil
}

// udmabufCreate is struct udmabuf_create from <linux/udmabuf.h>.
type udmabufCreate struct {
	_      structs.HostLayout
	MemFD  uint32
	Flags  uint32
	Offset uint64
	Size   uint64
}

// udmabufCreateReq is UDMABUF_CREATE, _IOW('u', 0x42, struct udmabuf_create).
var udmabufCreateReq = uint(1<<30 | unsafe.Sizeof(udmabufCreate{})<<16 | 'u'<<8 | 0x42)

const udmabufFlagsCloexec = 0x01

// NewUdmabuf exports size bytes (a multiple of the page size) of a sealed
// memfd as a DMA-BUF through /dev/udmabuf and returns the DMA-BUF's fd.
func NewUdmabuf(size int) (int, error) {
	mfd, err := unix.MemfdCreate("gadgetkit-udmabuf", unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("memfd_create", err)
	}
	defer unix.Close(mfd)
	if err := unix.Ftruncate(mfd, int64(size)); err != nil {
		return -1, os.NewSyscallError("ftruncate memfd", err)
	}
	if _, err := unix.FcntlInt(uintptr(mfd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK); err != nil {
		return -1, os.NewSyscallError("fcntl F_ADD_SEALS", err)
	}
	dev, err := unix.Open("/dev/udmabuf", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: "/dev/udmabuf", Err: err}
	}
	defer unix.Close(dev)
	arg := udmabufCreate{MemFD: uint32(mfd), Flags: udmabufFlagsCloexec, Size: uint64(size)}
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(dev), uintptr(udmabufCreateReq), uintptr(unsafe.Pointer(&arg)))
	if errno != 0 {
		return -1, os.NewSyscallError("ioctl UDMABUF_CREATE", errno)
	}
	return int(fd), nil
}

// FunctionFS DMA-BUF ioctls on an endpoint file (Linux 6.9).
var (
	ffsDMABufAttach = uint(1<<30 | 4<<16 | 'g'<<8 | 131) // _IOW('g', 131, int)
	ffsDMABufDetach = uint(1<<30 | 4<<16 | 'g'<<8 | 132) // _IOW('g', 132, int)
)

// FFSDMABufAttach attaches the DMA-BUF dmabuf to the endpoint file ep
// (FUNCTIONFS_DMABUF_ATTACH); kernels before 6.9 answer ENOTTY.
func FFSDMABufAttach(ep, dmabuf int) error {
	return ffsDMABufIoctl(ep, ffsDMABufAttach, "FUNCTIONFS_DMABUF_ATTACH", dmabuf)
}

// FFSDMABufDetach undoes FFSDMABufAttach (FUNCTIONFS_DMABUF_DETACH).
func FFSDMABufDetach(ep, dmabuf int) error {
	return ffsDMABufIoctl(ep, ffsDMABufDetach, "FUNCTIONFS_DMABUF_DETACH", dmabuf)
}

func ffsDMABufIoctl(ep int, req uint, name string, dmabuf int) error {
	v := int32(dmabuf)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(ep), uintptr(req), uintptr(unsafe.Pointer(&v)))
	if errno != 0 {
		return os.NewSyscallError("ioctl "+name, errno)
	}
	return nil
}
