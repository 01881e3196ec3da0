//go:build cgo

// Command hosttest is the USB host side of gadgetkit's tests: it finds a
// gadget from the host and checks, loads and aborts transfers against it,
// over libusb (github.com/google/gousb).
//
//	hosttest dump                  print every descriptor the host sees, as JSON
//	hosttest verify -c FILE        compare them with a gadget config file
//	hosttest verify --expect JSON  compare them with an earlier dump
//	hosttest loopback              write, read back and check every byte
//	hosttest bench                 bulk IN/OUT/both throughput and latency
//	hosttest abort                 provoke aborts, check the pipe after each
//	hosttest ctrl                  issue one control transfer
//
// The device is selected with --device VID:PID, --serial and --port (the
// sysfs bus-port name such as 1-1); with none of them, the only non-hub
// device. hosttest waits for it up to --timeout, which bounds the whole
// command: nothing can hang past it.
//
// Exit status (see README.md): 0 success, 1 a check failed, 2 usage,
// 3 device not found or gone, 4 timeout, 5 other error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/gousb"
	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/host"
)

// Exit statuses.
const (
	exitOK       = 0
	exitCheck    = 1 // a comparison or data check failed
	exitUsage    = 2 // bad flags or arguments
	exitNotFound = 3 // no such device, or it left during the command
	exitTimeout  = 4 // --timeout passed
	exitError    = 5 // anything else (I/O errors, permissions)
)

// usageError exits with exitUsage.
type usageError struct{ error }

// checkError exits with exitCheck.
type checkError struct{ error }

func (e checkError) Unwrap() error { return e.error }
func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one hosttest command line and returns its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	code := exitCode(err)
	if err != nil {
		fmt.Fprintln(stderr, "hosttest:", err)
	}
	return code
}

func exitCode(err error) int {
	var me *host.MismatchError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usageError{}):
		return exitUsage
	case errors.Is(err, host.ErrNotFound), errors.Is(err, host.ErrGone):
		return exitNotFound
	case errors.As(err, &checkError{}), errors.As(err, &me):
		return exitCheck
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, gousb.ErrorTimeout), errors.Is(err, gousb.TransferTimedOut):
		return exitTimeout
	}
	return exitError
}

// globals are the flags every command takes.
type globals struct {
	device, serial, port string
	sysfs                string
	timeout, ctlTimeout  time.Duration
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "hosttest",
		Short:         "Check, load and abort USB transfers against a gadget from the host side",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.device, "device", "", "select the device by VID:PID (hexadecimal, e.g. 1d6b:0104)")
	pf.StringVar(&g.serial, "serial", "", "select the device by serial number")
	pf.StringVar(&g.port, "port", "", "select the device by sysfs bus-port name (e.g. 1-1)")
	pf.DurationVar(&g.timeout, "timeout", 30*time.Second, "bound on the whole command, waiting for the device included")
	pf.DurationVar(&g.ctlTimeout, "control-timeout", host.DefaultControlTimeout, "bound on each control transfer")
	pf.StringVar(&g.sysfs, "sysfs", host.SysfsRoot, "where sysfs is mounted")
	pf.MarkHidden("sysfs")
	root.AddCommand(newDump(g), newVerify(g), newLoopback(g), newBench(g), newAbort(g), newCtrl(g))
	for _, c := range root.Commands() {
		c.Args = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("%s takes no arguments, got %q", c.Name(), args)
			}
			return nil
		}
	}
	// Setting Args and RunE on the root makes an unknown or missing
	// command a usage error (cobra's own is a plain error).
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q (see hosttest --help)", args[0])
		}
		return nil
	}
	root.RunE = func(c *cobra.Command, _ []string) error {
		return usagef("missing command (see hosttest --help)")
	}
	return root
}

// open validates the global flags, then waits for and opens the device.
// The returned context carries --timeout.
func (g *globals) open(c *cobra.Command) (context.Context, context.CancelFunc, *host.Device, error) {
	sel := host.Selector{Serial: g.serial, Port: g.port}
	if g.device != "" {
		var err error
		if sel.Vendor, sel.Product, err = host.ParseVIDPID(g.device); err != nil {
			return nil, nil, nil, usagef("--device: %v", err)
		}
	}
	if g.timeout <= 0 {
		return nil, nil, nil, usagef("--timeout %v: must be positive", g.timeout)
	}
	if g.ctlTimeout <= 0 {
		return nil, nil, nil, usagef("--control-timeout %v: must be positive (0 would wait forever)", g.ctlTimeout)
	}
	ctx, cancel := context.WithTimeout(c.Context(), g.timeout)
	d, err := host.Open(ctx, host.Options{Selector: sel, SysfsRoot: g.sysfs, ControlTimeout: g.ctlTimeout})
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, func() { d.Close(); cancel() }, d, nil
}
