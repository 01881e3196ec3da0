//go:build cgo

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gousb"

	"github.com/gadgetkit/gadgetkit/host"
)

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsageErrors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		args []string
		msg  string // part of stderr
	}{
		{nil, "missing command"},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"dump", "extra"}, "takes no arguments"},
		{[]string{"dump", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"dump", "--device", "0525"}, "--device"},
		{[]string{"dump", "--timeout", "0s"}, "--timeout 0s"},
		{[]string{"dump", "--control-timeout", "0s"}, "wait forever"},
		{[]string{"verify"}, "exactly one of -c FILE and --expect FILE"},
		{[]string{"verify", "-c", "a", "--expect", "b"}, "exactly one"},
		{[]string{"verify", "-c", filepath.Join(empty, "missing.yaml")}, "-c:"},
		{[]string{"loopback", "--pattern", "ones"}, "--pattern"},
		{[]string{"loopback", "--sizes", "1,x"}, "--sizes"},
		{[]string{"loopback", "--interface", "256"}, "--interface 256"},
		{[]string{"bench", "--dir", "sideways"}, `--dir "sideways"`},
		{[]string{"bench", "--size", "0"}, "--size"},
		{[]string{"bench", "--in-flight", "0"}, "--in-flight 0"},
		{[]string{"bench", "--duration", "1m"}, "below --timeout"},
		{[]string{"bench", "--duration", "0s"}, "needs --bytes"},
		{[]string{"abort", "--scenarios", "cancel-read,explode"}, `unknown "explode"`},
		{[]string{"abort", "--function", "sourcesink"}, "needs --pattern"},
		{[]string{"abort", "--function", "hid"}, `--function "hid"`},
		{[]string{"abort", "--disconnect-cmd", "true"}, "go together"},
		{[]string{"ctrl"}, "needs --request"},
		{[]string{"ctrl", "--request", "0x100"}, "--request"},
		{[]string{"ctrl", "--request", "1", "--type", "reserved"}, `type "reserved"`},
		{[]string{"ctrl", "--request", "1", "--dir", "in", "--data", "01"}, "--data goes with --dir out"},
		{[]string{"ctrl", "--request", "1", "--dir", "out", "--length", "4"}, "--length goes with --dir in"},
		{[]string{"ctrl", "--request", "1", "--dir", "out", "--data", "zz"}, "not hexadecimal"},
	}
	for _, tt := range tests {
		// --sysfs points at an empty tree: a usage error must come first.
		args := append([]string{"--sysfs", empty, "--timeout", "50ms"}, tt.args...)
		if tt.args != nil && tt.args[0] == "bench" && tt.args[1] == "--duration" {
			args = append([]string{"--sysfs", empty}, tt.args...)
		}
		code, _, stderr := runArgs(t, args...)
		if code != exitUsage || !strings.Contains(stderr, tt.msg) {
			t.Errorf("hosttest %v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.msg)
		}
	}
}

func TestNotFound(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "bus", "usb", "devices", "1-1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"idVendor": "0525", "idProduct": "a4a0", "busnum": "1", "devnum": "2"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr := runArgs(t, "--sysfs", root, "--timeout", "100ms", "--device", "1d6b:0104", "dump")
	if code != exitNotFound || !strings.Contains(stderr, "device not found: 1d6b:0104") {
		t.Errorf("exit %d, stderr %q; want %d, device not found", code, stderr, exitNotFound)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{usagef("x"), exitUsage},
		{fmt.Errorf("open: %w", host.ErrNotFound), exitNotFound},
		{fmt.Errorf("%w: bulk IN read: %w", host.ErrGone, gousb.TransferNoDevice), exitNotFound},
		{checkError{errors.New("3 fields differ")}, exitCheck},
		{fmt.Errorf("loopback of 5 bytes: %w", &host.MismatchError{Offset: 3}), exitCheck},
		{fmt.Errorf("read: %w", context.DeadlineExceeded), exitTimeout},
		{fmt.Errorf("control: %w", gousb.ErrorTimeout), exitTimeout},
		{fmt.Errorf("write: %w", gousb.TransferStall), exitError},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("0, 1,511,4K,2m")
	want := []int{0, 1, 511, 4096, 2 << 20}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseSizes = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "-1", "1G", "2048M", "4KB"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) succeeded", bad)
		}
	}
}
