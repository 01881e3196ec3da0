package vmtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// guestMarker returns the bytes guest.Require keeps in a test binary. It is
// built at run time so that this package's own binaries never contain it.
func guestMarker() []byte {
	return []byte(strings.Join([]string{"\x00gadgetkit", "vmtest", "needs-guest", "v1\x00"}, ":"))
}

// NeedsGuest reports whether the executable at path calls guest.Require.
func NeedsGuest(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", path, err)
	}
	return bytes.Contains(data, guestMarker()), nil
}

// ModuleRoot returns the nearest directory at or above dir holding go.mod.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s", dir)
		}
	}
}

// EnvOptions reads the guest settings a `go test -exec` run takes from the
// environment (go test passes the wrapper nothing but the binary and flags):
//
//	GADGETKIT_VM_MODULES  extra modules loaded at boot, comma-separated (e.g. usbtest)
//	GADGETKIT_VM_SS=1     dummy_hcd with SuperSpeed
//	GADGETKIT_VM_UDCS=N   number of dummy UDCs
//	GADGETKIT_VM_BINS     host executables carried to /vmtest/bin, colon-separated
//	GADGETKIT_VM_CONSOLE  keep the kernel console log at this path
//	GADGETKIT_VM_TIMEOUT  whole-run timeout (Go duration; default: -test.timeout + 2m)
//	GADGETKIT_VM_KVM=1    use KVM instead of TCG
//	GADGETKIT_VM_MEM      guest memory in MiB
//	GADGETKIT_VM_OUT      host directory receiving what the guest writes to $GADGETKIT_OUT
//	GADGETKIT_VM_APPEND   more kernel command line arguments (e.g. init_on_alloc=0)
func EnvOptions(o *Options, args []string) error {
	if v := os.Getenv("GADGETKIT_VM_MODULES"); v != "" {
		o.Modules = append(o.Modules, strings.Split(v, ",")...)
	}
	o.Dummy.SuperSpeed = os.Getenv("GADGETKIT_VM_SS") == "1"
	if v := os.Getenv("GADGETKIT_VM_UDCS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 32 {
			return fmt.Errorf("GADGETKIT_VM_UDCS=%q: want 1..32 (dummy_hcd's num)", v)
		}
		o.Dummy.Num = n
	}
	if v := os.Getenv("GADGETKIT_VM_BINS"); v != "" {
		o.Bins = append(o.Bins, filepath.SplitList(v)...)
	}
	o.Console = os.Getenv("GADGETKIT_VM_CONSOLE")
	o.OutDir = os.Getenv("GADGETKIT_VM_OUT")
	o.KernelArgs = strings.Fields(os.Getenv("GADGETKIT_VM_APPEND"))
	o.KVM = os.Getenv("GADGETKIT_VM_KVM") == "1"
	if v := os.Getenv("GADGETKIT_VM_MEM"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 256 {
			return fmt.Errorf("GADGETKIT_VM_MEM=%q: want MiB >= 256", v)
		}
		o.Memory = n
	}
	o.Timeout = testTimeout(args) + 2*time.Minute
	if v := os.Getenv("GADGETKIT_VM_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("GADGETKIT_VM_TIMEOUT=%q: %v", v, err)
		}
		o.Timeout = d
	}
	// The payload sees the caller's GADGETKIT_* and Go runtime settings.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(k, "GADGETKIT_") && !strings.HasPrefix(k, "GADGETKIT_VM")) ||
			k == "GOTRACEBACK" || k == "GORACE" || k == "GODEBUG" || k == "GOMAXPROCS" {
			o.Env = append(o.Env, kv)
		}
	}
	return nil
}

// testTimeout returns the -test.timeout a go test binary was given (go test
// passes 10m by default), or 10 minutes.
func testTimeout(args []string) time.Duration {
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "-test.timeout=")
		if !ok && a == "-test.timeout" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if ok {
			if d, err := time.ParseDuration(v); err == nil && d > 0 {
				return d
			}
		}
	}
	return 10 * time.Minute
}
