//go:build cgo

package main

import (
	"strings"
	"testing"
)

func TestAbortReportUsage(t *testing.T) {
	empty := t.TempDir()
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"abort", "--function", "abort"}, "--function abort goes with --report"},
		{[]string{"abort", "--report"}, "--report and --probe need --function abort"},
		{[]string{"abort", "--probe"}, "--report and --probe need --function abort"},
		{[]string{"abort", "--probe", "--report", "--function", "abort"}, "choose one"},
		{[]string{"abort", "--report", "--function", "abort", "--scenarios", "reset"}, "--scenarios does not go with --report or --probe"},
		{[]string{"abort", "--report", "--function", "abort", "--depths", "0"}, "--depths: 0 is not a queue depth"},
		{[]string{"abort", "--report", "--function", "abort", "--sizes", "1000"}, "--sizes: 1000 is not a positive multiple of 512"},
		{[]string{"abort", "--report", "--function", "abort", "--sizes", "4Q"}, "--sizes: size"},
		{[]string{"abort", "--report", "--function", "abort", "--expect-override", "reset"}, "--expect-override: expectation override \"reset\": want SCENARIO:FIELD=VALUE"},
		{[]string{"abort", "--report", "--function", "abort", "--expect-override", "reset:colour=red"}, `field "colour"`},
		{[]string{"abort", "--expect-override", "reset:meaning=EINTR"}, "--expect-override goes with --report"},
	} {
		code, _, stderr := runArgs(t, append([]string{"--sysfs", empty, "--timeout", "50ms"}, tt.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.msg) {
			t.Errorf("hosttest %v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.msg)
		}
	}
}
