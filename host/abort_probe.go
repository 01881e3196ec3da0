//go:build cgo

package host

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/gousb"

	"github.com/gadgetkit/gadgetkit/internal/abortlog"
	"github.com/gadgetkit/gadgetkit/usb"
)

// ProbeScenarios are the report scenarios AbortProbe runs.
var ProbeScenarios = []string{"gadget-cancel-in-d1-64k", "gadget-cancel-out-d4-64k", AbortPartialOut, "set-interface"}

// Finding is one answer of the kernel-behaviour probe.
type Finding struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// DMABufAnswer is one endpoint's answer to the DMA-BUF probe
// (abortlog.RequestDMABuf): the errno FUNCTIONFS_DMABUF_ATTACH with fd -1
// returned on the gadget, or why the request failed.
type DMABufAnswer struct {
	Endpoint string `json:"endpoint"`        // the host's address, "ep1in"
	Errno    string `json:"errno,omitempty"` // "ENOTTY", "EPERM", "EBADF", ...
	Err      string `json:"error,omitempty"` // the request failed (a gadgetd without it stalls)
}

// AbortProbe asks the running kernel and UDC, through gadgetd's abort
// personality, how aborts behave: what io_cancel returns, what cancelled
// and disabled requests complete with, whether a cancelled request keeps
// the bytes it had, what io_event.res2 holds, and whether FunctionFS can
// take a DMA-BUF. The rows are the scenarios it ran.
func AbortProbe(ctx context.Context, d *Device, o ReportOptions) ([]Finding, []abortlog.Row, error) {
	o.Only = ProbeScenarios
	dmabuf, err := ProbeDMABuf(d, o.Interface)
	if err != nil {
		return nil, nil, err
	}
	rows, err := AbortReport(ctx, d, o)
	return Findings(rows, dmabuf), rows, err
}

// ProbeDMABuf asks the abort personality on interface iface to run the
// DMA-BUF probe on its bulk IN and OUT endpoints. A request that fails is
// an answer saying so; only claiming the interface is an error.
func ProbeDMABuf(d *Device, iface int) ([]DMABufAnswer, error) {
	p, err := d.Claim(iface, 0)
	if err != nil {
		return nil, err
	}
	g := AbortGadget{D: d, Interface: iface}
	var out []DMABufAnswer
	for _, ep := range []gousb.EndpointAddress{p.In.Desc.Address, p.Out.Desc.Address} {
		a := DMABufAnswer{Endpoint: usb.EndpointAddress(ep).String()}
		errno, err := g.DMABuf(ep)
		if err != nil {
			a.Err = d.Classify(err).Error()
		}
		a.Errno = errno
		out = append(out, a)
	}
	return out, nil
}

// Findings reads the probe's answers out of report rows and the DMA-BUF
// answers; a question whose scenario did not run or left no record says so.
func Findings(rows []abortlog.Row, dmabuf []DMABufAnswer) []Finding {
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
	all := recsOf(func(string) bool { return true })
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
		{"io_event.res2 of a cancelled or failed request", tally(all, res2Name)},
		{"FUNCTIONFS_DMABUF_ATTACH (fd -1, on an endpoint file)", dmabufFinding(dmabuf)},
	}
}

// Res2Answers are the res2 finding's answers that name a kernel: 5.10's,
// then 6.1 and later's.
var Res2Answers = []string{
	"equals res (5.10: f_fs passes its result as both res and res2)",
	"0 (6.1 and later: fs/aio has written 0 since 5.16)",
}

// res2Name says what a record's res2 is, against its res.
func res2Name(r abortlog.Record) string {
	switch {
	case r.Res2 == nil:
		return "not recorded (a gadgetd that does not record res2)"
	case *r.Res2 == 0 && r.Res == 0:
		return "0, as is res (tells nothing)"
	case *r.Res2 == r.Res:
		return Res2Answers[0]
	case *r.Res2 == 0:
		return Res2Answers[1]
	}
	return fmt.Sprintf("%d with res %d: neither 0 nor res (unknown)", *r.Res2, r.Res)
}

// dmabufMeaning names what the DMA-BUF probe's errno means.
var dmabufMeaning = map[string]string{
	"ENOTTY": "no FunctionFS DMA-BUF in this kernel (before 6.9)",
	"EPERM":  "the kernel has FunctionFS DMA-BUF, the UDC does not do scatter-gather (dummy_hcd)",
	"EBADF":  "supported: the kernel went on to look up the fd, a real DMA-BUF would be attached",
	"EAGAIN": "no answer: the endpoint was not enabled when asked (a kernel before 6.9)",
}

// DMABufAnswers are the DMA-BUF finding's answers that name a kernel and
// UDC, one per errno.
var DMABufAnswers = []string{"ENOTTY: " + dmabufMeaning["ENOTTY"], "EPERM: " + dmabufMeaning["EPERM"], "EBADF: " + dmabufMeaning["EBADF"]}

// dmabufFinding groups the endpoints by answer, most common first.
func dmabufFinding(answers []DMABufAnswer) string {
	if len(answers) == 0 {
		return "not asked"
	}
	labels := make([]string, len(answers))
	for i, a := range answers {
		switch m, ok := dmabufMeaning[a.Errno]; {
		case a.Err != "":
			labels[i] = "not answered: " + a.Err
		case ok:
			labels[i] = a.Errno + ": " + m
		default:
			labels[i] = fmt.Sprintf("%q: not a known answer", a.Errno)
		}
	}
	return grouped(labels, func(label string, members []int) string {
		eps := make([]string, len(members))
		for i, m := range members {
			eps[i] = answers[m].Endpoint
		}
		return fmt.Sprintf("%s (%s)", label, strings.Join(eps, ", "))
	})
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
	labels := make([]string, len(recs))
	for i, r := range recs {
		labels[i] = answer(r)
	}
	return grouped(labels, func(label string, members []int) string {
		return fmt.Sprintf("%s (%d of %d)", label, len(members), len(recs))
	})
}

// grouped joins the distinct labels, most common first (ties in order of
// first appearance), each as describe makes it from the indices carrying it.
func grouped(labels []string, describe func(label string, members []int) string) string {
	members := map[string][]int{}
	var order []string
	for i, l := range labels {
		if members[l] == nil {
			order = append(order, l)
		}
		members[l] = append(members[l], i)
	}
	slices.SortStableFunc(order, func(a, b string) int { return len(members[b]) - len(members[a]) })
	parts := make([]string, len(order))
	for i, l := range order {
		parts[i] = describe(l, members[l])
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
