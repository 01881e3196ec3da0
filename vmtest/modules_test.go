package vmtest

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
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
	order, err := closure([]string{"usb_f_fs", "dummy-hcd"}, depsOf)
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
	again, _ := closure([]string{"usb_f_fs", "dummy-hcd"}, depsOf)
	if !reflect.DeepEqual(order, again) {
		t.Fatalf("not deterministic: %q vs %q", order, again)
	}
}

func TestClosureReportsCycle(t *testing.T) {
	graph := map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}}
	_, err := closure([]string{"a"}, func(n string) ([]string, error) { return graph[n], nil })
	if err == nil || !strings.Contains(err.Error(), "a -> b -> c -> a") {
		t.Fatalf("err = %v, want the cycle spelled out", err)
	}
}

func TestResolveModulesFromKernelPackage(t *testing.T) {
	// Runs against the cached kernel when the harness has fetched it; the
	// graph test above covers the ordering logic everywhere.
	k, err := testKernel()
	if err != nil {
		t.Skipf("no kernel (%v): make test fetches one first", err)
	}
	mods, paths, err := resolveModules(k.ModulesDir, []string{"usb_f_fs", "dummy_hcd"}, nil)
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

// TestResolveModulesEveryKernel resolves the guest's modules in each suite's
// kernel: plain .ko (5.10, 6.1) and xz-compressed (6.12, 7.x) files come out
// as loadable ELF files, built-in modules need none, and a carried module the
// kernel lacks is listed as missing with its name, not an error. udmabuf
// (built in where CONFIG_UDMABUF=y, absent where it is not set) checks both
// against the kernel's own config.
func TestResolveModulesEveryKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches every suite's kernel")
	}
	for _, s := range suites {
		t.Run(s.Name, func(t *testing.T) {
			k, err := ResolveKernel(context.Background(), DefaultCacheDir(), s.Name, t.Logf)
			if err != nil {
				if os.Getenv("GADGETKIT_REQUIRE_GUEST") == "1" {
					t.Fatal(err)
				}
				t.Skipf("cannot fetch the %s kernel here: %v", s.Name, err)
			}
			mods, paths, err := resolveModules(k.ModulesDir, baseModules, append(append([]string(nil), carriedModules...), "udmabuf"))
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]module{}
			for _, m := range mods {
				byName[m.Name] = m
				if m.File == "" {
					continue
				}
				if _, err := modInfo(paths[m.Name]); err != nil {
					t.Errorf("%s: carried file is not a module: %v", m.Name, err)
				}
			}
			for _, b := range baseModules {
				if m, ok := byName[b]; !ok || m.Missing != "" {
					t.Errorf("base module %s: %+v", b, m)
				}
			}
			udmabuf := kernelConfig(t, k, "CONFIG_UDMABUF")
			m := byName["udmabuf"]
			switch udmabuf {
			case "y":
				if !m.Builtin {
					t.Errorf("CONFIG_UDMABUF=y but udmabuf is %+v", m)
				}
			case "m":
				if m.File == "" {
					t.Errorf("CONFIG_UDMABUF=m but udmabuf is %+v", m)
				}
			default:
				if !strings.Contains(m.Missing, "has no module udmabuf") {
					t.Errorf("CONFIG_UDMABUF unset but udmabuf is %+v", m)
				}
			}
			t.Logf("%s: %d modules, udmabuf %q", k.Release, len(mods), udmabuf)
		})
	}
}

// kernelConfig reads one option of the kernel's config (boot/config-R up to
// 6.12, lib/modules/R/config from 7.x); "" when it is not set.
func kernelConfig(t *testing.T, k *Kernel, opt string) string {
	t.Helper()
	for _, p := range []string{filepath.Join(filepath.Dir(filepath.Dir(k.Vmlinuz)), "boot", "config-"+k.Release),
		filepath.Join(filepath.Dir(k.Vmlinuz), "config-"+k.Release), filepath.Join(k.ModulesDir, "config")} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, opt+"="); ok {
				return v
			}
		}
		return ""
	}
	t.Fatalf("no kernel config for %s", k.Release)
	return ""
}
