package aio

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
