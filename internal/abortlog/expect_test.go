package abortlog

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func recs(shapes ...[2]string) []Record {
	var out []Record
	for _, s := range shapes {
		out = append(out, Record{Endpoint: "ep1", Dir: "in", IOCancel: s[0], Meaning: s[1]})
	}
	return out
}

func TestCheck(t *testing.T) {
	cancel := Expected[KindGadgetCancel]
	cancel.Records = 3
	ok := [2]string{"EINPROGRESS", "ECONNRESET"}
	for _, tc := range []struct {
		name     string
		e        Expectation
		recs     []Record
		diffs    []string // substrings, one per expected difference
		notes    int
		observed string
	}{
		{"mainline cancel", cancel, recs(ok, ok, ok), nil, 0, "3 x io_cancel EINPROGRESS then -ECONNRESET"},
		{"lost race", cancel, recs(ok, ok, [2]string{"EINVAL", "bytes"}), nil, 1, ""},
		{"reverted patch", cancel, recs(ok, [2]string{"0", "EINTR"}, [2]string{"0", "EINTR"}),
			[]string{"2 of 3 records: io_cancel returned 0 and posted -EINTR: kernel carries the reverted io_cancel-completions patch"}, 0, ""},
		{"too few", cancel, recs(ok, ok), []string{"expected 3 records, observed 2"}, 0, ""},
		{"shutdown instead", cancel, recs(ok, ok, [2]string{"EINPROGRESS", "ESHUTDOWN"}),
			[]string{"expected io_cancel EINPROGRESS then -ECONNRESET, observed io_cancel EINPROGRESS then -ESHUTDOWN on 1 of 3 records"}, 0, ""},
		{"disconnect", Expected[KindShutdown], recs([2]string{"", "ESHUTDOWN"}), nil, 0, "1 x -ESHUTDOWN"},
		{"disconnect racing a resubmit", Expected[KindShutdown], recs([2]string{"", "ESHUTDOWN"}, [2]string{"", "EAGAIN"}), nil, 1, ""},
		{"disconnect without records", Expected[KindShutdown], nil, []string{"expected gadget records, observed none"}, 0, "no gadget record"},
		{"host only", Expected[KindHostOnly], nil, nil, 0, "no gadget record"},
		{"host only, gadget failed", Expected[KindHostOnly], recs([2]string{"", "ESHUTDOWN"}), []string{"expected 0 records, observed 1"}, 0, "1 x -ESHUTDOWN"},
	} {
		o := Check(tc.e, tc.recs)
		if len(o.Diffs) != len(tc.diffs) {
			t.Errorf("%s: diffs %q, want %d like %q", tc.name, o.Diffs, len(tc.diffs), tc.diffs)
			continue
		}
		for i, d := range tc.diffs {
			if !strings.Contains(o.Diffs[i], d) {
				t.Errorf("%s: diff %q, want it to contain %q", tc.name, o.Diffs[i], d)
			}
		}
		if len(o.Notes) != tc.notes {
			t.Errorf("%s: notes %q, want %d", tc.name, o.Notes, tc.notes)
		}
		if tc.observed != "" && o.Observed != tc.observed {
			t.Errorf("%s: observed %q, want %q", tc.name, o.Observed, tc.observed)
		}
		if o.OK() != (len(tc.diffs) == 0) {
			t.Errorf("%s: OK = %v", tc.name, o.OK())
		}
	}
}

func TestOverride(t *testing.T) {
	o, err := ParseOverride("gadget-cancel-in-d4-64k:meaning=ESHUTDOWN")
	if err != nil {
		t.Fatal(err)
	}
	e := ApplyAll(Expected[KindGadgetCancel], "gadget-cancel-in-d4-64k", []Override{o})
	if e.Meaning != "ESHUTDOWN" || e.IOCancel != "EINPROGRESS" {
		t.Errorf("override gave %+v", e)
	}
	if e := ApplyAll(Expected[KindGadgetCancel], "gadget-cancel-out-d4-64k", []Override{o}); e.Meaning != "ECONNRESET" {
		t.Errorf("override applied to another scenario: %+v", e)
	}
	out := Check(e, recs([2]string{"EINPROGRESS", "ECONNRESET"}))
	if out.OK() || !strings.Contains(out.Diffs[0], "expected io_cancel EINPROGRESS then -ESHUTDOWN, observed io_cancel EINPROGRESS then -ECONNRESET") {
		t.Errorf("wrong expectation: %+v, want a named difference", out)
	}
	for in, want := range map[string]string{
		"nocolon":            "want SCENARIO:FIELD=VALUE",
		"x:meaning":          "want SCENARIO:FIELD=VALUE",
		"x:colour=red":       `field "colour"`,
		"x:records=many":     `records "many"`,
		":meaning=ESHUTDOWN": "want SCENARIO:FIELD=VALUE",
	} {
		if _, err := ParseOverride(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOverride(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 1: time.Millisecond} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one = %v", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of none = %v", got)
	}
}

func TestWriteTable(t *testing.T) {
	rows := []Row{
		{Scenario: "gadget-cancel-in-d2", Expected: "2 x a", Observed: "2 x a", Integrity: "ok",
			Latencies: []time.Duration{time.Millisecond, 3 * time.Millisecond}},
		{Scenario: "disconnect", Expected: "x", Observed: "y", Integrity: "IN: byte 3", Diffs: []string{"expected x, observed y"}},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"SCENARIO", "gadget-cancel-in-d2  2 x a", "1ms", "3ms", "pass",
		"FAIL disconnect: expected x, observed y", "FAIL disconnect: data after recovery: IN: byte 3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if rows[0].Verdict() != "pass" || rows[1].Verdict() != "FAIL" {
		t.Errorf("verdicts %s, %s", rows[0].Verdict(), rows[1].Verdict())
	}
}
