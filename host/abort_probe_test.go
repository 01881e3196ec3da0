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
	f := Findings(rows)
	want := []string{
		"EINPROGRESS (mainline) (2 of 3); 0 (io_cancel returned 0 and posted -EINTR",
		"-ECONNRESET (-104) (2 of 3); -EINTR (-4) (1 of 3)",
		"not observed",
		"not observed (no request was submitted",
		"no: res -ECONNRESET (-104) after the host wrote 1024 bytes into it (1 of 1)",
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
