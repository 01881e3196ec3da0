package abortlog

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/latency"
)

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of ds, as
// latency.Percentile ranks it; 0 for none. ds is not changed.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return latency.Percentile(s, p)
}

// Row is one line of the report: a scenario and its verdict.
type Row struct {
	Scenario  string          `json:"scenario"`
	Expected  string          `json:"expected"`
	Observed  string          `json:"observed"`
	Latencies []time.Duration `json:"latencies_ns,omitempty"` // cancel-to-completion, or provoke-to-end on the host
	Integrity string          `json:"integrity"`              // the data check after recovery: "ok" or what failed
	Notes     []string        `json:"notes,omitempty"`
	Diffs     []string        `json:"diffs,omitempty"` // why the verdict is FAIL
	Records   []Record        `json:"records,omitempty"`
}

// Pass reports whether the scenario behaved as expected and the data
// survived.
func (r Row) Pass() bool { return len(r.Diffs) == 0 && r.Integrity == "ok" }

// Verdict is "pass" or "FAIL".
func (r Row) Verdict() string {
	if r.Pass() {
		return "pass"
	}
	return "FAIL"
}

// WriteTable prints the report: scenario, expected, observed, latency
// p50/p99 (with the sample count), integrity, verdict; then each failed
// scenario's differences and every note.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tEXPECTED\tOBSERVED\tP50\tP99\tN\tINTEGRITY\tVERDICT")
	for _, r := range rows {
		p50, p99 := "-", "-"
		if len(r.Latencies) > 0 {
			p50 = fmtDur(Percentile(r.Latencies, 50))
			p99 = fmtDur(Percentile(r.Latencies, 99))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Scenario, r.Expected, r.Observed,
			p50, p99, len(r.Latencies), r.Integrity, r.Verdict())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for _, r := range rows {
		for _, d := range r.Diffs {
			fmt.Fprintf(&b, "FAIL %s: %s\n", r.Scenario, d)
		}
		if r.Integrity != "ok" {
			fmt.Fprintf(&b, "FAIL %s: data after recovery: %s\n", r.Scenario, r.Integrity)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "note %s: %s\n", r.Scenario, n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
