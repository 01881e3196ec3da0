package vmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestTestTimeout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"-test.v", "-test.timeout=3m0s"}, 3 * time.Minute},
		{[]string{"-test.timeout", "90s"}, 90 * time.Second},
		{[]string{"-test.timeout=0s"}, 10 * time.Minute},
		{nil, 10 * time.Minute},
	} {
		if got := testTimeout(tc.args); got != tc.want {
			t.Errorf("testTimeout(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestEnvOptionsRejectsBadValues(t *testing.T) {
	t.Setenv("GADGETKIT_VM_UDCS", "33")
	if err := EnvOptions(&Options{}, nil); err == nil {
		t.Fatal("GADGETKIT_VM_UDCS=33 accepted")
	}
	t.Setenv("GADGETKIT_VM_UDCS", "4")
	t.Setenv("GADGETKIT_VM_SS", "1")
	t.Setenv("GADGETKIT_VM_MODULES", "usbtest,usb_f_acm")
	t.Setenv("GADGETKIT_FOO", "bar")
	var o Options
	if err := EnvOptions(&o, []string{"-test.timeout=1m"}); err != nil {
		t.Fatal(err)
	}
	if o.Dummy.Num != 4 || !o.Dummy.SuperSpeed || len(o.Modules) != 2 || o.Timeout != 3*time.Minute {
		t.Fatalf("options %+v", o)
	}
	if got := o.Dummy.params(); got != "is_high_speed=1 is_super_speed=1 num=4" {
		t.Fatalf("dummy params %q", got)
	}
	found := false
	for _, kv := range o.Env {
		found = found || kv == "GADGETKIT_FOO=bar"
	}
	if !found {
		t.Fatalf("GADGETKIT_FOO not passed to the payload: %q", o.Env)
	}
}

// TestNeedsGuest builds two tiny programs, one calling guest.Require, and
// checks the wrapper tells them apart by their symbols.
func TestNeedsGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	build := func(name, src string) string {
		t.Helper()
		pkg := filepath.Join(root, "vmtest", "testdata", ".needsguest-"+name)
		if err := os.MkdirAll(pkg, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(pkg) })
		if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = pkg
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, b)
		}
		return out
	}
	with := build("with", "package main\nimport (\"testing\"; \"github.com/gadgetkit/gadgetkit/vmtest/guest\")\nfunc main() { testing.Main(nil, []testing.InternalTest{{\"T\", func(t *testing.T) { guest.Require(t) }}}, nil, nil) }\n")
	without := build("without", "package main\nfunc main() {}\n")
	if ok, err := NeedsGuest(with); err != nil || !ok {
		t.Errorf("NeedsGuest(with Require) = %v, %v; want true", ok, err)
	}
	if ok, err := NeedsGuest(without); err != nil || ok {
		t.Errorf("NeedsGuest(without) = %v, %v; want false", ok, err)
	}
}
