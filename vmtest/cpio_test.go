package vmtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCPIOHeaderLayout(t *testing.T) {
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	if err := w.File("init", 0o755, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// 110-byte header, "init\0" (5) padded to 116, 3 data bytes padded to 120.
	want := "070701" + "00000001" + "000081ED" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000003" + "00000000" + "00000000" + "00000000" + "00000000" + "00000005" + "00000000" + "init\x00\x00"
	if got := string(b[:len(want)]); got != want {
		t.Fatalf("header:\n got %q\nwant %q", got, want)
	}
	if got := string(b[116:119]); got != "abc" {
		t.Fatalf("data at 116 = %q, want abc", got)
	}
	if len(b)%4 != 0 {
		t.Fatalf("archive length %d not 4-aligned", len(b))
	}
	if !bytes.Contains(b[120:], []byte("TRAILER!!!\x00")) {
		t.Fatal("no trailer after the file")
	}
}

func TestCPIORejectsUncleanNames(t *testing.T) {
	for _, name := range []string{"", "a/../b", "a//b", ".."} {
		w := newCPIOWriter(&bytes.Buffer{})
		if err := w.File(name, 0o644, nil); err == nil {
			t.Errorf("File(%q) succeeded, want an error", name)
		}
	}
}

// TestCPIOExtractsWithSystemCpio checks the archive against an independent
// reader when one is installed (make test installs cpio).
func TestCPIOExtractsWithSystemCpio(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("cpio(1) not installed; the layout test above still checks the format")
	}
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Dir("bin", 0o755))
	must(w.File("bin/tool", 0o755, []byte("#!/bin/sh\n")))
	must(w.Symlink("tool", "bin/tool"))
	must(w.File("odd", 0o600, []byte("12345")))
	must(w.Close())
	dir := t.TempDir()
	cmd := exec.Command(cpio, "-idm", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "bin/tool"))
	must(err)
	if string(got) != "#!/bin/sh\n" {
		t.Fatalf("bin/tool = %q", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "bin/tool"))
	must(err)
	if fi.Mode().Perm() != 0o755 {
		t.Fatalf("bin/tool mode %v", fi.Mode())
	}
	target, err := os.Readlink(filepath.Join(dir, "tool"))
	must(err)
	if target != "bin/tool" {
		t.Fatalf("symlink -> %q", target)
	}
	odd, err := os.ReadFile(filepath.Join(dir, "odd"))
	must(err)
	if !strings.EqualFold(string(odd), "12345") {
		t.Fatalf("odd = %q", odd)
	}
}
