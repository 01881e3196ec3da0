package linux

import (
	"structs"
	"sync/atomic"
	"unsafe"
)

// ringHeader is struct aio_ring from fs/aio.c: the completion ring the
// kernel maps into the process at the address io_setup returns as the
// context. io_events follow the header.
type ringHeader struct {
	_                structs.HostLayout
	ID               uint32
	Nr               uint32 // number of io_events
	Head             uint32 // next event to read; written by user space
	Tail             uint32 // next event the kernel writes
	Magic            uint32
	CompatFeatures   uint32
	IncompatFeatures uint32
	HeaderLength     uint32
}

const (
	ringMagic     = 0xa10a10a1
	ringHeaderLen = 32
)

var _ [ringHeaderLen - unsafe.Sizeof(ringHeader{})]byte

// ring is the context's ring. An aio_context_t is the ring's address; the
// double conversion reinterprets it without a uintptr-to-pointer cast.
func (c *Context) ring() *ringHeader {
	return (*ringHeader)(*(*unsafe.Pointer)(unsafe.Pointer(c)))
}

// HasUserRing reports whether the context's ring has the layout ReapRing
// knows (magic, no incompatible features, header size), so completions can
// be read without a system call.
func (c Context) HasUserRing() bool {
	if c == 0 {
		return false
	}
	r := c.ring()
	return atomic.LoadUint32(&r.Magic) == ringMagic && r.IncompatFeatures == 0 && r.HeaderLength == ringHeaderLen
}

// ReapRing copies up to len(events) completions straight from the ring,
// as io_getevents with a zero timeout would, and returns how many. Only
// call it when HasUserRing is true, from one goroutine at a time, and never
// concurrently with GetEvents on the same context.
func (c Context) ReapRing(events []Event) int {
	r := c.ring()
	nr := r.Nr
	head := atomic.LoadUint32(&r.Head)
	tail := atomic.LoadUint32(&r.Tail) // the kernel publishes events before tail
	if head >= nr || tail >= nr {
		return 0
	}
	ring := unsafe.Slice((*Event)(unsafe.Add(unsafe.Pointer(r), ringHeaderLen)), nr)
	n := 0
	for head != tail && n < len(events) {
		events[n] = ring[head]
		head = (head + 1) % nr
		n++
	}
	atomic.StoreUint32(&r.Head, head) // after the copies: the slots may be reused
	return n
}

// RingPending reports whether completions wait in the ring, without taking
// them. Only call it when HasUserRing is true.
func (c Context) RingPending() bool {
	r := c.ring()
	return atomic.LoadUint32(&r.Head) != atomic.LoadUint32(&r.Tail)
}
