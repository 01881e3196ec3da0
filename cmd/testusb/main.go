// Command testusb runs the kernel's usbtest driver tests on every USB
// interface usbtest has claimed, like the kernel's tools/usb/testusb.c, and
// reports each result with the kernel-measured time and, for bulk tests,
// the throughput.
//
//	testusb -a                      every test on every usbtest interface
//	testusb -D /dev/bus/usb/001/002 -t 27 -c 400 -s 65536 -g 8
//	testusb -n                      list the interfaces, run nothing
//	testusb --bind 1d6b:0104        hand a gadget's IDs to usbtest (new_id)
//
// Without -t, tests 0..29 run in turn and the ones the interface cannot run
// (EOPNOTSUPP) are left out of the table. Exit status: 0 all tests passed,
// 1 a test failed or nothing could run, 2 usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/internal/usbtest"
)

// usageError marks errors that exit with status 2.
type usageError struct{ error }

// errFailed reports that some test failed; the results say which.
var errFailed = errors.New("some tests failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "testusb:", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}

type options struct {
	all, list, json, showAll bool
	device                   string
	test                     int
	params                   usbtest.Params
	bind, like, pattern      string
	wait                     time.Duration
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	o := options{params: usbtest.DefaultParams()} // Test 0
	cmd := &cobra.Command{
		Use:   "testusb (-a | -D DEVICE | -n | --bind VID:PID) [flags]",
		Short: "Run the kernel's usbtest tests on USB interfaces bound to usbtest",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q: testusb takes only flags", args[0])}
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if !c.Flags().Changed("device") {
				o.device = os.Getenv("DEVICE") // as testusb, for hotplug scripts
			}
			return run(c.Context(), stdout, stderr, o, c.Flags().Changed("test"))
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "test every interface bound to usbtest")
	f.StringVarP(&o.device, "device", "D", "", "test only this usbfs node, /dev/bus/usb/BBB/DDD (default $DEVICE)")
	f.BoolVarP(&o.list, "list", "n", false, "list the interfaces bound to usbtest and run nothing")
	f.IntVarP(&o.test, "test", "t", 0, "run only this test number (default: 0..29)")
	f.Uint32VarP(&o.params.Iterations, "count", "c", o.params.Iterations, "iterations")
	f.Uint32VarP(&o.params.Length, "size", "s", o.params.Length, "transfer length in bytes")
	f.Uint32VarP(&o.params.Vary, "vary", "v", o.params.Vary, "vary transfer sizes by this many bytes")
	f.Uint32VarP(&o.params.SGLen, "sglen", "g", o.params.SGLen, "scatterlist entries, or URBs in flight (tests 10, 24, 27, 28)")
	f.StringVar(&o.bind, "bind", "", "add VID:PID to usbtest through new_id before testing")
	f.StringVar(&o.like, "like", usbtest.GadgetZero.String(), "with --bind: the usbtest table entry whose tests VID:PID gets")
	f.StringVar(&o.pattern, "pattern", "", "set usbtest's data pattern for this run: zeros (0) or mod63 (1); 27/28 need zeros")
	f.DurationVar(&o.wait, "wait", 0, "wait up to this long for an interface to be bound")
	f.BoolVar(&o.json, "json", false, "write the results as JSON")
	f.BoolVar(&o.showAll, "show-unsupported", false, "list unsupported tests in the table too")
	return cmd
}

func run(ctx context.Context, stdout, stderr io.Writer, o options, oneTest bool) error {
	if o.bind != "" {
		id, err := usbtest.ParseID(o.bind)
		if err != nil {
			return usageError{fmt.Errorf("--bind: %w", err)}
		}
		like, err := usbtest.ParseID(o.like)
		if err != nil {
			return usageError{fmt.Errorf("--like: %w", err)}
		}
		if err := usbtest.Bind(id, like); err != nil {
			return err
		}
		if !o.all && o.device == "" && !o.list {
			return nil
		}
	}
	if !o.all && o.device == "" && !o.list {
		return usageError{errors.New("say which interfaces: -a (all), -D /dev/bus/usb/BBB/DDD, or -n to list them")}
	}
	if o.pattern != "" {
		if _, err := parsePattern(o.pattern); err != nil {
			return usageError{err}
		}
	}
	tests, err := selectTests(stderr, o, oneTest)
	if err != nil {
		return err
	}
	devs, err := devices(ctx, o)
	if err != nil {
		return err
	}
	if o.list {
		for _, d := range devs {
			fmt.Fprintf(stdout, "%s\t%s\t%s\tinterface %d\t%s Mb/s\t%s\n", d.Path, d.Interface, d.ID, d.Ifnum, d.Speed, d.Serial)
		}
		return nil
	}
	if o.pattern != "" {
		restore, err := setPattern(o.pattern)
		if err != nil {
			return err
		}
		defer restore()
	}
	results, errs := runAll(ctx, devs, tests)
	for _, err := range errs {
		fmt.Fprintln(stderr, "testusb:", err)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else if err := usbtest.WriteTable(stdout, results, o.showAll || oneTest); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errFailed
	}
	for _, r := range results {
		if r.Status == usbtest.Failed || r.Status == usbtest.Abandoned {
			return errFailed
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// selectTests returns the one test asked for, or every test number whose
// parameters usbtest would accept (the others are named on stderr).
func selectTests(stderr io.Writer, o options, oneTest bool) ([]usbtest.Params, error) {
	if oneTest {
		p := o.params
		p.Test = o.test
		if err := p.Check(); err != nil {
			return nil, usageError{err}
		}
		return []usbtest.Params{p}, nil
	}
	// Test 0 checks only what every test needs.
	if err := o.params.Check(); err != nil {
		return nil, usageError{err}
	}
	tests, skipped := usbtest.AllTests(o.params)
	for _, err := range skipped {
		fmt.Fprintf(stderr, "testusb: skipped, usbtest would refuse it: %v\n", err)
	}
	return tests, nil
}

func devices(ctx context.Context, o options) ([]usbtest.Device, error) {
	want := func(d usbtest.Device) bool { return o.device == "" || d.Path == o.device }
	if o.wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, o.wait)
		_, err := usbtest.Wait(wctx, want)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	all, err := usbtest.Find()
	if err != nil {
		return nil, err
	}
	var devs []usbtest.Device
	for _, d := range all {
		if want(d) {
			devs = append(devs, d)
		}
	}
	if len(devs) == 0 && !o.list {
		if o.device != "" {
			return nil, fmt.Errorf("%s: no interface of it is bound to usbtest (%d others are)", o.device, len(all))
		}
		return nil, errors.New("no interface is bound to usbtest")
	}
	return devs, nil
}

// runAll runs the tests on every device at once, as testusb runs a thread
// per device, and returns the results in device order with the devices
// that could not be tested (an abandoned test is in the results).
func runAll(ctx context.Context, devs []usbtest.Device, tests []usbtest.Params) ([]usbtest.Result, []error) {
	per := make([][]usbtest.Result, len(devs))
	errs := make([]error, len(devs))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Go(func() {
			per[i], errs[i] = usbtest.RunSuite(ctx, d, tests)
		})
	}
	wg.Wait()
	var out []usbtest.Result
	var failed []error
	for i, rs := range per {
		out = append(out, rs...)
		if errs[i] != nil && len(rs) == 0 {
			failed = append(failed, fmt.Errorf("%s: %w", devs[i].Path, errs[i]))
		}
	}
	return out, failed
}

func parsePattern(s string) (usbtest.Pattern, error) {
	switch s {
	case "0", "zeros":
		return usbtest.PatternZeros, nil
	case "1", "mod63":
		return usbtest.PatternMod63, nil
	}
	return 0, fmt.Errorf("--pattern: %q is not a usbtest pattern (zeros or mod63)", s)
}

// setPattern sets usbtest's pattern and returns what puts the old one back.
func setPattern(s string) (restore func(), err error) {
	p, err := parsePattern(s)
	if err != nil {
		return nil, err
	}
	old, err := usbtest.GetPattern()
	if err != nil {
		return nil, err
	}
	if err := usbtest.SetPattern(p); err != nil {
		return nil, err
	}
	return func() { usbtest.SetPattern(old) }, nil
}
