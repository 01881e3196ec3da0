package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/linux"
	"github.com/gadgetkit/gadgetkit/usb"
)

// The throughput anchor (AnchorSourceSink) is the least work user space can
// do to source and sink bulk data through f_fs: one OS thread, one AIO
// context over both endpoints, every request resubmitted as soon as it is
// reaped, io_getevents blocking for the next completions (no eventfd, no
// runtime poller, no goroutine hand-off), the IN buffers zeros (usbtest's
// default pattern) written once, the OUT data not looked at. What f_fs costs
// per request (io_submit, the bounce buffer, its completion workqueue, the
// AIO ring) it pays like gadgetd; what gadgetd adds on top (Go's scheduler,
// the reaper, the pattern check) it does not. So kernel / anchor is what f_fs
// costs and anchor / gadgetd what gadgetd's engine costs, in the same run.
//
// It runs as a process of its own (benchguest anchor-sourcesink), so that
// its CPU time is counted apart from usbtest's, which runs in benchguest's.

// anchorPoll bounds one wait of the anchor's loop: how late it sees its
// context end, or retries a submission f_fs refused while the endpoint was
// being re-enabled (usbtest's SET_INTERFACE before each test).
var anchorPoll = unix.NsecToTimespec(int64(20 * time.Millisecond))

// ServeAnchor serves the anchor sourcesink on the FunctionFS mount until
// ctx is done: it writes the descriptors (one vendor interface, bulk IN and
// OUT), writes "ready" to ready once the UDC may be bound, and moves data
// with depth requests of size bytes per endpoint.
func ServeAnchor(ctx context.Context, mount string, size, depth int, ready io.Writer) error {
	f, err := ffs.Open(mount, ffs.Config{
		Descriptors: &ffs.Descriptors{Interfaces: []ffs.Interface{{Class: usb.ClassVendorSpecific, Name: 1, Endpoints: []ffs.Endpoint{
			{Address: usb.Address(1, usb.In), Type: usb.Bulk},
			{Address: usb.Address(2, usb.Out), Type: usb.Bulk},
		}}}},
		Strings:     &ffs.Strings{Languages: []ffs.Language{{ID: usb.LangEnglishUS, Strings: []string{"anchor source/sink"}}}},
		QueueDepth:  1, // the Function's own requests are not used
		RequestSize: os.Getpagesize(),
	})
	if err != nil {
		return err
	}
	defer f.Close()
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- f.Run(runCtx) }()
	defer func() { stop(); <-ran }()
	if _, err := io.WriteString(ready, "ready\n"); err != nil {
		return err
	}
	if err := f.WaitState(ctx, ffs.StateEnabled); err != nil {
		return err
	}
	var eps []anchorEP
	for _, ep := range f.EPs() {
		eps = append(eps, anchorEP{filepath.Join(mount, ep.Name()), ep.Address().IsIn()})
	}
	return anchorLoop(ctx, eps, size, depth)
}

// anchorEP is an endpoint file of the anchor and its direction.
type anchorEP struct {
	path string
	in   bool
}

// anchorLoop keeps depth requests of size bytes queued on each endpoint
// file of eps (IN writes, OUT reads) until ctx is done.
func anchorLoop(ctx context.Context, eps []anchorEP, size, depth int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	page := os.Getpagesize()
	size = (size + page - 1) / page * page
	total := len(eps) * depth
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, ep := range eps {
		fd, err := unix.Open(ep.path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("bench: anchor: open %s: %w", ep.path, err)
		}
		fds = append(fds, fd)
	}
	actx, err := linux.Setup(total)
	if err != nil {
		return fmt.Errorf("bench: anchor: %w", err)
	}
	cbBytes := (total*linux.IOCBSize + page - 1) / page * page
	mem, err := linux.Map(cbBytes + total*size)
	if err != nil {
		actx.Destroy()
		return fmt.Errorf("bench: anchor: %w", err)
	}
	cbs := mem.IOCBs(0, total)
	bufs := mem.Bytes()[cbBytes:]
	ptrs := make([]*linux.IOCB, total)
	inKernel := make([]bool, total)
	for i := range cbs {
		buf, fd := bufs[i*size:(i+1)*size], fds[i/depth]
		if eps[i/depth].in {
			cbs[i].PrepWrite(fd, buf, uint64(i), -1)
		} else {
			cbs[i].PrepRead(fd, buf, uint64(i), -1)
		}
		ptrs[i] = &cbs[i]
	}
	// io_destroy waits for whatever is still in flight: only then may the
	// memory go.
	defer func() {
		for i := range cbs {
			if inKernel[i] {
				actx.CancelErrno(&cbs[i])
			}
		}
		actx.Destroy()
		mem.Unmap()
	}()
	todo := append(make([]*linux.IOCB, 0, total), ptrs...) // reaped, not yet resubmitted
	events := make([]linux.Event, total)
	for ctx.Err() == nil {
		if len(todo) > 0 {
			got, err := actx.Submit(todo)
			for _, cb := range todo[:got] {
				inKernel[cb.Data] = true
			}
			todo = todo[:copy(todo, todo[got:])]
			if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.ESHUTDOWN) {
				return fmt.Errorf("bench: anchor: %w", err)
			}
		}
		n, err := actx.GetEvents(1, events, &anchorPoll)
		if err != nil {
			return fmt.Errorf("bench: anchor: %w", err)
		}
		for _, ev := range events[:n] {
			inKernel[ev.Data] = false
			todo = append(todo, ptrs[ev.Data])
		}
	}
	return nil
}

// startAnchor builds a gadget around a FunctionFS function served by a
// benchguest anchor-sourcesink process and binds it to s.UDC.
func startAnchor(s Setup) (srv *Server, err error) {
	exe := s.Benchguest
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	vid, pid := s.ids()
	g, err := newFFSGadget(s.Serial, "anchor source/sink", vid, pid)
	if err != nil {
		return nil, err
	}
	name, mount := g.name, g.mount
	var cmd *exec.Cmd
	exited := make(chan struct{})
	var waitErr error
	teardown := func() error {
		errs := []error{g.root.Unbind(name)}
		if cmd != nil {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
				if waitErr != nil {
					errs = append(errs, fmt.Errorf("anchor %s: %w", name, waitErr))
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
				errs = append(errs, fmt.Errorf("anchor %s did not exit within 10s of SIGTERM", name))
			}
		}
		return errors.Join(append(errs, g.remove())...)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, teardown())
		}
	}()
	logf, err := os.Create(filepath.Join(s.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd = exec.Command(exe, "anchor-sourcesink", "--mount", mount, "--request-size", fmt.Sprint(s.RequestSize), "--queue", fmt.Sprint(s.Queue))
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		cmd = nil
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		cmd = nil
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
		io.Copy(io.Discard, out)
		waitErr = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	select {
	case l := <-line:
		if l != "ready\n" {
			return nil, fmt.Errorf("bench: anchor %s did not start: %s", name, tail(logf.Name()))
		}
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("bench: anchor %s: not ready within 30 s", name)
	}
	if err := g.root.Bind(name, s.UDC); err != nil {
		return nil, err
	}
	return &Server{PID: cmd.Process.Pid, Serial: s.Serial, stop: teardown, exited: exited, log: logf.Name()}, nil
}
