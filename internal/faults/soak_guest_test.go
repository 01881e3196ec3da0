//go:build cgo

package faults

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"
)

var (
	// The default is a short soak that make test runs; scripts/soak.sh
	// (make soak) runs the long one.
	soakFor  = flag.Duration("soak", 20*time.Second, "TestSoak: inject random faults for this long; see scripts/soak.sh")
	soakSeed = flag.Uint64("soak.seed", 0, "TestSoak: seed of the fault sequence (0: from the clock, printed)")
	soakOnly = flag.String("soak.only", "", "TestSoak: inject only the matrix fault of this name")
)

// TestSoak injects faults of the matrix in a random order for -soak, each
// on full queues and followed by a checked stream, and reports the faults
// injected and the bytes verified. The same -soak.seed replays the same
// sequence.
func TestSoak(t *testing.T) {
	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("soak: seed %d for %v (replay with -soak.seed %d)", seed, *soakFor, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	faults := matrix
	if *soakOnly != "" {
		faults = nil
		for _, f := range matrix {
			if f.name == *soakOnly {
				faults = append(faults, f)
			}
		}
		if faults == nil {
			t.Fatalf("-soak.only %q: no such fault in the matrix", *soakOnly)
		}
	}
	r := start(t, "loopback.yaml")
	verified := r.check("before the soak")
	counts := map[string]int{}
	var base usage
	deadline := time.Now().Add(*soakFor)
	n := 0
	for time.Now().Before(deadline) {
		f := faults[rng.IntN(len(faults))]
		r.fill()
		f.inject(t, r)
		verified += r.check(f.name)
		counts[f.name]++
		n++
		if n == 1 {
			base = measure()
		}
		if n%10 == 0 {
			t.Logf("soak: %d faults, %d bytes verified each way so far", n, verified)
		}
	}
	u := assertNoGrowth(t, "soak", base, 16<<10)
	t.Logf("soak: seed %d: %d faults injected %v, %d bytes verified each way, 0 lost or repeated; usage after the first fault %+v, at the end %+v",
		seed, n, counts, verified, base, u)
}
