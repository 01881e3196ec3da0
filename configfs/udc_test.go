package configfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// addUDCs makes UDC entries with a state attribute, as /sys/class/udc has.
func addUDCs(t *testing.T, r *Root, names ...string) {
	t.Helper()
	for _, n := range names {
		d := filepath.Join(r.UDCDir, n)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "state"), []byte("not attached\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func smallGadget(name string) *Gadget {
	return &Gadget{
		Name:      name,
		VendorID:  0x1a0a,
		ProductID: 0xbadd,
		Functions: []Function{SourceSink("0", SourceSinkOptions{})},
		Configs:   []Config{{Number: 1, Functions: []string{"SourceSink.0"}}},
	}
}

func TestPickUDCAndBind(t *testing.T) {
	k, r := newFakeKernel(t)
	addUDCs(t, r, "dummy_udc.1", "dummy_udc.0", "dummy_udc.2")
	for _, g := range []string{"a", "b"} {
		if err := r.Create(smallGadget(g)); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := r.PickUDC("nosuch"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("PickUDC(nosuch): got %v, want fs.ErrNotExist", err)
	}
	first, err := r.PickUDC("auto")
	if err != nil || first != "dummy_udc.0" {
		t.Fatalf("PickUDC(auto) = %q, %v; want dummy_udc.0 (the first by name)", first, err)
	}
	if err := r.Bind("a", first); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(r.Path("a"), "UDC")); got != "dummy_udc.0" {
		t.Fatalf("UDC attribute = %q after Bind", got)
	}
	if _, err := r.PickUDC("dummy_udc.0"); err == nil || !strings.Contains(err.Error(), `bound to gadget "a"`) {
		t.Fatalf("PickUDC of a bound UDC: got %v", err)
	}
	next, err := r.PickUDC("")
	if err != nil || next != "dummy_udc.1" {
		t.Fatalf("PickUDC(\"\") = %q, %v; want dummy_udc.1", next, err)
	}
	if err := r.Bind("b", "dummy_udc.2"); err != nil {
		t.Fatal(err)
	}

	udcs, err := r.UDCs()
	if err != nil {
		t.Fatal(err)
	}
	want := []UDC{
		{Name: "dummy_udc.0", State: "not attached", Gadget: "a"},
		{Name: "dummy_udc.1", State: "not attached"},
		{Name: "dummy_udc.2", State: "not attached", Gadget: "b"},
	}
	if diff := cmp.Diff(want, udcs); diff != "" {
		t.Fatalf("UDCs (-want +got):\n%s", diff)
	}

	// Rebind goes through an unbind: count the writes.
	count := &failAt{fs: k}
	r.fs = count
	if err := r.Rebind("a"); err != nil {
		t.Fatal(err)
	}
	if count.n != 2 {
		t.Fatalf("Rebind made %d writes, want 2 (unbind, bind)", count.n)
	}
	if got, _ := r.BoundUDC("a"); got != "dummy_udc.0" {
		t.Fatalf("after Rebind a is bound to %q", got)
	}

	if err := r.Unbind("a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.BoundUDC("a"); got != "" {
		t.Fatalf("after Unbind a is bound to %q", got)
	}
	count.n = 0
	if err := r.Unbind("a"); err != nil || count.n != 0 {
		t.Fatalf("Unbind of an unbound gadget = %v with %d writes, want nil and none", err, count.n)
	}
	if err := r.Rebind("a"); !errors.Is(err, ErrNotBound) {
		t.Fatalf("Rebind of an unbound gadget: got %v, want ErrNotBound", err)
	}

	if err := r.Bind("a", "dummy_udc.0"); err != nil {
		t.Fatal(err)
	}
	if err := r.Create(smallGadget("c")); err != nil {
		t.Fatal(err)
	}
	if err := r.Bind("c", "dummy_udc.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PickUDC("auto"); err == nil || !strings.Contains(err.Error(), "every UDC is bound") {
		t.Fatalf("PickUDC(auto) with all bound: got %v", err)
	}
	if err := r.Bind("a", "bad/name"); err == nil {
		t.Fatal("Bind accepted a UDC name with a slash")
	}
}

func TestPickUDCNone(t *testing.T) {
	_, r := newFakeKernel(t)
	if _, err := r.PickUDC("auto"); err == nil || !strings.Contains(err.Error(), "no UDC under") {
		t.Fatalf("PickUDC(auto) with no UDC: got %v", err)
	}
}
