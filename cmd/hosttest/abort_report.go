//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/internal/abortlog"
	"github.com/gadgetkit/gadgetkit/internal/pattern"
)

// reportFlags are abort --report's options.
type reportFlags struct {
	report    bool
	probe     bool
	depths    []int
	sizes     string
	overrides []string
}

// check validates the flags that go with --report, before the device is
// opened, and returns the parsed sizes and overrides.
func (r *reportFlags) check(scenarios []string, function string) ([]int, []abortlog.Override, error) {
	if r.report && r.probe {
		return nil, nil, usagef("--report and --probe: choose one")
	}
	if !r.report && !r.probe {
		if len(r.overrides) > 0 {
			return nil, nil, usagef("--expect-override goes with --report")
		}
		return nil, nil, nil
	}
	if len(scenarios) > 0 {
		return nil, nil, usagef("--scenarios does not go with --report or --probe (they run their own)")
	}
	if function != "abort" {
		return nil, nil, usagef("--report and --probe need --function abort (gadgetd's abort personality)")
	}
	for _, d := range r.depths {
		if d < 1 {
			return nil, nil, usagef("--depths: %d is not a queue depth", d)
		}
	}
	sizes, err := parseSizes(r.sizes)
	if err != nil {
		return nil, nil, usagef("--sizes: %v", err)
	}
	for _, s := range sizes {
		if s < 512 || s%512 != 0 {
			return nil, nil, usagef("--sizes: %d is not a positive multiple of 512 (the pattern is per packet)", s)
		}
	}
	var ovs []abortlog.Override
	for _, s := range r.overrides {
		o, err := abortlog.ParseOverride(s)
		if err != nil {
			return nil, nil, usagef("--expect-override: %v", err)
		}
		ovs = append(ovs, o)
	}
	return sizes, ovs, nil
}

// runReport runs the matrix (or the probe's part of it, printing the
// findings first) and prints the table (or JSON). A scenario that fails
// makes it a check failure.
func runReport(ctx context.Context, out io.Writer, d *host.Device, o host.ReportOptions, probe, asJSON bool) error {
	p, err := d.Claim(o.Interface, 0)
	if err != nil {
		return err
	}
	o.Checker = &host.SourceSinkChecker{Pattern: pattern.GadgetZero(p.MaxPacket)}
	var rows []abortlog.Row
	var findings []host.Finding
	if probe {
		findings, rows, err = host.AbortProbe(ctx, d, o)
	} else {
		rows, err = host.AbortReport(ctx, d, o)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		doc := any(rows)
		if probe {
			doc = struct {
				Findings []host.Finding `json:"findings"`
				Rows     []abortlog.Row `json:"scenarios"`
			}{findings, rows}
		}
		if jerr := enc.Encode(doc); jerr != nil {
			return jerr
		}
	} else {
		for _, f := range findings {
			fmt.Fprintf(out, "%s: %s\n", f.Question, f.Answer)
		}
		if probe {
			fmt.Fprintln(out)
		}
		if werr := abortlog.WriteTable(out, rows); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range rows {
		if !r.Pass() {
			failed++
		}
	}
	if failed > 0 {
		return checkError{fmt.Errorf("%d of %d abort scenarios failed", failed, len(rows))}
	}
	return nil
}
