//go:build mips || mips64 || ppc64 || s390x

package linux

import "structs"

// IOCB is struct iocb. On big-endian machines aio_rw_flags precedes aio_key;
// on little-endian ones the two swap (iocb_le.go).
type IOCB struct {
	_       structs.HostLayout
	Data    uint64 // aio_data: returned in Event.Data
	RWFlags int32  // aio_rw_flags
	Key     uint32 // aio_key: written by the kernel at submit
	Opcode  uint16 // aio_lio_opcode
	ReqPrio int16  // aio_reqprio
	Fildes  uint32 // aio_fildes
	Buf     uint64 // aio_buf
	Nbytes  uint64 // aio_nbytes
	Offset  int64  // aio_offset
	_       uint64 // aio_reserved2
	Flags   uint32 // aio_flags
	ResFD   uint32 // aio_resfd
}
