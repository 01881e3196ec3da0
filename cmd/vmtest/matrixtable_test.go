package main

import (
	"os"
	"strings"
	"testing"
)

// testdata/gotest.json is real `go test -json ./...` output of a module with
// a passing package that skips one test, a failing subtest, and a package
// without tests.
func TestParseTestJSON(t *testing.T) {
	f, err := os.Open("testdata/gotest.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parseTestJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := res["example.com/fake/a"], res["example.com/fake/b"], res["example.com/fake/c"]
	if a == nil || a.Outcome != "ok" || len(a.Skipped) != 1 || a.Skipped[0] != "TestSkip: needs the DMABUF ioctl (ENOTTY here)" {
		t.Errorf("a = %+v", a)
	}
	if b == nil || b.Outcome != "FAIL" || len(b.Failed) != 1 || b.Failed[0] != "TestParent/child" {
		t.Errorf("b = %+v", b)
	}
	if c == nil || c.Outcome != "no tests" {
		t.Errorf("c = %+v", c)
	}

	// A binary that died before reporting is a failure, not a pass.
	crashed, err := parseTestJSON(strings.NewReader(`{"Action":"start","Package":"p"}` + "\n" + `{"Action":"run","Package":"p","Test":"TestX"}` + "\n"))
	if err != nil || crashed["p"].Outcome != "FAIL" {
		t.Fatalf("crashed = %+v, %v", crashed["p"], err)
	}

	pkgs := []string{"example.com/fake/a", "example.com/fake/b"}
	table, ok := matrixTable(pkgs, []matrixColumn{{Kernel: "sid 7.2.13", Results: res}, {Kernel: "bullseye", Err: "cannot fetch"}})
	if ok {
		t.Fatal("a table with failures reported ok")
	}
	for _, want := range []string{"| package | sid 7.2.13 | bullseye |", "| example.com/fake/a | ok, 1 skipped (TestSkip: needs the DMABUF ioctl (ENOTTY here)) | FAIL: cannot fetch |",
		"| example.com/fake/b | FAIL: TestParent/child |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if _, ok := matrixTable(pkgs[:1], []matrixColumn{{Kernel: "k", Results: res}}); !ok {
		t.Error("an all-ok table reported failure")
	}
}
