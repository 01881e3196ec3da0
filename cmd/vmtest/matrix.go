package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gadgetkit/gadgetkit/vmtest"
)

const matrixUsage = `usage: vmtest matrix [--kernels LIST] [--out DIR] [GO TEST FLAGS as -flag=value] PACKAGES...
  --kernels LIST  comma-separated kernels: suites (bullseye, bookworm, trixie, sid) or exact
                  package versions (default: all four suites)
  --out DIR       each kernel's go test log (test.log), JSON and $GADGETKIT_OUT files under
                  DIR/KERNEL/, the table in DIR/summary.md (default out/kernels)
`

// matrixCmd runs `go test` on packages once per kernel and prints one table
// of package x kernel. Exit status 1 when any cell failed.
func matrixCmd(ctx context.Context, args []string) (int, error) {
	// Our two flags anywhere; everything else goes to go test as it is.
	kernels := strings.Join(vmtest.SuiteNames(), ",")
	out := "out/kernels"
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "kernels" && name != "out") {
			if a == "-h" || a == "-help" || a == "--help" {
				fmt.Print(matrixUsage)
				return 2, nil
			}
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return 2, fmt.Errorf("vmtest matrix: %s needs a value", a)
			}
			i++
			val = args[i]
		}
		if name == "kernels" {
			kernels = val
		} else {
			out = val
		}
	}
	if len(rest) == 0 {
		fmt.Print(matrixUsage)
		return 2, nil
	}
	self, err := os.Executable()
	if err != nil {
		return 125, err
	}
	outDir, err := filepath.Abs(out)
	if err != nil {
		return 125, err
	}
	goArgs := append([]string{"test", "-json", "-exec", self + " exec"}, rest...)
	pkgs, err := listPackages(ctx, rest)
	if err != nil {
		return 125, err
	}
	var cols []matrixColumn
	for _, choice := range strings.Split(kernels, ",") {
		choice = strings.TrimSpace(choice)
		col := matrixColumn{Kernel: choice}
		k, err := kernel(ctx, choice)
		if err != nil {
			col.Err = firstLine(err.Error())
			cols = append(cols, col)
			fmt.Fprintf(os.Stderr, "vmtest matrix: %s: %v\n", choice, err)
			continue
		}
		col.Kernel = choice + " " + k.Release
		dir := filepath.Join(outDir, choice)
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 125, err
		}
		fmt.Printf("=== %s: %s\n", choice, k)
		res, err := goTestJSON(ctx, goArgs, dir, choice)
		if err != nil {
			col.Err = err.Error()
		}
		col.Results = res
		cols = append(cols, col)
	}
	table, ok := matrixTable(pkgs, cols)
	fmt.Printf("\n%s", table)
	summary := filepath.Join(outDir, "summary.md")
	if err := os.WriteFile(summary, []byte(table), 0o644); err != nil {
		return 125, err
	}
	fmt.Printf("\nlogs: %s/KERNEL/test.log; table: %s\n", outDir, summary)
	if !ok {
		return 1, nil
	}
	return 0, nil
}

// goTestJSON runs go test for one kernel, printing a line per package as it
// ends and keeping the whole log and JSON in dir.
func goTestJSON(ctx context.Context, goArgs []string, dir, choice string) (map[string]*packageResult, error) {
	jsonFile, err := os.Create(filepath.Join(dir, "test.json"))
	if err != nil {
		return nil, err
	}
	defer jsonFile.Close()
	logFile, err := os.Create(filepath.Join(dir, "test.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, "go", goArgs...)
	cmd.Env = append(os.Environ(), vmtest.EnvKernel+"="+choice, "GADGETKIT_VM_OUT="+filepath.Join(dir, "out"))
	cmd.Stderr = io.MultiWriter(os.Stderr, logFile)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(io.TeeReader(pipe, jsonFile))
	for {
		var ev struct{ Action, Package, Test, Output string }
		if err := dec.Decode(&ev); err != nil {
			break
		}
		if ev.Action == "output" {
			logFile.WriteString(ev.Output)
		}
		if ev.Test == "" && ev.Package != "" && (ev.Action == "pass" || ev.Action == "fail") {
			fmt.Printf("%s  %s %s\n", choice, ev.Action, ev.Package)
		}
	}
	io.Copy(io.Discard, pipe)
	waitErr := cmd.Wait()
	if _, err := jsonFile.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	res, err := parseTestJSON(jsonFile)
	if err != nil {
		return res, err
	}
	if waitErr != nil && len(res) == 0 {
		return res, fmt.Errorf("go test: %v", waitErr)
	}
	return res, nil
}

// listPackages expands package patterns (./...) the way go test will.
func listPackages(ctx context.Context, args []string) ([]string, error) {
	var patterns []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			patterns = append(patterns, a)
		}
	}
	out, err := exec.CommandContext(ctx, "go", append([]string{"list"}, patterns...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w", strings.Join(patterns, " "), err)
	}
	pkgs := strings.Fields(string(out))
	sort.Strings(pkgs)
	return pkgs, nil
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }
