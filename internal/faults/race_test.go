//go:build cgo && race

package faults

// rssScale widens the RSS slack: the race detector's shadow memory grows
// with every allocation the test's host side makes.
const rssScale = 4
