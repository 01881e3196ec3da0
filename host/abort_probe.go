//go:build cgo

package host

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gadgetkit/gadgetkit/internal/abortlog"
)

// ProbeScenarios are the report scenarios AbortProbe runs.
var ProbeScenarios = []string{"gadget-cancel-in-d1-64k", "gadget-cancel-out-d4-64k", AbortPartialOut, "set-interface"}

// Finding is one answer of the kernel-behaviour probe.
type Finding struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// AbortProbe asks the running kernel and UDC, through gadgetd's abort
// personality, how aborts behave: what io_cancel returns, what cancelled
// and disabled requests complete with, and whether a cancelled request
// keeps the bytes it had. The rows are the scenarios it ran.
func AbortProbe(ctx context.Context, d *Device, o ReportOptions) ([]Finding, []abortlog.Row, error) {
	o.Only = ProbeScenarios
	rows, err := AbortReport(ctx, d, o)
	return Findings(rows), rows, err
}

// Findings reads the probe's answers out of report rows; a question whose
// scenario did not run or left no record says so.
func Findings(rows []abortlog.Row) []Finding {
	recsOf := func(match func(string) bool) []abortlog.Record {
		var out []abortlog.Record
		for _, r := range rows {
			if match(r.Scenario) {
				out = append(out, r.Records...)
			}
		}
		return out
	}
	cancels := recsOf(func(s string) bool { return strings.HasPrefix(s, "gadget-cancel-") })
	disabled := recsOf(func(s string) bool { return slices.Contains([]string{"set-interface", "reset", "disconnect"}, s) })
	partial := recsOf(func(s string) bool { return s == AbortPartialOut })
	return []Finding{
		{"io_cancel on a queued request returns", tally(cancels, func(r abortlog.Record) string {
			switch r.IOCancel {
			case "EINPROGRESS":
				return "EINPROGRESS (mainline)"
			case "0":
				return "0 (" + abortlog.DevRevertedPatch + ")"
			}
			return r.IOCancel
		})},
		{"a cancelled request completes with", tally(cancels, func(r abortlog.Record) string { return resName(r) })},
		{"a request on a disabled endpoint completes with", tally(disabled, func(r abortlog.Record) string { return resName(r) })},
		{"io_submit on a disabled endpoint (O_NONBLOCK)", eagain(disabled)},
		{"partial bytes survive a cancel", tally(partial, func(r abortlog.Record) string {
			host := "unknown"
			if r.HostBytes != nil {
				host = fmt.Sprint(*r.HostBytes)
			}
			if r.Res > 0 {
				return fmt.Sprintf("yes: res %d after the host wrote %s", r.Res, host)
			}
			return fmt.Sprintf("no: res %s after the host wrote %s bytes into it", resName(r), host)
		})},
	}
}

func resName(r abortlog.Record) string {
	if r.Res >= 0 {
		return fmt.Sprintf("%d bytes", r.Res)
	}
	return fmt.Sprintf("-%s (%d)", r.Meaning, r.Res)
}

// tally counts the distinct answers of recs, most common first.
func tally(recs []abortlog.Record, answer func(abortlog.Record) string) string {
	if len(recs) == 0 {
		return "not observed (the scenario did not run or left no record)"
	}
	count := map[string]int{}
	var order []string
	for _, r := range recs {
		a := answer(r)
		if count[a] == 0 {
			order = append(order, a)
		}
		count[a]++
	}
	slices.SortStableFunc(order, func(a, b string) int { return count[b] - count[a] })
	var parts []string
	for _, a := range order {
		parts = append(parts, fmt.Sprintf("%s (%d of %d)", a, count[a], len(recs)))
	}
	return strings.Join(parts, "; ")
}

// eagain answers from requests that were submitted after their endpoint
// was disabled (a race the shutdown scenarios may or may not hit).
func eagain(recs []abortlog.Record) string {
	n := 0
	for _, r := range recs {
		if r.Meaning == "EAGAIN" {
			n++
		}
	}
	if n == 0 {
		return "not observed (no request was submitted after its endpoint was disabled)"
	}
	return fmt.Sprintf("does not block: completes at once with -EAGAIN (%d requests)", n)
}
