package vmtest

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseModInfo(t *testing.T) {
	raw := []byte("license=GPL\x00depends=usbcore,usb-common\x00alias=usb:v*\x00alias=of:x\x00\x00intree=Y\x00")
	info := parseModInfo(raw)
	if got := dependsOf(info); !reflect.DeepEqual(got, []string{"usbcore", "usb_common"}) {
		t.Fatalf("depends = %q", got)
	}
	if got := info["alias"]; len(got) != 2 {
		t.Fatalf("alias = %q, want two values", got)
	}
	if got := dependsOf(parseModInfo([]byte("depends=\x00"))); len(got) != 0 {
		t.Fatalf("empty depends gave %q", got)
	}
}

func TestClosureOrdersDependenciesFirst(t *testing.T) {
	// The real graph of the modules the guest loads (6.1).
	graph := map[string][]string{
		"usb_common":   nil,
		"usbcore":      {"usb_common"},
		"udc_core":     {"usb_common"},
		"dummy_hcd":    {"usbcore", "udc_core"},
		"configfs":     nil,
		"libcomposite": {"usbcore", "configfs", "udc_core"},
		"usb_f_fs":     {"libcomposite"},
	}
	depsOf := func(n string) ([]string, error) { return graph[n], nil }
	order, err := Closure([]string{"usb_f_fs", "dummy-hcd"}, depsOf)
	if err != nil {
		t.Fatal(err)
	}
	pos := make(map[string]int)
	for i, n := range order {
		pos[n] = i
	}
	if len(order) != len(graph) {
		t.Fatalf("order %q has %d modules, want %d", order, len(order), len(graph))
	}
	for mod, deps := range graph {
		for _, d := range deps {
			if pos[d] > pos[mod] {
				t.Errorf("%s loads before its dependency %s in %q", mod, d, order)
			}
		}
	}
	again, _ := Closure([]string{"usb_f_fs", "dummy-hcd"}, depsOf)
	if !reflect.DeepEqual(order, again) {
		t.Fatalf("not deterministic: %q vs %q", order, again)
	}
}

func TestClosureReportsCycle(t *testing.T) {
	graph := map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}}
	_, err := Closure([]string{"a"}, func(n string) ([]string, error) { return graph[n], nil })
	if err == nil || !strings.Contains(err.Error(), "a -> b -> c -> a") {
		t.Fatalf("err = %v, want the cycle spelled out", err)
	}
}

func TestResolveModulesFromKernelPackage(t *testing.T) {
	// Runs against the cached kernel when the harness has fetched it; the
	// graph test above covers the ordering logic everywhere.
	k, err := CachedKernel(DefaultCacheDir())
	if err != nil {
		t.Skipf("no cached kernel (%v): make test fetches one first", err)
	}
	mods, paths, err := ResolveModules(k.ModulesDir, []string{"usb_f_fs", "dummy_hcd"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range mods {
		for _, d := range m.Depends {
			if !seen[d] {
				t.Errorf("%s loads before its dependency %s", m.Name, d)
			}
		}
		seen[m.Name] = true
		if paths[m.Name] == "" {
			t.Errorf("%s has no path", m.Name)
		}
	}
	for _, want := range []string{"usbcore", "udc_core", "libcomposite", "configfs"} {
		if !seen[want] {
			t.Errorf("closure lacks %s: %v", want, mods)
		}
	}
}

func TestPresentModules(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"kernel/drivers/usb/usb-common.ko", "kernel/fs/configfs.ko", "kernel/README"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := PresentModules(root, []string{"udmabuf", "usb_common", "configfs", "README"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"usb_common", "configfs"}; !slices.Equal(got, want) {
		t.Fatalf("PresentModules = %v, want %v", got, want)
	}
}
