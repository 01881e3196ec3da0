package vmtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMirrorFromMachineSources(t *testing.T) {
	deb822 := []byte(`Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://vendor.example/apt
Suites: nodistro
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
`)
	var m mirror
	for _, e := range parseDeb822(deb822) {
		m.merge(e)
	}
	want := mirror{Main: "http://mirror.example/debian", Security: "http://mirror.example/debian-security",
		SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg"}
	if m != want {
		t.Fatalf("deb822: got %+v, want %+v", m, want)
	}

	oneLine := []byte(`# deb http://old.example/debian buster main
deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bullseye main contrib
deb http://m.example/debian-security bullseye-security main
deb https://vendor.example/apt cloud-sdk main
`)
	m = mirror{}
	for _, e := range parseOneLine(oneLine) {
		m.merge(e)
	}
	want = mirror{Main: "http://m.example/debian", Security: "http://m.example/debian-security", SignedBy: "/k.gpg"}
	if m != want {
		t.Fatalf("one-line: got %+v, want %+v", m, want)
	}
}

func TestPrivateSourcesList(t *testing.T) {
	m := mirror{Main: "http://m/debian", Security: "http://m/debian-security", SignedBy: "/k.gpg"}
	trixie, _ := suiteByName("trixie")
	got := newPrivateApt("/c", trixie).sourcesList(m)
	want := "deb [signed-by=/k.gpg] http://m/debian trixie main\ndeb [signed-by=/k.gpg] http://m/debian-security trixie-security main\n"
	if got != want {
		t.Fatalf("trixie:\n%s\nwant\n%s", got, want)
	}
	sid, _ := suiteByName("sid")
	if got := newPrivateApt("/c", sid).sourcesList(m); strings.Contains(got, "security") {
		t.Fatalf("sid has no security suite:\n%s", got)
	}
	a := newPrivateApt("/c", sid)
	opts := strings.Join(a.opts(), " ")
	for _, w := range []string{"Dir::Etc::SourceList=/c/apt/sid/sources.list", "Dir::Etc::SourceParts=/dev/null", "Dir::State::Lists=/c/apt/sid/lists", "Dir::Cache=/c/apt/sid/cache"} {
		if !strings.Contains(opts, w) {
			t.Errorf("private apt options %q lack %s", opts, w)
		}
	}
}

func TestKernelChoice(t *testing.T) {
	for v, want := range map[string]string{"": "", "default": "", "sid": "sid", "bullseye": "bullseye", "6.12.118-1": "6.12.118-1"} {
		t.Setenv(EnvKernel, v)
		got, err := KernelChoice()
		if err != nil || got != want {
			t.Errorf("%s=%q: got %q, %v; want %q", EnvKernel, v, got, err, want)
		}
	}
	t.Setenv(EnvKernel, "bulseye")
	if _, err := KernelChoice(); err == nil || !strings.Contains(err.Error(), "bullseye, bookworm, trixie, sid") {
		t.Fatalf("a misspelt suite: err = %v, want the suites listed", err)
	}
}

func TestSplitParts(t *testing.T) {
	dep := "dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.2.13+deb14-amd64 (= 7.2.13-1), linux-binary-7.2.13+deb14-amd64 (= 7.2.13-1), linux-modules-7.2.13+deb14-amd64 (= 7.2.13-1)"
	got := splitParts("linux-image-7.2.13+deb14-amd64", dep)
	want := []string{"linux-base-7.2.13+deb14-amd64", "linux-binary-7.2.13+deb14-amd64", "linux-modules-7.2.13+deb14-amd64"}
	if !slices.Equal(got, want) {
		t.Fatalf("7.x parts = %v, want %v", got, want)
	}
	if got := splitParts("linux-image-6.1.0-57-amd64", "kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool"); len(got) != 0 {
		t.Fatalf("6.1 is one package, got parts %v", got)
	}
}

func TestLoadKernelSplitLayout(t *testing.T) {
	// 7.x: vmlinuz inside usr/lib/modules/R, no boot/.
	dir := t.TempDir()
	rel := "7.2.13+deb14-amd64"
	mods := filepath.Join(dir, "usr/lib/modules", rel)
	if err := os.MkdirAll(filepath.Join(mods, "kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mods, "vmlinuz"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := loadKernel(dir, "linux-image-"+rel, "7.2.13-1")
	if err != nil {
		t.Fatal(err)
	}
	if k.Release != rel || k.ModulesDir != mods || k.Vmlinuz != filepath.Join(mods, "vmlinuz") || k.Series() != "7.2" {
		t.Fatalf("got %+v (series %s)", k, k.Series())
	}
	if _, err := loadKernel(t.TempDir(), "p", "v"); err == nil {
		t.Fatal("an empty directory loaded as a kernel")
	}
}

func TestModNameCompressed(t *testing.T) {
	for in, want := range map[string]string{"usb-common.ko": "usb_common", "a/dummy_hcd.ko.xz": "dummy_hcd",
		"usb_f_fs.ko.zst": "usb_f_fs", "kernel/fs/configfs/configfs.ko": "configfs", "x.ko.gz": "x", "udc-core": "udc_core"} {
		if got := modName(in); got != want {
			t.Errorf("modName(%q) = %q, want %q", in, got, want)
		}
	}
}
