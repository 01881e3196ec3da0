//go:build cgo

package host

import (
	"math"
	"slices"
	"time"
)

// Latency summarises transfer latencies (submission to completion) in
// microseconds. Percentiles use the nearest-rank method: P99 is the
// smallest latency that at least 99% of transfers did not exceed.
type Latency struct {
	Count int64   `json:"count"`
	Min   float64 `json:"min_us"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	Max   float64 `json:"max_us"`
}

// Summarize computes Latency from samples; it sorts samples in place.
func Summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Latency{
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
// sorted, which must be sorted ascending and not empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// Rate returns bytes and transfers per second over elapsed, with bytes
// counted in decimal megabytes (10^6) as USB speeds are.
func Rate(bytes, transfers int64, elapsed time.Duration) (mbPerSec, perSec float64) {
	s := elapsed.Seconds()
	if s <= 0 {
		return 0, 0
	}
	return float64(bytes) / 1e6 / s, float64(transfers) / s
}
