package conformance

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Claims {
		if c.ID == "" || c.Text == "" || c.ReliedOn == "" {
			t.Errorf("claim %+v: every field is needed", c)
		}
		if seen[c.ID] {
			t.Errorf("claim %s twice", c.ID)
		}
		seen[c.ID] = true
		if got, ok := ClaimByID(c.ID); !ok || got != c {
			t.Errorf("ClaimByID(%s) = %+v, %v", c.ID, got, ok)
		}
	}
	if _, ok := ClaimByID("no-such-claim"); ok {
		t.Error("ClaimByID found a claim that is not in the catalogue")
	}
}

func TestCompareRelease(t *testing.T) {
	in := []string{"7.2.13+deb14-amd64", "6.12.57-amd64", "5.10.0-40-amd64", "6.1.0-57-amd64", "6.1.0-9-amd64"}
	var reps []*Report
	for _, k := range in {
		reps = append(reps, &Report{Kernel: k})
	}
	SortKernels(reps)
	var got []string
	for _, r := range reps {
		got = append(got, r.Kernel)
	}
	want := []string{"5.10.0-40-amd64", "6.1.0-9-amd64", "6.1.0-57-amd64", "6.12.57-amd64", "7.2.13+deb14-amd64"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sorted %v, want %v", got, want)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c, _ := ClaimByID("cancel-pending")
	r := &Report{Kernel: "6.1.0-57-amd64", Version: "#1 SMP Debian 6.1.192-3", Machine: "x86_64",
		Rows: []Row{{Claim: c, Observed: "OUT: io_cancel EINPROGRESS", OK: true}}}
	p, err := r.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "conformance", "6.1.0-57-amd64.json"); p != want {
		t.Fatalf("written to %s, want %s", p, want)
	}
	got, err := ReadReport(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("read back %+v, want %+v", got, r)
	}
	if _, err := (&Report{Kernel: "../x"}).Write(dir); err == nil || !strings.Contains(err.Error(), "kernel release") {
		t.Fatalf("a release with a slash: %v, want an error naming the kernel release", err)
	}
}

func TestReadReportErrors(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"no kernel", `{"rows": []}`, "field kernel: empty"},
		{"empty id", `{"kernel": "6.1", "rows": [{"id": ""}]}`, "rows[0].id: empty"},
		{"duplicate id", `{"kernel": "6.1", "rows": [{"id": "a"}, {"id": "a"}]}`, `rows[1].id: "a" appears twice`},
		{"unknown field", `{"kernel": "6.1", "colour": "red"}`, `unknown field "colour"`},
		{"not json", `kernel: 6.1`, "invalid character"},
	} {
		p := filepath.Join(t.TempDir(), "r.json")
		if err := os.WriteFile(p, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadReport(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming %s and %q", c.name, err, p, c.want)
		}
	}
}

func TestReadDirErrors(t *testing.T) {
	if _, err := ReadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no *.json reports") {
		t.Errorf("empty directory: %v", err)
	}
	dir := t.TempDir()
	for _, n := range []string{"a.json", "b.json"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(`{"kernel": "6.1.0-57-amd64"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), "reported twice") {
		t.Errorf("two reports of one kernel: %v", err)
	}
}

// The fixture reports: 5.10 and 6.1 observed some claims, 6.12 departs
// on one, with a pipe and a newline in the cell, and knows a claim the
// catalogue does not.
func TestMarkdownFromFixtures(t *testing.T) {
	reps, err := ReadDir("testdata/reports")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, reps); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	lines := strings.Split(md, "\n")
	find := func(prefix string) string {
		t.Helper()
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no line starting %q in:\n%s", prefix, md)
		return ""
	}
	for _, want := range []string{
		"- `5.10.0-40-amd64` (x86_64, Debian 5.10.262-1): 2 claims observed, 0 departing",
		"- `6.1.0-57-amd64` (x86_64, Debian 6.1.192-3): 1 claims observed, 0 departing",
		"- `6.12.57-amd64` (x86_64, Debian 6.12.117-1): 3 claims observed, 1 departing",
	} {
		find(want)
	}
	if h := find("| claim | relied on |"); h != "| claim | relied on | 5.10.0-40-amd64 | 6.1.0-57-amd64 | 6.12.57-amd64 |" {
		t.Errorf("header %q: kernels not in release order", h)
	}
	pending, _ := ClaimByID("cancel-pending")
	row := find("| **cancel-pending**:")
	if !strings.Contains(row, pending.Text) || strings.Contains(row, "old text is ignored") {
		t.Errorf("cancel-pending row does not use the catalogue's text: %s", row)
	}
	if !strings.HasSuffix(row, "| OUT: io_cancel EINPROGRESS, event res -ECONNRESET | OUT: io_cancel EINPROGRESS, event res -ECONNRESET | OUT: io_cancel 0, event res -EINTR |") {
		t.Errorf("cancel-pending cells: %s", row)
	}
	race := find("| **cancel-race**:")
	if !strings.HasSuffix(race, "| not run | not run | **DEPARTS**: round 3: io_cancel EINPROGRESS with res 512 \\| a pipe<br>and a newline |") {
		t.Errorf("cancel-race cells: %s", race)
	}
	// Catalogue order, then the claim only a report knows.
	var ids []string
	for _, l := range lines {
		if id, ok := strings.CutPrefix(l, "| **"); ok {
			ids = append(ids, id[:strings.Index(id, "**")])
		}
	}
	var want []string
	for _, c := range Claims {
		want = append(want, c.ID)
	}
	want = append(want, "future-claim")
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("rows %v, want %v", ids, want)
	}
	if err := WriteMarkdown(&b, nil); err == nil {
		t.Error("no reports: want an error")
	}
}
