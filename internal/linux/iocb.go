package linux

import (
	"unsafe"
)

// Opcodes for IOCB.Opcode (IOCB_CMD_* in <linux/aio_abi.h>).
const (
	CmdPread  = 0
	CmdPwrite = 1
)

// FlagResFD asks the kernel to signal IOCB.ResFD, an eventfd, when the request
// completes (IOCB_FLAG_RESFD).
const FlagResFD = 1 << 0

// IOCBSize and EventSize are the kernel ABI sizes; layout_test.go checks them.
const (
	IOCBSize  = 64
	EventSize = 32
)

// Event is struct io_event: one completion read from the ring.
type Event struct {
	Data uint64 // IOCB.Data of the request
	Obj  uint64 // user address of the iocb
	Res  int64  // bytes transferred, or a negative errno
	Res2 int64
}

// Compile-time size checks: an array of negative length fails to build.
var (
	_ [IOCBSize - unsafe.Sizeof(IOCB{})]byte
	_ [unsafe.Sizeof(IOCB{}) - IOCBSize]byte
	_ [EventSize - unsafe.Sizeof(Event{})]byte
	_ [unsafe.Sizeof(Event{}) - EventSize]byte
)

// PrepRead fills cb for a read of len(buf) bytes from fd into buf. data comes
// back in Event.Data. When resfd >= 0 the kernel signals that eventfd.
func (cb *IOCB) PrepRead(fd int, buf []byte, data uint64, resfd int) {
	cb.prep(CmdPread, fd, buf, data, resfd)
}

// PrepWrite fills cb for a write of buf to fd; see PrepRead.
func (cb *IOCB) PrepWrite(fd int, buf []byte, data uint64, resfd int) {
	cb.prep(CmdPwrite, fd, buf, data, resfd)
}

func (cb *IOCB) prep(op uint16, fd int, buf []byte, data uint64, resfd int) {
	*cb = IOCB{
		Data:   data,
		Opcode: op,
		Fildes: uint32(fd),
		Buf:    uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))),
		Nbytes: uint64(len(buf)),
	}
	if resfd >= 0 {
		cb.Flags = FlagResFD
		cb.ResFD = uint32(resfd)
	}
}

// Addr is the iocb's user address, the value the kernel reports in Event.Obj.
func (cb *IOCB) Addr() uint64 { return uint64(uintptr(unsafe.Pointer(cb))) }
