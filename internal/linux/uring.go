package linux

import (
	"os"
	"structs"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// io_uring, only as far as the conformance suite probes it on FunctionFS
// endpoint files: one submission ring, one completion ring, reads and
// IORING_OP_ASYNC_CANCEL. The toolkit itself uses kernel AIO (see Context).
//
// A process must not exit, and a Uring must not be closed, while a request
// on an endpoint is in flight: f_fs gives io_uring requests no cancel hook,
// so the ring's teardown waits for the USB transfer, which may never end.
// Complete every request first (let the host send, or unbind the gadget).

// Opcodes for UringSQE.Opcode (IORING_OP_* in <linux/io_uring.h>).
const (
	UringOpAsyncCancel = 14
	UringOpRead        = 22
)

// uringParams is struct io_uring_params.
type uringParams struct {
	_            structs.HostLayout
	SQEntries    uint32
	CQEntries    uint32
	Flags        uint32
	SQThreadCPU  uint32
	SQThreadIdle uint32
	Features     uint32
	WQFD         uint32
	_            [3]uint32
	SQOff        sqringOffsets
	CQOff        cqringOffsets
}

type sqringOffsets struct {
	_           structs.HostLayout
	Head        uint32
	Tail        uint32
	RingMask    uint32
	RingEntries uint32
	Flags       uint32
	Dropped     uint32
	Array       uint32
	_           uint32
	_           uint64
}

type cqringOffsets struct {
	_           structs.HostLayout
	Head        uint32
	Tail        uint32
	RingMask    uint32
	RingEntries uint32
	Overflow    uint32
	CQEs        uint32
	Flags       uint32
	_           uint32
	_           uint64
}

// UringSQE is struct io_uring_sqe (64 bytes).
type UringSQE struct {
	_           structs.HostLayout
	Opcode      uint8
	Flags       uint8
	IOPrio      uint16
	FD          int32
	Off         uint64 // offset; for ASYNC_CANCEL unused
	Addr        uint64 // buffer; for ASYNC_CANCEL the user_data to cancel
	Len         uint32
	OpFlags     uint32
	UserData    uint64
	BufIndex    uint16
	Personality uint16
	SpliceFDIn  int32
	_           [2]uint64
}

// UringCQE is struct io_uring_cqe (16 bytes).
type UringCQE struct {
	_        structs.HostLayout
	UserData uint64
	Res      int32
	Flags    uint32
}

var (
	_ [120 - unsafe.Sizeof(uringParams{})]byte
	_ [unsafe.Sizeof(uringParams{}) - 120]byte
	_ [64 - unsafe.Sizeof(UringSQE{})]byte
	_ [unsafe.Sizeof(UringSQE{}) - 64]byte
	_ [16 - unsafe.Sizeof(UringCQE{})]byte
)

const (
	uringOffSQRing = 0
	uringOffCQRing = 0x8000000
	uringOffSQEs   = 0x10000000

	uringRegisterEventfd = 4
)

// Uring is an io_uring instance with its three mappings.
type Uring struct {
	fd             int
	sq, cq, sqeMem []byte
	p              uringParams
}

// NewUring sets up a ring of entries submissions (io_uring_setup) and
// maps it.
func NewUring(entries uint32) (*Uring, error) {
	u := &Uring{fd: -1}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&u.p)), 0)
	if errno != 0 {
		return nil, os.NewSyscallError("io_uring_setup", errno)
	}
	u.fd = int(fd)
	mmap := func(off int64, size int) ([]byte, error) {
		b, err := unix.Mmap(u.fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return nil, os.NewSyscallError("mmap io_uring", err)
		}
		return b, nil
	}
	var err error
	if u.sq, err = mmap(uringOffSQRing, int(u.p.SQOff.Array)+int(u.p.SQEntries)*4); err == nil {
		if u.cq, err = mmap(uringOffCQRing, int(u.p.CQOff.CQEs)+int(u.p.CQEntries)*16); err == nil {
			u.sqeMem, err = mmap(uringOffSQEs, int(u.p.SQEntries)*64)
		}
	}
	if err != nil {
		u.Close()
		return nil, err
	}
	return u, nil
}

func (u *Uring) u32(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

// RegisterEventfd makes the kernel signal efd on every completion
// (IORING_REGISTER_EVENTFD), so a waiter can use the runtime poller.
func (u *Uring) RegisterEventfd(efd int) error {
	v := int32(efd)
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(u.fd), uringRegisterEventfd, uintptr(unsafe.Pointer(&v)), 1, 0, 0)
	if errno != 0 {
		return os.NewSyscallError("io_uring_register", errno)
	}
	return nil
}

// Submit queues sqe and enters the kernel to submit it (io_uring_enter).
// For a read, sqe.Addr must point at memory that stays valid until its
// completion is reaped (Map memory).
func (u *Uring) Submit(sqe UringSQE) error {
	tail := atomic.LoadUint32(u.u32(u.sq, u.p.SQOff.Tail))
	mask := *u.u32(u.sq, u.p.SQOff.RingMask)
	idx := tail & mask
	sqes := unsafe.Slice((*UringSQE)(unsafe.Pointer(&u.sqeMem[0])), u.p.SQEntries)
	sqes[idx] = sqe
	*u.u32(u.sq, u.p.SQOff.Array+idx*4) = idx
	atomic.StoreUint32(u.u32(u.sq, u.p.SQOff.Tail), tail+1)
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(u.fd), 1, 0, 0, 0, 0)
	if errno != 0 {
		return os.NewSyscallError("io_uring_enter", errno)
	}
	if n != 1 {
		return os.NewSyscallError("io_uring_enter", unix.EAGAIN)
	}
	return nil
}

// Reap copies the completions posted so far into dst (without a system
// call) and returns how many.
func (u *Uring) Reap(dst []UringCQE) int {
	headp := u.u32(u.cq, u.p.CQOff.Head)
	head := atomic.LoadUint32(headp)
	tail := atomic.LoadUint32(u.u32(u.cq, u.p.CQOff.Tail))
	mask := *u.u32(u.cq, u.p.CQOff.RingMask)
	cqes := unsafe.Slice((*UringCQE)(unsafe.Pointer(&u.cq[u.p.CQOff.CQEs])), u.p.CQEntries)
	n := 0
	for head != tail && n < len(dst) {
		dst[n] = cqes[head&mask]
		head++
		n++
	}
	atomic.StoreUint32(headp, head)
	return n
}

// Close unmaps the rings and closes the instance. Every request must have
// completed (see the package note on io_uring above).
func (u *Uring) Close() error {
	for _, b := range [][]byte{u.sqeMem, u.cq, u.sq} {
		if b != nil {
			unix.Munmap(b)
		}
	}
	u.sq, u.cq, u.sqeMem = nil, nil, nil
	if u.fd < 0 {
		return nil
	}
	err := unix.Close(u.fd)
	u.fd = -1
	if err != nil {
		return os.NewSyscallError("close io_uring", err)
	}
	return nil
}

// addrOf is the address of b's first byte, for UringSQE.Addr.
func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// BufAddr is the user address of b for UringSQE.Addr; b must be Map memory.
func BufAddr(b []byte) uint64 { return uint64(addrOf(b)) }
