//go:build cgo

package host

import (
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	mb, per := Rate(53_248_000, 1000, 2*time.Second)
	if mb != 26.624 || per != 500 {
		t.Errorf("Rate = %v MB/s, %v/s; want 26.624, 500", mb, per)
	}
	if mb, per := Rate(1, 1, 0); mb != 0 || per != 0 {
		t.Errorf("Rate over zero time = %v, %v", mb, per)
	}
}
