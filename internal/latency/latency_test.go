package latency

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestSummarizeNearestRank(t *testing.T) {
	// 1..100 ms: p50 is the 50th value, p90 the 90th, p99 the 99th.
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	rand.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	l := Summarize(s)
	want := Summary{Count: 100, Min: 1000, Mean: 50500, P50: 50000, P90: 90000, P99: 99000, Max: 100000}
	if l != want {
		t.Errorf("Summarize(1..100ms) = %+v, want %+v", l, want)
	}
}

func TestSummarizeSmallSamples(t *testing.T) {
	one := []time.Duration{7 * time.Microsecond}
	if l := Summarize(one); l.P50 != 7 || l.P99 != 7 || l.Max != 7 || l.Min != 7 || l.Count != 1 {
		t.Errorf("one sample: %+v", l)
	}
	// With 3 samples, p50 is rank ceil(1.5)=2 and p90/p99 are rank 3.
	three := []time.Duration{30 * time.Microsecond, 10 * time.Microsecond, 20 * time.Microsecond}
	l := Summarize(three)
	if l.P50 != 20 || l.P90 != 30 || l.P99 != 30 {
		t.Errorf("three samples: %+v", l)
	}
	if l := Summarize(nil); l != (Summary{}) {
		t.Errorf("no samples: %+v", l)
	}
}

func TestPercentileRank(t *testing.T) {
	for _, c := range []struct {
		n    int
		p    float64
		want int // 1-based rank: ceil(p/100 * n), at least 1
	}{
		{1, 50, 1}, {1, 99, 1}, {1, 100, 1},
		{2, 50, 1}, {2, 51, 2}, {2, 99, 2},
		{3, 50, 2}, {10, 99, 10}, {200, 99, 198}, {1000, 99, 990}, {1000, 100, 1000},
		// p/100*n rounds up past the integer here (0.07*100 is
		// 7.000000000000001): the copies in host and bench took rank 8.
		{100, 7, 7}, {100, 14, 14}, {100, 55, 55}, {200, 7, 14}, {200, 56, 112},
		{5, 0.1, 1},
	} {
		sorted := make([]time.Duration, c.n)
		for i := range sorted {
			sorted[i] = time.Duration(i + 1)
		}
		if got := Percentile(sorted, c.p); got != time.Duration(c.want) {
			t.Errorf("Percentile(1..%d, %v) = rank %d, want %d", c.n, c.p, got, c.want)
		}
	}
}
