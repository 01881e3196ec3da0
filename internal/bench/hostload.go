package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/linux"
)

// Pipe is one bulk pair as the host addresses it.
type Pipe struct{ In, Out uint8 }

// HostLoadResult is what HostLoad moved.
type HostLoadResult struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
}

// HostLoad drives several bulk pairs of one device at once from a single
// usbfs file (node is /dev/bus/usb/BBB/DDD): inFlight synchronous
// transfers of size bytes per direction per pipe, for d. hosttest cannot
// do this: each of its processes sets the configuration, which usbfs
// answers with a reset of every endpoint (or EBUSY) while another process
// has an interface claimed.
func HostLoad(ctx context.Context, node string, pipes []Pipe, size, inFlight int, d time.Duration) (HostLoadResult, error) {
	f, err := os.OpenFile(node, os.O_RDWR, 0)
	if err != nil {
		return HostLoadResult{}, err
	}
	defer f.Close()
	// The ioctls block: the raw fd, not the runtime poller (usbfs nodes
	// are not pollable for bulk).
	rc, err := f.SyscallConn()
	if err != nil {
		return HostLoadResult{}, err
	}
	var bytes atomic.Int64
	var firstErr error
	var once sync.Once
	runCtx, stop := context.WithTimeout(ctx, d)
	defer stop()
	var wg sync.WaitGroup
	start := time.Now()
	for _, p := range pipes {
		for _, ep := range []uint8{p.In, p.Out} {
			for range inFlight {
				wg.Go(func() {
					buf := make([]byte, size)
					for runCtx.Err() == nil {
						var n int
						var err error
						rc.Control(func(fd uintptr) { n, err = linux.USBBulk(int(fd), ep, buf, 10000) })
						if err != nil {
							once.Do(func() { firstErr = fmt.Errorf("bulk endpoint %#02x: %w", ep, err); stop() })
							return
						}
						if runCtx.Err() == nil {
							bytes.Add(int64(n))
						}
					}
				})
			}
		}
	}
	wg.Wait()
	el := min(time.Since(start), d).Seconds()
	r := HostLoadResult{Bytes: bytes.Load(), Seconds: el}
	r.MBps = float64(r.Bytes) / 1e6 / el
	return r, firstErr
}
