//go:build cgo

package host

import (
	"strings"
	"testing"

	"github.com/gadgetkit/gadgetkit/internal/abortlog"
)

func TestFindings(t *testing.T) {
	hb := int64(1024)
	rows := []abortlog.Row{
		{Scenario: "gadget-cancel-in-d1-64k", Records: []abortlog.Record{
			{IOCancel: "EINPROGRESS", Res: -104, Meaning: "ECONNRESET"},
			{IOCancel: "0", Res: -4, Meaning: "EINTR"},
			{IOCancel: "EINPROGRESS", Res: -104, Meaning: "ECONNRESET"},
		}},
		{Scenario: AbortPartialOut, Records: []abortlog.Record{{IOCancel: "EINPROGRESS", Res: -104, Meaning: "ECONNRESET", HostBytes: &hb}}},
	}
	f := Findings(rows, nil)
	want := []string{
		"EINPROGRESS (mainline) (2 of 3); 0 (io_cancel returned 0 and posted -EINTR",
		"-ECONNRESET (-104) (2 of 3); -EINTR (-4) (1 of 3)",
		"not observed",
		"not observed (no request was submitted",
		"no: res -ECONNRESET (-104) after the host wrote 1024 bytes into it (1 of 1)",
		"not recorded (a gadgetd that does not record res2) (4 of 4)",
		"not asked",
	}
	if len(f) != len(want) {
		t.Fatalf("%d findings, want %d", len(f), len(want))
	}
	for i, w := range want {
		if !strings.Contains(f[i].Answer, w) {
			t.Errorf("%s: %q, want it to contain %q", f[i].Question, f[i].Answer, w)
		}
	}
}

func i64(v int64) *int64 { return &v }

// TestFindingsRes2 names each res2 a kernel can leave, from records of
// the scenarios the probe runs (cancelled and disabled requests).
func TestFindingsRes2(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []abortlog.Record
		want string
	}{
		{"5.10", []abortlog.Record{{Res: -104, Res2: i64(-104)}, {Res: -108, Res2: i64(-108)}},
			"equals res (5.10: f_fs passes its result as both res and res2) (2 of 2)"},
		{"6.1 and later", []abortlog.Record{{Res: -104, Res2: i64(0)}, {Res: -108, Res2: i64(0)}},
			"0 (6.1 and later: fs/aio has written 0 since 5.16) (2 of 2)"},
		{"res 0 says nothing", []abortlog.Record{{Res: 0, Res2: i64(0)}}, "0, as is res (tells nothing) (1 of 1)"},
		{"unknown", []abortlog.Record{{Res: -104, Res2: i64(7)}}, "7 with res -104: neither 0 nor res (unknown) (1 of 1)"},
		{"mixed", []abortlog.Record{{Res: -104, Res2: i64(0)}, {Res: -104, Res2: i64(-104)}, {Res: -108, Res2: i64(0)}},
			"0 (6.1 and later: fs/aio has written 0 since 5.16) (2 of 3); equals res (5.10: f_fs passes its result as both res and res2) (1 of 3)"},
		{"no records", nil, "not observed"},
	} {
		rows := []abortlog.Row{{Scenario: "gadget-cancel-out-d4-64k", Records: tc.recs[:min(1, len(tc.recs))]},
			{Scenario: "set-interface", Records: tc.recs[min(1, len(tc.recs)):]}}
		got := answerOf(t, Findings(rows, nil), "io_event.res2")
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestFindingsDMABuf names each errno of the fd -1 ATTACH probe, and a
// request the gadget did not answer.
func TestFindingsDMABuf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []DMABufAnswer
		want    string
	}{
		{"5.10 and 6.1", []DMABufAnswer{{Endpoint: "ep1in", Errno: "ENOTTY"}, {Endpoint: "ep2out", Errno: "ENOTTY"}},
			"ENOTTY: no FunctionFS DMA-BUF in this kernel (before 6.9) (ep1in, ep2out)"},
		{"6.12 on dummy_hcd", []DMABufAnswer{{Endpoint: "ep1in", Errno: "EPERM"}, {Endpoint: "ep2out", Errno: "EPERM"}},
			"EPERM: the kernel has FunctionFS DMA-BUF, the UDC does not do scatter-gather (dummy_hcd) (ep1in, ep2out)"},
		{"supported", []DMABufAnswer{{Endpoint: "ep1in", Errno: "EBADF"}},
			"EBADF: supported: the kernel went on to look up the fd, a real DMA-BUF would be attached (ep1in)"},
		{"not enabled", []DMABufAnswer{{Endpoint: "ep1in", Errno: "EAGAIN"}},
			"EAGAIN: no answer: the endpoint was not enabled when asked (a kernel before 6.9) (ep1in)"},
		{"unknown errno", []DMABufAnswer{{Endpoint: "ep1in", Errno: "EIO"}}, `"EIO": not a known answer (ep1in)`},
		{"old gadgetd", []DMABufAnswer{{Endpoint: "ep1in", Err: "stall"}, {Endpoint: "ep2out", Errno: "EPERM"}, {Endpoint: "ep3in", Err: "stall"}},
			"not answered: stall (ep1in, ep3in); EPERM: the kernel has FunctionFS DMA-BUF, the UDC does not do scatter-gather (dummy_hcd) (ep2out)"},
		{"not asked", nil, "not asked"},
	} {
		got := answerOf(t, Findings(nil, tc.answers), "FUNCTIONFS_DMABUF_ATTACH")
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, a := range DMABufAnswers {
		if got := answerOf(t, Findings(nil, []DMABufAnswer{{Endpoint: "ep1in", Errno: strings.SplitN(a, ":", 2)[0]}}), "FUNCTIONFS_DMABUF_ATTACH"); got != a+" (ep1in)" {
			t.Errorf("known answer %q is not what the finding says: %q", a, got)
		}
	}
}

func answerOf(t *testing.T, fs []Finding, question string) string {
	t.Helper()
	for _, f := range fs {
		if strings.HasPrefix(f.Question, question) {
			return f.Answer
		}
	}
	t.Fatalf("no finding %q in %v", question, fs)
	return ""
}
