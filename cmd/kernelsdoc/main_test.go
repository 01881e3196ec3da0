package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A GADGETKIT_VM_OUT directory (reports under conformance/) and a plain
// directory of reports give the same table.
func TestRunBothLayouts(t *testing.T) {
	out := t.TempDir()
	vmOut := filepath.Join(out, "vm")
	if err := os.MkdirAll(filepath.Join(vmOut, "conformance"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Glob("../../internal/conformance/testdata/reports/*.json")
	if err != nil || len(src) == 0 {
		t.Fatalf("fixtures: %v %v", src, err)
	}
	for _, p := range src {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vmOut, "conformance", filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	md := filepath.Join(out, "kernels.md")
	if err := run([]string{"-in", vmOut, "-out", md}, nil, nil); err != nil {
		t.Fatal(err)
	}
	fromFile, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run([]string{"-in", "../../internal/conformance/testdata/reports"}, &stdout, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromFile, stdout.Bytes()) {
		t.Fatal("the two layouts gave different tables")
	}
	if !strings.Contains(stdout.String(), "| claim | relied on | 5.10.0-40-amd64 | 6.1.0-57-amd64 | 6.12.57-amd64 |") {
		t.Fatalf("no claims x kernels header in:\n%s", stdout.String())
	}
}

// Reports spread over several directories (one GADGETKIT_VM_OUT per kernel,
// as vmtest matrix leaves them) give the same table as one directory.
func TestRunSeveralDirectories(t *testing.T) {
	src, err := filepath.Glob("../../internal/conformance/testdata/reports/*.json")
	if err != nil || len(src) == 0 {
		t.Fatalf("fixtures: %v %v", src, err)
	}
	args := []string{}
	for _, p := range src {
		dir := filepath.Join(t.TempDir(), "k", "out", "conformance")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-in", filepath.Dir(dir))
	}
	var several, one bytes.Buffer
	if err := run(args, &several, nil); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-in", "../../internal/conformance/testdata/reports"}, &one, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(several.Bytes(), one.Bytes()) {
		t.Fatal("several directories gave a different table from one")
	}
	dup := append(args, "-in", "../../internal/conformance/testdata/reports")
	if err := run(dup, &bytes.Buffer{}, nil); err == nil || !strings.Contains(err.Error(), "reported twice") {
		t.Fatalf("the same kernel from two directories: %v, want an error", err)
	}
}

func TestRunErrors(t *testing.T) {
	var stderr bytes.Buffer
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "-in: required"},
		{[]string{"-in", t.TempDir()}, "no *.json reports"},
		{[]string{"-in", ".", "extra"}, "unexpected arguments"},
		{[]string{"-bogus"}, "flag provided but not defined"},
		{[]string{"-in", ""}, "empty directory"},
	} {
		err := run(c.args, &bytes.Buffer{}, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
}

// docs/kernels.md is exactly what the committed reports generate: the
// table is never edited by hand, and a change to the claims' wording or to
// the generator shows up here until the table is regenerated.
func TestCommittedTableIsGenerated(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-in", "../../docs/conformance"}, &out, nil); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../docs/kernels.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), committed) {
		t.Fatal("docs/kernels.md differs from what docs/conformance generates: go run ./cmd/kernelsdoc -in docs/conformance -out docs/kernels.md")
	}
}
