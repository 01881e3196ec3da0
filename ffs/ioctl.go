package ffs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/usb"
)

// FunctionFS ioctls (<linux/usb/functionfs.h>): 'g' is the magic.
const (
	ioctlFIFOStatus      = 'g'<<8 | 1                   // _IO('g', 1)
	ioctlFIFOFlush       = 'g'<<8 | 2                   // _IO('g', 2)
	ioctlClearHalt       = 'g'<<8 | 3                   // _IO('g', 3)
	ioctlInterfaceRevmap = 'g'<<8 | 128                 // _IO('g', 128)
	ioctlEndpointRevmap  = 'g'<<8 | 129                 // _IO('g', 129)
	ioctlEndpointDesc    = 2<<30 | 9<<16 | 'g'<<8 | 130 // _IOR('g', 130, struct usb_endpoint_descriptor)
)

// epErr names the endpoint and maps the errno to a sentinel where one fits
// (EAGAIN: the endpoint is not enabled).
func (ep *EP) epErr(op string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if kind := kindOf(errno); kind != nil {
			return &TransferError{Endpoint: ep.file.Name, Op: op, Kind: kind, Errno: errno}
		}
	}
	return fmt.Errorf("ffs: %s %s: %w", ep.file.Name, op, err)
}

// FIFOStatus returns the bytes sitting in the controller's FIFO (EOPNOTSUPP
// from controllers that do not say, dummy_hcd among them).
func (ep *EP) FIFOStatus() (int, error) {
	n, err := unix.IoctlRetInt(ep.fd, ioctlFIFOStatus)
	if err != nil {
		return 0, ep.epErr("FUNCTIONFS_FIFO_STATUS", err)
	}
	return n, nil
}

// FIFOFlush discards the controller's FIFO.
func (ep *EP) FIFOFlush() error {
	if _, err := unix.IoctlRetInt(ep.fd, ioctlFIFOFlush); err != nil {
		return ep.epErr("FUNCTIONFS_FIFO_FLUSH", err)
	}
	return nil
}

// ClearHalt clears a halt, the gadget-side CLEAR_FEATURE(ENDPOINT_HALT).
func (ep *EP) ClearHalt() error {
	if _, err := unix.IoctlRetInt(ep.fd, ioctlClearHalt); err != nil {
		return ep.epErr("FUNCTIONFS_CLEAR_HALT", err)
	}
	return nil
}

// Halt stalls the endpoint until the host clears it (or ClearHalt). f_fs
// halts an endpoint on I/O in the wrong direction and answers EBADMSG.
func (ep *EP) Halt() error {
	var one [1]byte
	var err error
	if ep.file.Address.IsIn() {
		_, err = unix.Read(ep.fd, one[:])
	} else {
		_, err = unix.Write(ep.fd, one[:])
	}
	if errors.Is(err, unix.EBADMSG) {
		return nil
	}
	if err == nil {
		return fmt.Errorf("ffs: %s halt: the kernel moved data instead of halting", ep.file.Name)
	}
	return ep.epErr("halt", err)
}

// Number returns what FUNCTIONFS_ENDPOINT_REVMAP reports for the endpoint.
// f_fs up to at least 6.1 never fills the value it returns (it answers 255
// for every endpoint), which Number reports as an error; HostAddress is the
// reliable way to learn the address the UDC gave the endpoint.
func (ep *EP) Number() (int, error) {
	n, err := unix.IoctlRetInt(ep.fd, ioctlEndpointRevmap)
	if err != nil {
		return 0, ep.epErr("FUNCTIONFS_ENDPOINT_REVMAP", err)
	}
	if n == 0xff {
		return 0, fmt.Errorf("ffs: %s FUNCTIONFS_ENDPOINT_REVMAP: kernel returned 255, the unset value (f_fs never fills it)", ep.file.Name)
	}
	return n, nil
}

// HostAddress is the endpoint address the host sees, which the UDC chooses
// and which may differ from the described one (dummy_hcd, for one, has
// ep1in, ep2out, ...). Available once enabled.
func (ep *EP) HostAddress() (usb.EndpointAddress, error) {
	d, err := ep.Descriptor()
	if err != nil {
		return 0, err
	}
	return usb.EndpointAddress(d[2]), nil
}

// Descriptor returns the endpoint descriptor in use at the current speed
// (FUNCTIONFS_ENDPOINT_DESC), available once enabled.
func (ep *EP) Descriptor() ([]byte, error) {
	buf := make([]byte, 9)
	if _, err := linux.IoctlBuf(ep.fd, ioctlEndpointDesc, buf); err != nil {
		return nil, ep.epErr("FUNCTIONFS_ENDPOINT_DESC", err)
	}
	return buf[:max(7, min(int(buf[0]), 9))], nil
}

// refreshMaxPacket reads every endpoint's wMaxPacketSize for the speed just
// enabled; OUT requests are rounded to it.
func (f *Function) refreshMaxPacket() {
	for _, ep := range f.eps {
		d, err := ep.Descriptor()
		if err != nil {
			continue // not enabled in this configuration or altsetting
		}
		ep.maxPacket.Store(uint32(binary.LittleEndian.Uint16(d[4:6]) & 0x7ff))
	}
}

// InterfaceIndex maps an interface number as the host sees it to the
// function's own interface index (FUNCTIONFS_INTERFACE_REVMAP): control
// requests to an interface carry the host's number in wIndex.
func (f *Function) InterfaceIndex(number uint8) (int, error) {
	var n int
	var ierr error
	err := f.ep0raw.Control(func(fd uintptr) {
		n, ierr = linux.IoctlArg(int(fd), ioctlInterfaceRevmap, uintptr(number))
	})
	if err == nil {
		err = ierr
	}
	if err != nil {
		return 0, fmt.Errorf("ffs: FUNCTIONFS_INTERFACE_REVMAP %d: %w", number, err)
	}
	return n, nil
}

// DMABufProbe asks whether the endpoint could take a DMA-BUF, without one:
// it issues FUNCTIONFS_DMABUF_ATTACH with fd -1, which attaches nothing,
// and returns the errno. f_fs (6.9 and later) refuses a UDC without
// scatter-gather before it looks at the fd, so the answer tells the cases
// apart: ENOTTY, the kernel has no FunctionFS DMA-BUF (before 6.9); EPERM,
// it has, but the UDC does not do scatter-gather (dummy_hcd); EBADF, it is
// supported (a real DMA-BUF would be tried). Before 6.9 f_fs waits for the
// endpoint to be enabled before it rejects an unknown ioctl, so a disabled
// endpoint answers EAGAIN there (ffs opens endpoints O_NONBLOCK: it never
// blocks). The ioctl cannot succeed; 0 is returned only if a kernel
// accepted fd -1.
func (ep *EP) DMABufProbe() syscall.Errno {
	err := linux.FFSDMABufAttach(ep.fd, -1)
	var errno syscall.Errno
	if err != nil && !errors.As(err, &errno) {
		errno = syscall.EINVAL // not an errno at all: cannot happen with a raw ioctl
	}
	return errno
}
