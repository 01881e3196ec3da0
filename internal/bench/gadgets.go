package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/configfs"
)

// IDs of every benchmark gadget: the Linux Foundation's composite gadget,
// which no host driver claims (usbtest would claim gadget zero's 0525:a4a0).
const (
	benchVID = 0x1d6b
	benchPID = 0x0104
)

// Setup is one implementation at one gadget-side request size.
type Setup struct {
	Impl        string
	RequestSize int
	Queue       int    // gadget-side requests per endpoint
	UDC         string // dummy_udc.N
	Serial      string // unique, so the host side finds this gadget
	Gadgetd     string // path of the gadgetd binary
	// Benchguest is the binary that serves `anchor-sourcesink` for
	// AnchorSourceSink; empty: this process's own executable.
	Benchguest string
	Dir        string // scratch directory for gadgetd's file and log
	// GadgetZero gives the gadget gadget zero's IDs, 0525:a4a0, so that
	// the kernel's usbtest driver claims it instead of leaving it to
	// hosttest.
	GadgetZero bool
}

func (s Setup) ids() (vid, pid uint16) {
	if s.GadgetZero {
		return 0x0525, 0xa4a0
	}
	return benchVID, benchPID
}

// Server is a running gadget: a gadgetd process or a kernel function.
type Server struct {
	PID    int // gadgetd's pid, 0 for a kernel function
	Serial string
	stop   func() error
	exited chan struct{} // closed when gadgetd exits; nil for a kernel function
	log    string        // gadgetd's log file
}

// Stop tears the gadget down.
func (s *Server) Stop() error { return s.stop() }

// Start builds the gadget of s, binds it to s.UDC and waits until the host
// side has configured it.
func Start(ctx context.Context, s Setup) (*Server, error) {
	var srv *Server
	var err error
	switch s.Impl {
	case KernelSourceSink, KernelLoopback:
		srv, err = startKernel(s)
	case GadgetdSourceSink, GadgetdLoopback:
		srv, err = startGadgetd(s)
	case AnchorSourceSink:
		srv, err = startAnchor(s)
	default:
		return nil, fmt.Errorf("bench: implementation %q: want one of %s, %s, %s, %s, %s", s.Impl, KernelSourceSink, GadgetdSourceSink, KernelLoopback, GadgetdLoopback, AnchorSourceSink)
	}
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if srv.exited != nil {
		// gadgetd failing before the host sees the device ends the wait.
		go func() {
			select {
			case <-srv.exited:
				cancel()
			case <-wctx.Done():
			}
		}()
	}
	if err := WaitHost(wctx, s.Serial, 30*time.Second); err != nil {
		if srv.exited != nil && ctx.Err() == nil && wctx.Err() != nil {
			return nil, fmt.Errorf("bench: gadgetd exited before the host saw it: %s", tail(srv.log))
		}
		return nil, errors.Join(err, srv.Stop())
	}
	return srv, nil
}

func gadgetName(serial string) string { return "bench-" + serial }

func startKernel(s Setup) (*Server, error) {
	r := &configfs.Root{}
	fn := configfs.SourceSink("0", configfs.SourceSinkOptions{BulkBufLen: s.RequestSize, BulkQLen: s.Queue})
	if s.Impl == KernelLoopback {
		fn = configfs.Loopback("0", configfs.LoopbackOptions{BulkBufLen: s.RequestSize, QLen: s.Queue})
	}
	vid, pid := s.ids()
	g := &configfs.Gadget{
		Name:      gadgetName(s.Serial),
		VendorID:  vid,
		ProductID: pid,
		Strings:   []configfs.DeviceStrings{{Lang: 0x409, Manufacturer: "gadgetkit", Product: s.Impl, SerialNumber: s.Serial}},
		Functions: []configfs.Function{fn},
		Configs:   []configfs.Config{{Number: 1, MaxPowerMA: 100, Functions: []string{fn.Dir()}}},
	}
	if err := r.Create(g); err != nil {
		return nil, err
	}
	if err := r.Bind(g.Name, s.UDC); err != nil {
		return nil, errors.Join(err, r.Remove(g.Name))
	}
	return &Server{Serial: s.Serial, stop: func() error { return r.Remove(g.Name) }}, nil
}

// gadgetdFile is the gadget file of a gadgetd benchmark gadget: one vendor
// interface with a bulk IN and a bulk OUT endpoint, like the kernel's. The
// function is named after the gadget: a functionfs instance name is
// system-wide, and several gadgets run at once on several UDCs.
const gadgetdFile = `gadget:
  name: %[1]s
  vid: 0x%04[2]x
  pid: 0x%04[3]x
  strings:
    0x409:
      manufacturer: gadgetkit
      product: %[4]s
      serial: "%[5]s"
udc: %[6]s
configurations:
  - max_power_ma: 100
    functions: [%[1]s]
functions:
  - name: %[1]s
    type: ffs
    mount:
      dir: %[7]s
    interfaces:
      - class: vendor-specific
        name: bench
        endpoints:
          - direction: in
            type: bulk
          - direction: out
            type: bulk
    personality:
      kind: %[8]s
      queue_depth: %[9]d
      request_size: %[10]d
%[11]slog:
  format: text
  level: warn
`

func startGadgetd(s Setup) (*Server, error) {
	name := gadgetName(s.Serial)
	kind, pattern := "sourcesink", "      pattern: zeros\n"
	if s.Impl == GadgetdLoopback {
		kind, pattern = "loopback", ""
	}
	file := filepath.Join(s.Dir, name+".yaml")
	vid, pid := s.ids()
	body := fmt.Sprintf(gadgetdFile, name, vid, pid, s.Impl, s.Serial, s.UDC,
		filepath.Join("/dev/usb-ffs", name), kind, s.Queue, s.RequestSize, pattern)
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(s.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.Gadgetd, "run", "-c", file, "--status-socket", filepath.Join(s.Dir, name+".sock"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); logf.Close(); close(exited) }()
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			err := waitErr
			if err != nil {
				return fmt.Errorf("gadgetd %s: %v: %s", name, err, tail(logf.Name()))
			}
			return nil
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("gadgetd %s did not exit within 10s of SIGTERM", name)
		}
	}
	return &Server{PID: cmd.Process.Pid, Serial: s.Serial, stop: stop, exited: exited, log: logf.Name()}, nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " / ")
}

// WaitHost waits until the host side has configured the device whose
// serial number is serial (no udevd in the guest: poll sysfs).
func WaitHost(ctx context.Context, serial string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if HostDevice(serial) != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: no configured host device with serial %q after %v", serial, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// HostDevice returns the sysfs directory of the configured host device
// with this serial number, or "".
func HostDevice(serial string) string {
	dirs, _ := filepath.Glob("/sys/bus/usb/devices/*/serial")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(b)) != serial {
			continue
		}
		dir := filepath.Dir(f)
		c, err := os.ReadFile(filepath.Join(dir, "bConfigurationValue"))
		if err == nil && strings.TrimSpace(string(c)) != "" {
			return dir
		}
	}
	return ""
}
