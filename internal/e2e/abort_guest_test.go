//go:build cgo

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/internal/abortlog"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// TestAbortReport runs hosttest's abort matrix against configs/abort.yaml:
// every scenario must behave as Linux 6.1 is documented to, and the data
// must be intact after each; one scenario is given a deliberately wrong
// expectation, which must turn exactly that one red and name the
// difference.
func TestAbortReport(t *testing.T) {
	g, d, _, cfg := serve(t, "abort.yaml", 0)
	pat, err := host.ParsePattern("mod63/512")
	if err != nil {
		t.Fatal(err)
	}
	const wrong = "gadget-cancel-out-d4-64k"
	ov, err := abortlog.ParseOverride(wrong + ":meaning=ESHUTDOWN")
	if err != nil {
		t.Fatal(err)
	}
	// Unbinding the UDC takes the gadget off the bus (dummy_hcd's
	// soft_connect disconnect did not bring it back to the host here).
	udc, attr := g.UDC(), filepath.Join("/sys/kernel/config/usb_gadget", cfg.Gadget.Name, "UDC")
	write := func(s string) func() error { return func() error { return os.WriteFile(attr, []byte(s+"\n"), 0) } }
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rows, err := host.AbortReport(ctx, d, host.ReportOptions{
		Checker:    &host.SourceSinkChecker{Pattern: pat},
		Disconnect: write(""),
		Connect:    write(udc),
		Overrides:  []abortlog.Override{ov},
	})
	var table bytes.Buffer
	abortlog.WriteTable(&table, rows)
	t.Logf("report:\n%s", table.String())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"host-cancel-read": true, "host-cancel-write": true, "halt-in": true, "halt-out": true,
		"set-interface": true, "reset": true, "disconnect": true, host.AbortPartialOut: true}
	for _, dir := range []string{"in", "out"} {
		for _, dep := range []string{"1", "4", "16"} {
			for _, size := range []string{"4k", "64k"} {
				want["gadget-cancel-"+dir+"-d"+dep+"-"+size] = true
			}
		}
	}
	for _, r := range rows {
		if !want[r.Scenario] {
			t.Errorf("unexpected scenario %s", r.Scenario)
		}
		delete(want, r.Scenario)
		switch {
		case r.Scenario == wrong:
			if r.Pass() || len(r.Diffs) == 0 || !strings.Contains(r.Diffs[0],
				"expected io_cancel EINPROGRESS then -ESHUTDOWN, observed io_cancel EINPROGRESS then -ECONNRESET") {
				t.Errorf("%s with a wrong expectation: verdict %s, diffs %q; want FAIL naming the difference", r.Scenario, r.Verdict(), r.Diffs)
			}
		case !r.Pass():
			t.Errorf("%s: %s (integrity %s)", r.Scenario, strings.Join(r.Diffs, "; "), r.Integrity)
		}
		if strings.HasPrefix(r.Scenario, "gadget-cancel-") {
			if len(r.Latencies) == 0 {
				t.Errorf("%s: no cancel latency", r.Scenario)
			}
			for _, rec := range r.Records {
				if rec.Cancelled == nil || rec.Latency() <= 0 || rec.Completed.Before(*rec.Cancelled) {
					t.Errorf("%s: record %+v has no cancel-to-completion time", r.Scenario, rec)
				}
			}
		}
	}
	for s := range want {
		t.Errorf("scenario %s did not run", s)
	}
}

// TestAbortProbe asks the guest's kernel (dummy_hcd) how aborts behave, and
// checks the answers are the ones the kernel documents; res2 and the
// DMA-BUF probe, which differ between kernels, give one known answer each.
func TestAbortProbe(t *testing.T) {
	_, d, p, _ := serve(t, "abort.yaml", 0)
	pat, err := host.ParsePattern(fmt.Sprintf("mod63/%d", p.MaxPacket))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	findings, rows, err := host.AbortProbe(ctx, d, host.ReportOptions{Checker: &host.SourceSinkChecker{Pattern: pat}})
	for _, f := range findings {
		t.Logf("%s: %s", f.Question, f.Answer)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(host.ProbeScenarios) {
		t.Errorf("%d scenarios ran, want %v", len(rows), host.ProbeScenarios)
	}
	// One answer each (no "; "): every record agreed.
	want := []string{"EINPROGRESS (mainline) (", "-ECONNRESET (-104) (", "-ESHUTDOWN (-108) (", "",
		fmt.Sprintf("no: res -ECONNRESET (-104) after the host wrote %d bytes into it (1 of 1)", 2*p.MaxPacket)}
	// The two answers that differ between kernels: one of the known ones.
	known := [][]string{host.Res2Answers, host.DMABufAnswers}
	if len(findings) != len(want)+len(known) {
		t.Fatalf("%d findings, want %d", len(findings), len(want)+len(known))
	}
	for i, answers := range known {
		f := findings[len(want)+i]
		if strings.Contains(f.Answer, "; ") || !slices.ContainsFunc(answers, func(a string) bool { return strings.HasPrefix(f.Answer, a) }) {
			t.Errorf("%s: %q, want one answer, one of %q", f.Question, f.Answer, answers)
		}
	}
	for i, w := range want {
		a := findings[i].Answer
		if !strings.HasPrefix(a, w) || (w != "" && strings.Contains(a, "; ")) {
			t.Errorf("%s: %q, want one answer starting %q", findings[i].Question, a, w)
		}
	}
}

// TestAbortAfterBytes: with "cancel the oldest IN request every 256 KiB",
// a host reading 4 MiB sees the gadget cancel its requests in flight as it
// goes, about 16 times, and every byte it reads still follows the pattern.
func TestAbortAfterBytes(t *testing.T) {
	guest.Require(t)
	path := filepath.Join("..", "..", "configs", "abort.yaml")
	cfg, err := config.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StatusSocket = ""
	a := cfg.Functions[0].FunctionFS.Personality.Abort
	a.Records, a.Count = "", 0
	a.Policies = []config.CancelPolicy{{Endpoint: "ep1in", AfterBytes: 256 << 10}}
	g, err := gadget.Start(cfg, gadget.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := host.Open(ctx, host.Options{Selector: host.Selector{Serial: cfg.Gadget.Strings[0].Serial}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p, err := d.Claim(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	pat, err := host.ParsePattern(fmt.Sprintf("mod63/%d", p.MaxPacket))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	var total int64
	for total < 4<<20 {
		n, err := p.In.ReadContext(ctx, buf)
		if cerr := pat.Check(buf[:n], total); cerr != nil {
			t.Fatalf("after %d bytes: %v", total, cerr)
		}
		total += int64(n)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", total, err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	var cancels, raced int
	for _, r := range g.Status().Functions[0].AbortRecords {
		switch {
		case r.Policy != "after_bytes" || r.Address != "ep1in":
			t.Errorf("record %+v: want only after_bytes cancels on ep1in", r)
		case r.Meaning == "ECONNRESET" && r.IOCancel == "EINPROGRESS":
			cancels++
		case r.Meaning == "bytes" && (r.IOCancel == "EINVAL" || r.IOCancel == "none"):
			raced++
		default:
			t.Errorf("record %+v: neither a cancel nor a lost race", r)
		}
	}
	t.Logf("%d bytes read; %d requests cancelled, %d cancels lost the race", total, cancels, raced)
	// 4 MiB / 256 KiB = 16 triggers, give or take the reads' granularity.
	if n := cancels + raced; n < 8 || n > 18 {
		t.Errorf("%d after_bytes cancels for %d bytes, want about 16", n, total)
	}
}
