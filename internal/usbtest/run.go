package usbtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/linux"
)

// Status is a test's outcome.
type Status string

// Outcomes.
const (
	Passed      Status = "pass"
	Failed      Status = "fail"
	Unsupported Status = "unsupported" // EOPNOTSUPP: the interface lacks what the test needs
	Abandoned   Status = "abandoned"   // the context ended while the kernel was still running it
)

// Result is one test run on one interface.
type Result struct {
	Device Device
	Params Params
	Status Status
	// Err is the driver's errno (a syscall.Errno inside) when Status is
	// Failed or Unsupported, the context's error when Abandoned.
	Err error
	// Duration is what the kernel measured around the test (microsecond
	// resolution); zero unless Passed.
	Duration time.Duration
	// Bytes is the bulk payload moved, when Params.Bytes knows it and the
	// test passed.
	Bytes uint64
}

// MBps is the bulk throughput in MB/s (10^6 bytes per second) from the
// kernel's duration, or 0 when unknown.
func (r Result) MBps() float64 {
	if r.Bytes == 0 || r.Duration <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Duration.Seconds() / 1e6
}

// Errno is the errno the driver returned, or 0.
func (r Result) Errno() syscall.Errno {
	var e syscall.Errno
	if errors.As(r.Err, &e) {
		return e
	}
	return 0
}

// MarshalJSON writes a flat record: device, parameters, status, errno and
// error text, duration in microseconds, bytes and MB/s.
func (r Result) MarshalJSON() ([]byte, error) {
	type rec struct {
		Device     Device  `json:"device"`
		Test       int     `json:"test"`
		Name       string  `json:"name"`
		Iterations uint32  `json:"iterations"`
		Length     uint32  `json:"length"`
		Vary       uint32  `json:"vary"`
		SGLen      uint32  `json:"sglen"`
		Status     Status  `json:"status"`
		Errno      int     `json:"errno,omitempty"`
		Error      string  `json:"error,omitempty"`
		DurationUS int64   `json:"duration_us"`
		Bytes      uint64  `json:"bytes,omitempty"`
		MBps       float64 `json:"mb_per_s,omitempty"`
	}
	out := rec{
		Device: r.Device, Test: r.Params.Test, Iterations: r.Params.Iterations,
		Length: r.Params.Length, Vary: r.Params.Vary, SGLen: r.Params.SGLen,
		Status: r.Status, Errno: int(r.Errno()), DurationUS: r.Duration.Microseconds(),
		Bytes: r.Bytes, MBps: r.MBps(),
	}
	if r.Params.Test >= 0 && r.Params.Test < NumTests {
		out.Name = Tests[r.Params.Test].Name
	}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	return json.Marshal(out)
}

// ErrBusy means a test Run abandoned is still running in the kernel.
var ErrBusy = errors.New("usbtest: an abandoned test is still running in the kernel")

// Conn is an open usbfs node of a Device. Its methods are not safe for
// concurrent use; usbtest runs one test per interface at a time anyway.
type Conn struct {
	dev Device
	f   *os.File
	// running is closed when the last test's ioctl has returned.
	running chan struct{}
}

// Open opens the device's usbfs node read-write.
func Open(dev Device) (*Conn, error) {
	f, err := os.OpenFile(dev.Path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("usbtest %s: %w", dev.Interface, err)
	}
	return &Conn{dev: dev, f: f}, nil
}

// Close closes the node. While an abandoned test still runs in the kernel,
// Close returns at once and the node is closed when the test ends.
func (c *Conn) Close() error {
	if c.running != nil {
		select {
		case <-c.running:
		default:
			go func() {
				<-c.running
				c.f.Close()
			}()
			return nil
		}
	}
	return c.f.Close()
}

// Run runs one test. Bad parameters are an error; everything the kernel
// says is in the Result. If ctx ends first, Run returns an Abandoned result
// at once while the kernel goes on with the test (it cannot be stopped).
func (c *Conn) Run(ctx context.Context, p Params) (Result, error) {
	if err := p.Check(); err != nil {
		return Result{}, err
	}
	res := Result{Device: c.dev, Params: p}
	if err := ctx.Err(); err != nil {
		res.Status, res.Err = Abandoned, err
		return res, nil
	}
	if c.running != nil {
		select {
		case <-c.running:
		default:
			return Result{}, ErrBusy
		}
	}
	rc, err := c.f.SyscallConn()
	if err != nil {
		return Result{}, err
	}
	type done struct {
		param linux.USBTestParam
		err   error
	}
	ch := make(chan done, 1)
	running := make(chan struct{})
	c.running = running
	go func() {
		var d done
		d.param = linux.USBTestParam{
			TestNum: uint32(p.Test), Iterations: p.Iterations, Length: p.Length,
			Vary: p.Vary, SGLen: p.SGLen,
		}
		// Control holds a reference on the fd, so a Close meanwhile
		// cannot let the number be reused under the running ioctl.
		if cerr := rc.Control(func(fd uintptr) { d.err = linux.USBTestRequest(int(fd), c.dev.Ifnum, &d.param) }); cerr != nil {
			d.err = cerr
		}
		close(running) // before the result, so the next Run never sees it busy
		ch <- d
	}()
	var d done
	select {
	case d = <-ch:
	case <-ctx.Done():
		res.Status, res.Err = Abandoned, ctx.Err()
		return res, nil
	}
	switch {
	case d.err == nil:
		res.Status = Passed
		res.Duration = time.Duration(d.param.DurationSec)*time.Second + time.Duration(d.param.DurationUsec)*time.Microsecond
		res.Bytes, _ = p.Bytes()
	case errors.Is(d.err, syscall.EOPNOTSUPP):
		res.Status, res.Err = Unsupported, d.err
	default:
		res.Status, res.Err = Failed, explain(d.err, c.dev)
	}
	return res, nil
}

// explain adds what usbfs's and usbtest's errnos mean here.
func explain(err error, dev Device) error {
	var why string
	switch {
	case errors.Is(err, syscall.ENODATA):
		why = "no driver is bound to the interface"
	case errors.Is(err, syscall.ENOTTY):
		why = "the interface's driver is not usbtest"
	case errors.Is(err, syscall.EHOSTUNREACH):
		why = "the device is not configured"
	case errors.Is(err, syscall.ENODEV) && dev.Ifnum != 0:
		why = "usbtest runs tests on interface 0 only"
	case errors.Is(err, syscall.EPIPE):
		why = "the device stalled a request"
	case errors.Is(err, syscall.ETIMEDOUT):
		why = "a transfer timed out"
	case errors.Is(err, syscall.EINVAL):
		why = "usbtest refused the parameters, or data read back broke its pattern: see the kernel log"
	default:
		return err
	}
	return fmt.Errorf("%w (%s)", err, why)
}

// RunSuite opens dev and runs each test in order. It stops early only when
// ctx ends (the interrupted test is reported Abandoned) or on bad
// parameters; test failures are in the results.
func RunSuite(ctx context.Context, dev Device, tests []Params) ([]Result, error) {
	for _, p := range tests {
		if err := p.Check(); err != nil {
			return nil, err
		}
	}
	c, err := Open(dev)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var results []Result
	for _, p := range tests {
		r, err := c.Run(ctx, p)
		if err != nil {
			return results, err
		}
		results = append(results, r)
		if r.Status == Abandoned {
			return results, r.Err
		}
	}
	return results, nil
}
