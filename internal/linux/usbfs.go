package linux

import (
	"os"
	"structs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// usbdevfsCtrl is struct usbdevfs_ctrltransfer from <linux/usbdevice_fs.h>.
type usbdevfsCtrl struct {
	_           structs.HostLayout
	RequestType uint8
	Request     uint8
	Value       uint16
	Index       uint16
	Length      uint16
	Timeout     uint32 // milliseconds
	Data        unsafe.Pointer
}

// usbdevfsControl is USBDEVFS_CONTROL, _IOWR('U', 0, struct usbdevfs_ctrltransfer).
var usbdevfsControl = uint(3<<30 | unsafe.Sizeof(usbdevfsCtrl{})<<16 | 'U'<<8 | 0)

// USBControl performs a control transfer through a usbfs device node
// (/dev/bus/usb/BBB/DDD) opened read-write: the host side of gadget tests
// that run where no libusb is available. len(data) is wLength; the direction
// comes from bit 7 of requestType. It returns the bytes transferred; a stall
// is EPIPE.
func USBControl(fd int, requestType, request uint8, value, index uint16, data []byte, timeoutMs uint32) (int, error) {
	ct := usbdevfsCtrl{
		RequestType: requestType,
		Request:     request,
		Value:       value,
		Index:       index,
		Length:      uint16(len(data)),
		Timeout:     timeoutMs,
		Data:        unsafe.Pointer(unsafe.SliceData(data)),
	}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(usbdevfsControl), uintptr(unsafe.Pointer(&ct)))
	if errno != 0 {
		return 0, os.NewSyscallError("ioctl USBDEVFS_CONTROL", errno)
	}
	return int(r), nil
}

// usbdevfsBulk is struct usbdevfs_bulktransfer.
type usbdevfsBulk struct {
	_       structs.HostLayout
	Ep      uint32
	Len     uint32
	Timeout uint32 // milliseconds
	Data    unsafe.Pointer
}

// usbdevfsBulkReq is USBDEVFS_BULK, _IOWR('U', 2, struct usbdevfs_bulktransfer).
var usbdevfsBulkReq = uint(3<<30 | unsafe.Sizeof(usbdevfsBulk{})<<16 | 'U'<<8 | 2)

// USBBulk performs one bulk transfer on endpoint ep (bit 7 set: IN) through
// a usbfs device node and returns the bytes transferred. usbfs claims the
// interface on first use.
func USBBulk(fd int, ep uint8, data []byte, timeoutMs uint32) (int, error) {
	bt := usbdevfsBulk{Ep: uint32(ep), Len: uint32(len(data)), Timeout: timeoutMs, Data: unsafe.Pointer(unsafe.SliceData(data))}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(usbdevfsBulkReq), uintptr(unsafe.Pointer(&bt)))
	if errno != 0 {
		return 0, os.NewSyscallError("ioctl USBDEVFS_BULK", errno)
	}
	return int(r), nil
}
