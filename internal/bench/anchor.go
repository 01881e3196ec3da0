package bench

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/linux"
)

// anchorTimeout bounds one blocking io_getevents of the anchor: a hang
// guard, far above any latency measured.
var anchorTimeout = unix.Timespec{Sec: 10}

// anchorLatency is the floor under the engine's cancel latency: the least
// work that cancels a pending read and learns its completion. On an OS
// thread of its own, with its own AIO context on a second descriptor of the
// endpoint file at path, it keeps depth reads pending and n times cancels
// one (io_cancel) and blocks in io_getevents for its completion: no
// eventfd, no runtime poller, no goroutine hand-off.
func anchorLatency(path string, depth, n int) (CancelResult, []time.Duration, error) {
	res := CancelResult{Path: "anchor", Depth: depth, Outcomes: map[string]int{}, IOCancel: map[string]int{}}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return res, nil, fmt.Errorf("bench: anchor: open %s: %w", path, err)
	}
	defer unix.Close(fd)
	actx, err := linux.Setup(depth)
	if err != nil {
		return res, nil, fmt.Errorf("bench: anchor: %w", err)
	}
	page := os.Getpagesize()
	cbBytes := (depth*linux.IOCBSize + page - 1) / page * page
	mem, err := linux.Map(cbBytes + depth*cancelRequestSize)
	if err != nil {
		actx.Destroy()
		return res, nil, fmt.Errorf("bench: anchor: %w", err)
	}
	// io_destroy waits for whatever is still in flight: only then may the
	// memory go.
	defer func() { actx.Destroy(); mem.Unmap() }()
	cbs := mem.IOCBs(0, depth)
	bufs := mem.Bytes()[cbBytes:]
	ptrs := make([]*linux.IOCB, depth)
	for i := range cbs {
		cbs[i].PrepRead(fd, bufs[i*cancelRequestSize:(i+1)*cancelRequestSize], uint64(i), -1)
		ptrs[i] = &cbs[i]
	}
	if got, err := actx.Submit(ptrs); err != nil || got != depth {
		return res, nil, fmt.Errorf("bench: anchor: io_submit of %d reads on %s: %d queued, %v", depth, path, got, err)
	}
	events := make([]linux.Event, 1)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		k := i % depth
		start := time.Now()
		errno := actx.CancelErrno(&cbs[k])
		got, err := actx.GetEvents(1, events, &anchorTimeout)
		lat = append(lat, time.Since(start))
		if err != nil || got != 1 {
			return res, nil, fmt.Errorf("bench: anchor: io_getevents after cancel %d: %d events, %v", i, got, err)
		}
		if events[0].Data != uint64(k) {
			return res, nil, fmt.Errorf("bench: anchor: cancel %d of read %d reaped read %d", i, k, events[0].Data)
		}
		res.IOCancel[errnoName(errno)]++
		res.Outcomes[resName(events[0].Res)]++
		if _, err := actx.Submit(ptrs[k : k+1]); err != nil {
			return res, nil, fmt.Errorf("bench: anchor: resubmit after cancel %d: %w", i, err)
		}
	}
	for k := range cbs {
		actx.CancelErrno(&cbs[k])
	}
	for left := depth; left > 0; left-- {
		if got, err := actx.GetEvents(1, events, &anchorTimeout); err != nil || got != 1 {
			return res, nil, fmt.Errorf("bench: anchor: draining: %d events, %v", got, err)
		}
	}
	return res, lat, nil
}

// resName names a completion's res: "completed" for bytes, else its errno.
func resName(r int64) string {
	if r >= 0 {
		return "completed"
	}
	return errnoName(syscall.Errno(-r))
}
