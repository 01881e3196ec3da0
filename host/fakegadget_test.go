//go:build cgo

package host

import (
	"context"
	"sync"
)

// fakeLoopback models f_loopback on dummy_hcd at packet level: OUT packets
// fill a bufLen request that completes when full or on a short packet (a
// ZLP included); each completed request is echoed on IN as packets, with a
// trailing ZLP when it completed short on a packet boundary, as the
// kernel's loopback sets req->zero. A host read ends when its buffer is full
// or a short packet arrives.
type fakeLoopback struct {
	mp, bufLen int
	corrupt    func(p []byte) // optional: alters echoed data

	mu      sync.Mutex
	cond    *sync.Cond
	req     []byte   // OUT request being filled
	packets [][]byte // IN packets queued
}

func newFakeLoopback(mp, bufLen int) *fakeLoopback {
	f := &fakeLoopback{mp: mp, bufLen: bufLen}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fakeLoopback) WriteContext(ctx context.Context, p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for {
		pkt := p[n:min(n+f.mp, len(p))]
		n += len(pkt)
		room := f.bufLen - len(f.req)
		// A packet larger than the room left would babble; bufLen is a
		// multiple of mp, so it never is.
		f.req = append(f.req, pkt[:min(len(pkt), room)]...)
		if len(f.req) == f.bufLen || len(pkt) < f.mp {
			f.complete(len(f.req) < f.bufLen)
		}
		if n == len(p) {
			break
		}
	}
	f.cond.Broadcast()
	return n, nil
}

func (f *fakeLoopback) complete(short bool) {
	data := f.req
	f.req = nil
	if f.corrupt != nil {
		f.corrupt(data)
	}
	for off := 0; off < len(data); off += f.mp {
		f.packets = append(f.packets, data[off:min(off+f.mp, len(data))])
	}
	if short && len(data)%f.mp == 0 {
		f.packets = append(f.packets, nil)
	}
}

func (f *fakeLoopback) ReadContext(ctx context.Context, p []byte) (int, error) {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for n < len(p) {
		for len(f.packets) == 0 {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			f.cond.Wait()
		}
		pkt := f.packets[0]
		f.packets = f.packets[1:]
		n += copy(p[n:], pkt)
		if len(pkt) < f.mp {
			break
		}
	}
	return n, nil
}
