// Package latency is the one home of the latency summary both sides
// report: the host peer's bench (hosttest bench --json), the guest
// benchmarks (internal/bench) and the abort records' report. It is pure Go.
package latency

import (
	"math"
	"slices"
	"time"
)

// Summary summarises latencies in microseconds. Percentiles use the
// nearest-rank method: P99 is the smallest latency that at least 99% of
// the samples did not exceed.
type Summary struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min_us"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	Max   float64 `json:"max_us"`
}

// Summarize computes the Summary of samples; it sorts samples in place.
// No samples give the zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Summary{
		Count: int64(len(samples)),
		Min:   us(samples[0]),
		Mean:  us(sum) / float64(len(samples)),
		P50:   us(Percentile(samples, 50)),
		P90:   us(Percentile(samples, 90)),
		P99:   us(Percentile(samples, 99)),
		Max:   us(samples[len(samples)-1]),
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, which must be sorted ascending and not empty: the sample of rank
// ceil(p/100 * n). The rank is computed as p*n/100, so that p*n, an
// integer for integer p, is divided once: p/100 first would round 0.07*100
// to 7.000000000000001 and take rank 8.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
