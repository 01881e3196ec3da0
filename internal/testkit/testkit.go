// Package testkit is what the kernel tests of several packages share: a
// log buffer their gadgets write to from many goroutines, and the check
// that a test left no gadget in configfs and no functionfs mounted.
package testkit

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/gadgetkit/gadgetkit/configfs"
)

// Log collects what a gadget or daemon writes while its goroutines run.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Count is how many times substr occurs in the log ("\n": its lines).
func (l *Log) Count(substr string) int { return strings.Count(l.String(), substr) }

// AssertNoResidue fails t unless configfs holds no gadget and no
// functionfs instance is mounted.
func AssertNoResidue(t testing.TB) {
	t.Helper()
	names, err := (&configfs.Root{}).Gadgets()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Errorf("configfs still holds gadgets %v", names)
	}
	mounts, err := configfs.FunctionFSMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 0 {
		t.Errorf("functionfs still mounted: %+v", mounts)
	}
}
