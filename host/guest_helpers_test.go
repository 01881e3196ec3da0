//go:build cgo

package host

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// kernelFunction builds and binds a one-function configfs gadget ("SourceSink"
// or "Loopback") with the given function attributes, and opens it from the
// host side by its serial number.
func kernelFunction(t *testing.T, fn string, attrs map[string]string) (*guest.Gadget, *Device) {
	t.Helper()
	guest.Require(t)
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{fn + ".0"}})
	// Function attributes are busy while the function is linked into a
	// configuration, and NewGadget links at once: unlink, set, relink.
	link := filepath.Join(g.Path, "configs/c.1", fn+".0")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	for k, v := range attrs {
		if err := g.Write("functions/"+fn+".0/"+k, v); err != nil {
			t.Fatalf("set %s.0/%s: %v", fn, k, err)
		}
	}
	if err := os.Symlink(filepath.Join(g.Path, "functions", fn+".0"), link); err != nil {
		t.Fatal(err)
	}
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Open(ctx, Options{Selector: Selector{Serial: g.Serial}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return g, d
}
