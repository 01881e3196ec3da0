package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// packageResult is how one test package ended on one kernel, read from
// `go test -json`.
type packageResult struct {
	Package string
	Outcome string   // "ok", "FAIL", or "no tests"
	Failed  []string // failed tests
	Skipped []string // "TestName: reason" of every skipped test
	Elapsed float64  // seconds
}

// Cell is the result as a table cell: ok, FAIL (and which tests), or ok
// with its skipped tests and the first reason.
func (p *packageResult) Cell() string {
	switch {
	case p == nil:
		return "not run"
	case p.Outcome == "FAIL" && len(p.Failed) > 0:
		return "FAIL: " + strings.Join(firstN(p.Failed, 3), ", ")
	case len(p.Skipped) > 0:
		return fmt.Sprintf("%s, %d skipped (%s)", p.Outcome, len(p.Skipped), p.Skipped[0])
	}
	return p.Outcome
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string(nil), s[:n]...), fmt.Sprintf("+%d more", len(s)-n))
	}
	return s
}

// testEvent is one line of `go test -json` (test2json's TestEvent, plus the
// build events of Go 1.24+).
type testEvent struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
	Elapsed    float64
}

// parseTestJSON reads `go test -json` output into one result per package.
// A package that reported no outcome (its binary crashed, or it did not
// build) is a failure.
func parseTestJSON(r io.Reader) (map[string]*packageResult, error) {
	res := map[string]*packageResult{}
	get := func(pkg string) *packageResult {
		p := res[pkg]
		if p == nil {
			p = &packageResult{Package: pkg}
			res[pkg] = p
		}
		return p
	}
	lastOutput := map[string]string{} // package/test -> its last output line that is not a status line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var ev testEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("go test -json: %w: %s", err, line)
		}
		if ev.Package == "" && ev.ImportPath != "" {
			if ev.Action == "build-fail" {
				p := get(strings.Fields(ev.ImportPath)[0])
				p.Outcome, p.Failed = "FAIL", append(p.Failed, "build failed")
			}
			continue
		}
		if ev.Package == "" {
			continue
		}
		get(ev.Package) // a package that started and never ended is a failure
		key := ev.Package + "/" + ev.Test
		switch ev.Action {
		case "output":
			if out := strings.TrimSpace(ev.Output); out != "" && !strings.HasPrefix(out, "---") && !strings.HasPrefix(out, "===") {
				lastOutput[key] = out
			}
		case "skip":
			if ev.Test == "" {
				get(ev.Package).Outcome = "no tests"
				continue
			}
			why := lastOutput[key]
			if _, after, ok := strings.Cut(why, ": "); ok && strings.Contains(why, ".go:") {
				why = after
			}
			p := get(ev.Package)
			p.Skipped = append(p.Skipped, ev.Test+": "+why)
		case "fail":
			p := get(ev.Package)
			if ev.Test == "" {
				p.Outcome, p.Elapsed = "FAIL", ev.Elapsed
			} else {
				p.Failed = append(p.Failed, ev.Test)
			}
		case "pass":
			if ev.Test == "" {
				p := get(ev.Package)
				p.Outcome, p.Elapsed = "ok", ev.Elapsed
			}
		}
	}
	for _, p := range res {
		if p.Outcome == "" {
			p.Outcome = "FAIL"
			p.Failed = append(p.Failed, "no result (crashed?)")
		}
		// A parent test fails with its subtests: name the leaves only.
		sort.Strings(p.Failed)
		var leaves []string
		for i, f := range p.Failed {
			if i+1 < len(p.Failed) && strings.HasPrefix(p.Failed[i+1], f+"/") {
				continue
			}
			leaves = append(leaves, f)
		}
		p.Failed = leaves
	}
	return res, sc.Err()
}

// matrixColumn is one kernel's results.
type matrixColumn struct {
	Kernel  string // the column's heading: suite and release
	Results map[string]*packageResult
	Err     string // the kernel could not be resolved or the run not started
}

// matrixTable renders packages x kernels as a Markdown table and reports
// whether every cell passed.
func matrixTable(pkgs []string, cols []matrixColumn) (string, bool) {
	var b strings.Builder
	ok := true
	b.WriteString("| package |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c.Kernel)
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, pkg := range pkgs {
		fmt.Fprintf(&b, "| %s |", strings.TrimPrefix(pkg, "github.com/gadgetkit/gadgetkit/"))
		for _, c := range cols {
			var cell string
			if c.Err != "" {
				cell, ok = "FAIL: "+c.Err, false
			} else {
				r := c.Results[pkg]
				cell = r.Cell()
				if r == nil || r.Outcome == "FAIL" {
					ok = false
				}
			}
			fmt.Fprintf(&b, " %s |", strings.ReplaceAll(cell, "|", "/"))
		}
		b.WriteString("\n")
	}
	return b.String(), ok
}
