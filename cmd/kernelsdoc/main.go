// Command kernelsdoc merges the io_cancel conformance reports of
// internal/conformance, one JSON file per kernel, into the claims x kernels
// table of docs/kernels.md:
//
//	GADGETKIT_VM_OUT=/tmp/conf go test -exec "$PWD/bin/vmtest exec" ./internal/conformance
//	GADGETKIT_VM_KERNEL=sid GADGETKIT_VM_OUT=/tmp/conf go test -exec "$PWD/bin/vmtest exec" ./internal/conformance
//	go run ./cmd/kernelsdoc -in /tmp/conf -out docs/kernels.md
//
// -in is a directory holding the reports, or a GADGETKIT_VM_OUT directory
// whose conformance/ subdirectory holds them; it may be repeated, e.g. for
// the per-kernel output directories of `vmtest matrix` (make test-kernels):
//
//	go run ./cmd/kernelsdoc -in out/kernels/bullseye/out -in out/kernels/sid/out -out docs/kernels.md
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gadgetkit/gadgetkit/internal/conformance"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kernelsdoc:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kernelsdoc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var in dirList
	fs.Var(&in, "in", "directory of <kernel>.json reports (or a GADGETKIT_VM_OUT directory holding conformance/); repeatable")
	out := fs.String("out", "", "Markdown file to write (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(in) == 0 {
		return errors.New("-in: required")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var dirs []string
	for _, dir := range in {
		if st, err := os.Stat(filepath.Join(dir, "conformance")); err == nil && st.IsDir() {
			dir = filepath.Join(dir, "conformance")
		}
		dirs = append(dirs, dir)
	}
	reps, err := conformance.ReadDir(dirs...)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := conformance.WriteMarkdown(&b, reps); err != nil {
		return err
	}
	if *out == "" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(*out, b.Bytes(), 0o644)
}

// dirList is a repeatable string flag.
type dirList []string

func (d *dirList) String() string { return strings.Join(*d, ",") }

func (d *dirList) Set(v string) error {
	if v == "" {
		return errors.New("empty directory")
	}
	*d = append(*d, v)
	return nil
}
