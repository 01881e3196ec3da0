//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package linux

import "structs"

// IOCB is struct iocb. On little-endian machines aio_key precedes
// aio_rw_flags; on big-endian ones the two swap (iocb_be.go).
type IOCB struct {
	_       structs.HostLayout
	Data    uint64 // aio_data: returned in Event.Data
	Key     uint32 // aio_key: written by the kernel at submit
	RWFlags int32  // aio_rw_flags
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
