package gadget

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/internal/abortlog"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// startAbort serves configs/abort.yaml with the given policies and the
// records file in a temporary directory, with no host transfers: every
// request stays queued until a policy cancels it, so the cancels follow
// from the policy alone. It returns the records once there are want per
// endpoint (or after 20 s), and half a second more has added none.
func startAbort(t *testing.T, pols []config.CancelPolicy, want func(ep string) int) (*Gadget, *config.Config, []abortlog.Record) {
	t.Helper()
	guest.Require(t)
	cfg, _ := loadConfig(t, "abort.yaml")
	a := cfg.Functions[0].FunctionFS.Personality.Abort
	a.Policies, a.Count = pols, 0
	a.Records = filepath.Join(t.TempDir(), "abort.jsonl")
	g, err := Start(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	reached := func() bool {
		got := byEndpoint(g.funcs[0].aborts.recs.Since(0))
		for _, ep := range cfg.Functions[0].FunctionFS.Interfaces[0].Endpoints {
			if len(got[ep.Address.String()]) < want(ep.Address.String()) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); !reached() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	return g, cfg, g.funcs[0].aborts.recs.Since(0)
}

func byEndpoint(recs []abortlog.Record) map[string][]abortlog.Record {
	m := map[string][]abortlog.Record{}
	for _, r := range recs {
		m[r.Address] = append(m[r.Address], r)
	}
	return m
}

// TestAbortEvery: with "every 2nd request" and no host, the 16 queued
// requests lose 8, their resubmissions 4, then 2, then 1: 15 cancels per
// endpoint, each a mainline io_cancel then -ECONNRESET. The records file
// written at exit holds the same records.
func TestAbortEvery(t *testing.T) {
	depth := 16 // configs/abort.yaml's queue_depth
	g, cfg, recs := startAbort(t, []config.CancelPolicy{{Every: 2, After: time.Millisecond}}, func(string) int { return depth - 1 })
	if d := cfg.Functions[0].FunctionFS.Personality.QueueDepth; d != depth {
		t.Fatalf("configs/abort.yaml has queue_depth %d; this test plays out %d", d, depth)
	}
	for ep, rs := range byEndpoint(recs) {
		if len(rs) != depth-1 {
			t.Errorf("%s: %d records, want %d", ep, len(rs), depth-1)
		}
		for _, r := range rs {
			if r.Policy != "every" || r.IOCancel != "EINPROGRESS" || r.Meaning != "ECONNRESET" || r.Res != -104 ||
				r.Cancelled == nil || r.Cancelled.Sub(r.Submitted) < time.Millisecond || r.Size != 65536 {
				t.Errorf("%s: record %+v, want policy every, EINPROGRESS, -ECONNRESET, cancelled >= 1ms after submit", ep, r)
			}
		}
	}
	if len(byEndpoint(recs)) != 2 {
		t.Errorf("records of %d endpoints, want 2", len(byEndpoint(recs)))
	}
	st := g.Status().Functions[0]
	if len(st.AbortRecords) != min(len(recs), recentRecords) {
		t.Errorf("status shows %d records, want %d", len(st.AbortRecords), min(len(recs), recentRecords))
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(cfg.Functions[0].FunctionFS.Personality.Abort.Records)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := abortlog.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// At exit the still-queued requests are cancelled too (policy teardown).
	teardown := 0
	for _, r := range file {
		if r.Policy == "teardown" {
			teardown++
		}
	}
	if len(file) != len(recs)+teardown || teardown != 2*depth {
		t.Errorf("records file has %d records (%d teardown), want the %d seen plus %d teardown", len(file), teardown, len(recs), 2*depth)
	}
}

// TestAbortRandomIsRepeatable: with probability 0.5 and seed 7, the number
// of cancels per endpoint is the one the same random stream gives when the
// queue is played out here.
func TestAbortRandomIsRepeatable(t *testing.T) {
	const p, seed = 0.5, 7
	cfg, _ := loadConfig(t, "abort.yaml")
	depth := cfg.Functions[0].FunctionFS.Personality.QueueDepth
	want := map[string]int{}
	for _, ep := range cfg.Functions[0].FunctionFS.Interfaces[0].Endpoints {
		rng := rand.New(rand.NewPCG(seed, uint64(ep.Address)))
		n := 0
		for pending := depth; pending > 0; pending-- {
			if rng.Float64() < p {
				n++
				pending++ // the cancelled request is submitted again
			}
		}
		want[ep.Address.String()] = n
	}
	g, cfg, recs := startAbort(t, []config.CancelPolicy{{Probability: p, Seed: seed}}, func(ep string) int { return want[ep] })
	defer g.Close()
	got := byEndpoint(recs)
	for _, ep := range cfg.Functions[0].FunctionFS.Interfaces[0].Endpoints {
		if n := len(got[ep.Address.String()]); n != want[ep.Address.String()] || n == 0 {
			t.Errorf("%s: %d cancels, want %d (>0) from seed %d", ep.Address, n, want[ep.Address.String()], seed)
		}
		for _, r := range got[ep.Address.String()] {
			if r.Policy != "random" || r.Meaning != "ECONNRESET" {
				t.Errorf("%s: record %+v", ep.Address, r)
			}
		}
	}
}
