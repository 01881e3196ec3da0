package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func execute(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// report turns a results file into the markdown and the SVG it links to,
// relative to the markdown's directory.
func TestReportWritesMarkdownAndSVG(t *testing.T) {
	dir := t.TempDir()
	md, svg := filepath.Join(dir, "docs", "benchmarks.md"), filepath.Join(dir, "docs", "img", "plot.svg")
	if err := os.MkdirAll(filepath.Dir(svg), 0o755); err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(dir, "host.json")
	if err := os.WriteFile(host, []byte(`{"cpu": "Test CPU x 2", "load_before": "1.00 2.00 3.00", "load_after": "4.00 5.00 6.00", "command": "make bench"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := execute("report", "--results", "../../internal/bench/testdata/run.json", "--host", host, "--md", md, "--svg", svg); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(img/plot.svg)", "| host | Test CPU x 2 |", "before 1.00 2.00 3.00, after 4.00 5.00 6.00"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	s, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(s, new(struct{})); err != nil {
		t.Errorf("the SVG is not XML: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "docs", ".bench-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// report --run merges every guest directory, in name order, each with
// its host.json, under the run's command and wall time.
func TestReportRunMergesGuests(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	res, err := os.ReadFile("../../internal/bench/testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(run, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("run.json", `{"cpu": "Test CPU x 2", "command": "make bench", "seconds": 1620}`)
	write("2-trixie-init_on_alloc=0/results.json", strings.Replace(string(res), `"kernel": "6.1.0-56-amd64"`, `"kernel": "6.12.118+deb13-amd64"`, 1))
	write("2-trixie-init_on_alloc=0/host.json", `{"kernel": "trixie", "append": "init_on_alloc=0", "load_before": "1.00 1.00 1.00", "load_after": "2.00 2.00 2.00", "seconds": 400}`)
	write("1-bookworm-default/results.json", string(res))
	write("1-bookworm-default/host.json", `{"kernel": "bookworm", "load_before": "3.00 3.00 3.00", "load_after": "4.00 4.00 4.00", "seconds": 380}`)
	md, svg := filepath.Join(dir, "docs", "benchmarks.md"), filepath.Join(dir, "docs", "benchmarks.svg")
	if err := os.MkdirAll(filepath.Dir(md), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := execute("report", "--run", run, "--md", md, "--svg", svg); err != nil {
		t.Fatalf("report --run: %v\n%s", err, out)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	first, second := strings.Index(doc, "## 6.1.0-56-amd64, default command line"), strings.Index(doc, "## 6.12.118+deb13-amd64, `init_on_alloc=0`")
	if first < 0 || second < first {
		t.Errorf("guest sections at %d and %d: want bookworm's, then trixie's", first, second)
	}
	for _, want := range []string{"Reproduce: `make bench` (this run: 27 min 00 s", "(`--kernel trixie`)", "before 1.00 1.00 1.00, after 2.00 2.00 2.00", "(benchmarks.svg)"} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if _, err := os.Stat(svg); err != nil {
		t.Error(err)
	}
	// A run directory without guests is an error that names it, and writes nothing.
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	os.WriteFile(filepath.Join(empty, "run.json"), []byte(`{}`), 0o644)
	out, err := execute("report", "--run", empty, "--md", filepath.Join(dir, "none.md"))
	if err == nil || !strings.Contains(out, empty) {
		t.Errorf("report --run of an empty run: %v, %q; want an error naming %s", err, out, empty)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.md")); err == nil {
		t.Error("a report was written from a run without guests")
	}
}

func TestReportBadResultsNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "results.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	md := filepath.Join(dir, "out.md")
	out, err := execute("report", "--results", bad, "--md", md)
	if err == nil || !strings.Contains(out, bad) {
		t.Fatalf("report of a broken file: %v, output %q; want an error naming %s", err, out, bad)
	}
	if _, err := os.Stat(md); err == nil {
		t.Error("a markdown file was written from a broken results file")
	}
}

func TestParseList(t *testing.T) {
	got, err := parseList("512, 4K,1M")
	if err != nil || !slices.Equal(got, []int{512, 4096, 1 << 20}) {
		t.Fatalf("parseList = %v, %v; want [512 4096 1048576]", got, err)
	}
	for _, bad := range []string{"", "0", "-1", "4G", "1,,2", "K"} {
		if _, err := parseList(bad); err == nil {
			t.Errorf("parseList(%q) accepted", bad)
		}
	}
}

func TestHostLoadRejectsBadPipes(t *testing.T) {
	for _, pipe := range []string{"01:81", "81", "zz:01", "81:82"} {
		out, err := execute("hostload", "--node", "/nonexistent", "--pipe", pipe)
		if err == nil || !strings.Contains(out, "--pipe") {
			t.Errorf("--pipe %s: %v, %q; want an error naming --pipe", pipe, err, out)
		}
	}
}

func TestRunRejectsUnknownImpl(t *testing.T) {
	out, err := execute("run", "--out", t.TempDir(), "--impl", "kernel-sourcesink,usermode")
	if err == nil || !strings.Contains(out, `--impl "usermode"`) {
		t.Fatalf("run --impl usermode: %v, %q; want an error naming --impl", err, out)
	}
}
