package vmtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseDepends(t *testing.T) {
	out := []byte("linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n  Recommends: firmware\n")
	pkg, err := parseDepends(out)
	if err != nil || pkg != "linux-image-6.1.0-56-amd64" {
		t.Fatalf("parseDepends = %q, %v", pkg, err)
	}
	if _, err := parseDepends([]byte("linux-image-amd64\n")); err == nil {
		t.Fatal("no Depends line accepted")
	}
	alt := []byte("linux-image-amd64\n |Depends: linux-image-6.1.0-57-amd64\n  Depends: linux-image-6.1.0-56-amd64\n")
	if pkg, _ := parseDepends(alt); pkg != "linux-image-6.1.0-57-amd64" {
		t.Fatalf("alternatives: got %q", pkg)
	}
}

func TestParseVersion(t *testing.T) {
	v, err := parseVersion([]byte("Package: linux-image-6.1.0-56-amd64\nVersion: 6.1.192-2\nArchitecture: amd64\n"))
	if err != nil || v != "6.1.192-2" {
		t.Fatalf("parseVersion = %q, %v", v, err)
	}
	if _, err := parseVersion([]byte("Package: x\n")); err == nil {
		t.Fatal("missing Version accepted")
	}
}

func fakeKernel(t *testing.T, cache, key, release string) string {
	t.Helper()
	dir := filepath.Join(cache, "kernels", key)
	for _, d := range []string{"boot", "lib/modules/" + release + "/kernel"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "boot", "vmlinuz-"+release), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCachedKernelPicksNewestComplete(t *testing.T) {
	cache := t.TempDir()
	old := fakeKernel(t, cache, "linux-image-6.1.0-55-amd64_6.1.190-1", "6.1.0-55-amd64")
	newer := fakeKernel(t, cache, "linux-image-6.1.0-56-amd64_1%3a6.1.192-2", "6.1.0-56-amd64")
	// A half-fetched directory (no vmlinuz) must never be chosen.
	if err := os.MkdirAll(filepath.Join(cache, "kernels", "linux-image-9-amd64_9"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(old, oldTime, oldTime); err != nil {
		t.Fatal(err)
	}
	k, err := cachedKernel(cache)
	if err != nil {
		t.Fatal(err)
	}
	if k.Package != "linux-image-6.1.0-56-amd64" || k.Version != "1:6.1.192-2" || k.Release != "6.1.0-56-amd64" {
		t.Fatalf("got %+v", k)
	}
	if k.ModulesDir != filepath.Join(newer, "lib/modules/6.1.0-56-amd64") {
		t.Fatalf("modules dir %s", k.ModulesDir)
	}
	if _, err := cachedKernel(t.TempDir()); err == nil {
		t.Fatal("empty cache gave a kernel")
	}
}

var oldTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
