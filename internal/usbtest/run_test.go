package usbtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// /dev/null is no usbfs node: the ioctl fails with ENOTTY, which Run reports
// as a failed test that says why.
func TestRunNotUsbfs(t *testing.T) {
	c, err := Open(Device{Interface: "null", Path: os.DevNull})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Run(context.Background(), Params{Test: 0, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Failed || r.Errno() != syscall.ENOTTY || !strings.Contains(r.Err.Error(), "not usbtest") {
		t.Errorf("result %+v, want failed with ENOTTY explained", r)
	}
	if _, err := c.Run(context.Background(), Params{Test: 1}); err == nil || !strings.HasPrefix(err.Error(), "iterations:") {
		t.Errorf("iterations 0: %v, want a parameter error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, err = c.Run(ctx, Params{Test: 0, Iterations: 1})
	if err != nil || r.Status != Abandoned || !errors.Is(r.Err, context.Canceled) {
		t.Errorf("cancelled: %+v, %v; want abandoned", r, err)
	}
}

func TestRunSuiteChecksFirst(t *testing.T) {
	_, err := RunSuite(context.Background(), Device{Path: "/nonexistent"}, []Params{{Test: 1, Iterations: 1}, {Test: 99, Iterations: 1}})
	if err == nil || !strings.HasPrefix(err.Error(), "test: 99") {
		t.Errorf("RunSuite: %v, want the bad test named before opening anything", err)
	}
}

func sampleResults() []Result {
	dev := Device{Interface: "1-1:1.0", Path: "/dev/bus/usb/001/002", ID: GadgetZero, Speed: "480"}
	return []Result{
		{Device: dev, Params: Params{Test: 27, Iterations: 100, Length: 65536, SGLen: 8}, Status: Passed,
			Duration: 500 * time.Millisecond, Bytes: 52_428_800},
		{Device: dev, Params: Params{Test: 15, Iterations: 1, Length: 512, SGLen: 32}, Status: Unsupported,
			Err: &os.SyscallError{Syscall: "ioctl", Err: syscall.EOPNOTSUPP}},
		{Device: dev, Params: Params{Test: 14, Iterations: 1, Length: 512, Vary: 1}, Status: Failed,
			Err: &os.SyscallError{Syscall: "ioctl", Err: syscall.EPIPE}},
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleResults(), false); err != nil {
		t.Fatal(err)
	}
	want := `DEVICE                IF  TEST  RESULT  SECONDS   BYTES     MB/s   WHAT
/dev/bus/usb/001/002  0   27    pass    0.500000  52428800  104.9  bulk write performance, sglen URBs in flight
/dev/bus/usb/001/002  0   14    fail    -         -         -      ep0 vendor write 0x5b / read back 0x5c: ioctl: broken pipe
1 unsupported test runs not shown (EOPNOTSUPP: the interface lacks what they need)
`
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
	b.Reset()
	WriteTable(&b, sampleResults(), true)
	if !strings.Contains(b.String(), " 15    unsupported ") || strings.Contains(b.String(), "not shown") {
		t.Errorf("all=true table:\n%s", b.String())
	}
}

func TestResultJSON(t *testing.T) {
	out, err := json.Marshal(sampleResults())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{
			"device": map[string]any{"interface": "1-1:1.0", "path": "/dev/bus/usb/001/002", "ifnum": 0.0, "id": "0525:a4a0", "speed": "480"},
			"test":   27.0, "name": "bulk write performance, sglen URBs in flight", "iterations": 100.0, "length": 65536.0,
			"vary": 0.0, "sglen": 8.0, "status": "pass", "duration_us": 500000.0, "bytes": 52428800.0, "mb_per_s": 104.8576,
		},
		{
			"device": map[string]any{"interface": "1-1:1.0", "path": "/dev/bus/usb/001/002", "ifnum": 0.0, "id": "0525:a4a0", "speed": "480"},
			"test":   15.0, "name": "iso write, sglen URBs", "iterations": 1.0, "length": 512.0, "vary": 0.0, "sglen": 32.0,
			"status": "unsupported", "errno": float64(syscall.EOPNOTSUPP), "error": "ioctl: operation not supported", "duration_us": 0.0,
		},
		{
			"device": map[string]any{"interface": "1-1:1.0", "path": "/dev/bus/usb/001/002", "ifnum": 0.0, "id": "0525:a4a0", "speed": "480"},
			"test":   14.0, "name": "ep0 vendor write 0x5b / read back 0x5c", "iterations": 1.0, "length": 512.0, "vary": 1.0, "sglen": 0.0,
			"status": "fail", "errno": float64(syscall.EPIPE), "error": "ioctl: broken pipe", "duration_us": 0.0,
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("JSON (-want +got):\n%s", d)
	}
}
