package testkit

import (
	"fmt"
	"sync"
	"testing"
)

func TestLogConcurrentWriters(t *testing.T) {
	var l Log
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(&l, "writer %d line %d\n", g, i)
			}
		})
	}
	wg.Wait()
	if got := l.Count("\n"); got != 400 {
		t.Fatalf("%d lines, want 400", got)
	}
	if got := l.Count("writer 3 "); got != 100 {
		t.Fatalf("%d lines of writer 3, want 100", got)
	}
}
