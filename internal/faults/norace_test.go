//go:build cgo && !race

package faults

// rssScale widens the RSS slack under the race detector (see race_test.go).
const rssScale = 1
