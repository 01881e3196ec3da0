package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// abortBase is errors_test.go's base with an abort personality; the
// policies start on line 23.
var abortBase = strings.Replace(base, "      kind: loopback\n",
	"      kind: abort\n      abort:\n        action: cancel\n        policies:\n", 1)

func TestAbortPolicies(t *testing.T) {
	in := abortBase + `          - {endpoint: ep1in, after: 2ms}
          - {endpoint: ep1out, every: 3, after: 1ms}
          - {probability: 0.25, seed: 7}
          - {after_bytes: 65536}
`
	c, err := Parse("a.yaml", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &AbortOptions{Action: "cancel", Keep: DefaultAbortKeep, Policies: []CancelPolicy{
		{Endpoint: "ep1in", After: 2 * time.Millisecond},
		{Endpoint: "ep1out", Every: 3, After: time.Millisecond},
		{Probability: 0.25, Seed: 7},
		{AfterBytes: 65536},
	}}
	if diff := cmp.Diff(want, c.Functions[0].FunctionFS.Personality.Abort); diff != "" {
		t.Errorf("abort options (-want +got):\n%s", diff)
	}
}

func TestAbortErrors(t *testing.T) {
	for _, tc := range []struct{ policy, want string }{
		{"{endpoint: ep5in, after: 1ms}", `bad.yaml:24: functions[0].personality.abort.policies[0].endpoint: "ep5in" is not an endpoint of this function ([ep1in ep1out])`},
		{"{every: 2, probability: 0.5}", "bad.yaml:24: functions[0].personality.abort.policies[0]: after_bytes, every and probability are different policies: set one"},
		{"{endpoint: ep1in}", "bad.yaml:24: functions[0].personality.abort.policies[0]: no trigger: set after, after_bytes, every or probability"},
		{"{after_bytes: 512, after: 1ms}", "bad.yaml:24: functions[0].personality.abort.policies[0]: after_bytes cancels at once: after does not apply"},
		{"{probability: 1.5}", "bad.yaml:24: functions[0].personality.abort.policies[0].probability: expected a probability in (0, 1]"},
		{"{every: 2, seed: 3}", "bad.yaml:24: functions[0].personality.abort.policies[0]: seed without probability"},
		{"{after: soon}", `bad.yaml:24: functions[0].personality.abort.policies[0].after: "soon" is not a duration`},
		{"{after: 1ms, colour: red}", "bad.yaml:24: functions[0].personality.abort.policies[0].colour: unknown key (allowed: endpoint, after, after_bytes, every, probability, seed)"},
	} {
		_, err := Parse("bad.yaml", strings.NewReader(abortBase+"          - "+tc.policy+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("policy %s: %v\nwant %s", tc.policy, err, tc.want)
		}
	}
	_, err := Parse("bad.yaml", strings.NewReader(strings.Replace(abortBase, "action: cancel\n", "action: cancel\n        keep: 70000\n", 1)+"          - {after: 1ms}\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:23: functions[0].personality.abort.keep: 70000 is out of range (1..65535)") {
		t.Errorf("keep 70000: %v", err)
	}
}
