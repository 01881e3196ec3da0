package conformance

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// rows collects what the tests observed, one per claim id.
var rows = struct {
	sync.Mutex
	m map[string]Row
}{m: map[string]Row{}}

func TestMain(m *testing.M) {
	if ep := os.Getenv(envHelper); ep != "" {
		os.Exit(otherProcess(ep))
	}
	code := m.Run()
	if err := writeReport(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// writeReport writes the rows to $GADGETKIT_OUT/conformance/<uname -r>.json
// when the tests ran in the guest and observed anything.
func writeReport() error {
	out := os.Getenv("GADGETKIT_OUT")
	rows.Lock()
	defer rows.Unlock()
	if out == "" || !guest.InGuest() || len(rows.m) == 0 {
		return nil
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	r := &Report{Kernel: unix.ByteSliceToString(u.Release[:]), Version: unix.ByteSliceToString(u.Version[:]), Machine: unix.ByteSliceToString(u.Machine[:])}
	for _, c := range Claims {
		if row, ok := rows.m[c.ID]; ok {
			r.Rows = append(r.Rows, row)
		}
	}
	p, err := r.Write(out)
	if err != nil {
		return err
	}
	fmt.Printf("conformance: %d claims on %s written to %s\n", len(r.Rows), r.Kernel, p)
	return nil
}

// obs is what one test observes about one claim. The row is recorded when
// the test ends, whatever way it ends.
type obs struct {
	t     *testing.T
	c     Claim
	parts []string
	bad   bool
}

// observe starts the row for claim id.
func observe(t *testing.T, id string) *obs {
	t.Helper()
	c, ok := ClaimByID(id)
	if !ok {
		t.Fatalf("claim %q is not in the catalogue", id)
	}
	o := &obs{t: t, c: c}
	t.Cleanup(o.record)
	return o
}

// see adds a fact to the observation.
func (o *obs) see(format string, args ...any) {
	o.parts = append(o.parts, fmt.Sprintf(format, args...))
}

// depart adds a fact that is not what the toolkit relies on and fails the
// test (the row is still recorded).
func (o *obs) depart(format string, args ...any) {
	o.t.Helper()
	msg := fmt.Sprintf(format, args...)
	o.see("%s", msg)
	o.bad = true
	o.t.Errorf("claim %s departs: %s (relied on: %s)", o.c.ID, msg, o.c.ReliedOn)
}

func (o *obs) record() {
	observed := strings.Join(o.parts, "; ")
	if o.t.Failed() && !o.bad {
		observed += "; the test failed before settling the claim (see its log)"
	}
	rows.Lock()
	rows.m[o.c.ID] = Row{Claim: o.c, Observed: observed, OK: !o.t.Failed()}
	rows.Unlock()
	o.t.Logf("claim %s: %s", o.c.ID, observed)
}

// errnoName is the errno's name ("EINVAL"), "0" for success.
func errnoName(err error) string {
	if err == nil {
		return "0"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return fmt.Sprintf("errno %d", int(e))
	}
	return err.Error()
}

// resName is an event's res: a byte count, or -ERRNO.
func resName(res int64) string {
	if res >= 0 {
		return fmt.Sprintf("%d", res)
	}
	if n := unix.ErrnoName(unix.Errno(-res)); n != "" {
		return "-" + n
	}
	return fmt.Sprintf("%d", res)
}
