//go:build cgo

package host

import (
	"time"

	"github.com/gadgetkit/gadgetkit/internal/latency"
)

// Latency summarises transfer latencies (submission to completion) in
// microseconds; see internal/latency.
type Latency = latency.Summary

// Rate returns bytes and transfers per second over elapsed, with bytes
// counted in decimal megabytes (10^6) as USB speeds are.
func Rate(bytes, transfers int64, elapsed time.Duration) (mbPerSec, perSec float64) {
	s := elapsed.Seconds()
	if s <= 0 {
		return 0, 0
	}
	return float64(bytes) / 1e6 / s, float64(transfers) / s
}
