//go:build cgo

package host

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: p50 is the 50th value, p90 the 90th, p99 the 99th.
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	rand.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	l := Summarize(s)
	want := Latency{Count: 100, Min: 1000, Mean: 50500, P50: 50000, P90: 90000, P99: 99000, Max: 100000}
	if l != want {
		t.Errorf("Summarize(1..100ms) = %+v, want %+v", l, want)
	}
}

func TestPercentileSmallSamples(t *testing.T) {
	one := []time.Duration{7 * time.Microsecond}
	if l := Summarize(one); l.P50 != 7 || l.P99 != 7 || l.Max != 7 || l.Min != 7 {
		t.Errorf("one sample: %+v", l)
	}
	// With 3 samples, p50 is rank ceil(1.5)=2 and p90/p99 are rank 3.
	three := []time.Duration{30 * time.Microsecond, 10 * time.Microsecond, 20 * time.Microsecond}
	l := Summarize(three)
	if l.P50 != 20 || l.P90 != 30 || l.P99 != 30 {
		t.Errorf("three samples: %+v", l)
	}
	if l := Summarize(nil); l != (Latency{}) {
		t.Errorf("no samples: %+v", l)
	}
}

func TestRate(t *testing.T) {
	mb, per := Rate(53_248_000, 1000, 2*time.Second)
	if mb != 26.624 || per != 500 {
		t.Errorf("Rate = %v MB/s, %v/s; want 26.624, 500", mb, per)
	}
	if mb, per := Rate(1, 1, 0); mb != 0 || per != 0 {
		t.Errorf("Rate over zero time = %v, %v", mb, per)
	}
}
