package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Region is anonymous memory mapped outside the Go heap: the kernel may read
// or write it at any time until Unmap, and the garbage collector never moves
// or frees it.
type Region struct {
	b []byte
}

// Map maps size bytes, zeroed and page aligned.
func Map(size int) (*Region, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return &Region{b: b}, nil
}

// Bytes is the whole region.
func (r *Region) Bytes() []byte { return r.b }

// IOCBs carves n iocbs from the region starting at off, which must be a
// multiple of 8 with n*IOCBSize bytes available.
func (r *Region) IOCBs(off, n int) []IOCB {
	if off%8 != 0 || off < 0 || n < 0 || off+n*IOCBSize > len(r.b) {
		panic("aio: IOCBs out of region or misaligned")
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*IOCB)(unsafe.Pointer(&r.b[off])), n)
}

// Unmap releases the region. Only call it once the kernel can no longer
// touch it (after io_destroy, or after every request using it was reaped).
func (r *Region) Unmap() error {
	if r.b == nil {
		return nil
	}
	err := unix.Munmap(r.b)
	r.b = nil
	if err != nil {
		return os.NewSyscallError("munmap", err)
	}
	return nil
}
