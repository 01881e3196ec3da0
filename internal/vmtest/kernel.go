package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// MetaPackage is the Debian package that always depends on the current
// kernel image package (today linux-image-6.1.0-NN-amd64).
const MetaPackage = "linux-image-amd64"

// Kernel is an unpacked Debian kernel package in the cache.
type Kernel struct {
	Package    string // e.g. linux-image-6.1.0-56-amd64
	Version    string // package version, e.g. 6.1.192-2
	Release    string // uname -r, e.g. 6.1.0-56-amd64
	Vmlinuz    string
	ModulesDir string // .../lib/modules/<release>
}

func (k *Kernel) String() string { return k.Package + " " + k.Version }

// DefaultCacheDir is $GADGETKIT_CACHE, else $XDG_CACHE_HOME/gadgetkit, else
// ~/.cache/gadgetkit.
func DefaultCacheDir() string {
	if d := os.Getenv("GADGETKIT_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gadgetkit")
	}
	return filepath.Join(os.TempDir(), "gadgetkit-cache")
}

// parseDepends returns the kernel image package in `apt-cache depends` output.
func parseDepends(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), " |")
		if dep, ok := strings.CutPrefix(line, "Depends: "); ok && strings.HasPrefix(dep, "linux-image-") {
			return strings.TrimSpace(dep), nil
		}
	}
	return "", fmt.Errorf("no linux-image-* dependency in `apt-cache depends %s` output (run apt-get update?)", MetaPackage)
}

// parseVersion returns the Version: field of `apt-cache show` output.
func parseVersion(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Version: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("no Version: field in `apt-cache show` output")
}

// cacheKey names the cache directory of one package version. Debian versions
// may hold ':' (epochs), which is awkward in paths.
func cacheKey(pkg, version string) string {
	return pkg + "_" + strings.ReplaceAll(version, ":", "%3a")
}

// ResolveKernel returns the current Debian kernel, downloading and unpacking
// it into cacheDir the first time. When apt cannot answer (offline, no
// package lists) it falls back to the newest kernel already in the cache.
// GADGETKIT_KERNEL_PKG pins a package name instead of following MetaPackage.
func ResolveKernel(ctx context.Context, cacheDir string, logf func(string, ...any)) (*Kernel, error) {
	// apt-cache takes seconds; its answer only changes when the package
	// lists do, so it is remembered against their modification time.
	memo := filepath.Join(cacheDir, "resolved.json")
	stamp := aptListsStamp()
	var r resolved
	if b, err := os.ReadFile(memo); err == nil && json.Unmarshal(b, &r) == nil &&
		stamp != "" && r.Stamp == stamp && r.Pin == os.Getenv("GADGETKIT_KERNEL_PKG") {
		if k, err := loadKernel(filepath.Join(cacheDir, "kernels", cacheKey(r.Package, r.Version)), r.Package, r.Version); err == nil {
			return k, nil
		}
	}
	pkg, version, aptErr := currentPackage(ctx)
	if aptErr != nil {
		k, err := CachedKernel(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("resolve kernel: %v; and no cached kernel: %v", aptErr, err)
		}
		logf("vmtest: apt unavailable (%v); using cached %s", aptErr, k)
		return k, nil
	}
	dir := filepath.Join(cacheDir, "kernels", cacheKey(pkg, version))
	k, err := loadKernel(dir, pkg, version)
	if err != nil {
		logf("vmtest: fetching %s %s into %s (once)", pkg, version, dir)
		if err := fetchKernel(ctx, dir, pkg); err != nil {
			return nil, err
		}
		if k, err = loadKernel(dir, pkg, version); err != nil {
			return nil, err
		}
	}
	if b, err := json.Marshal(resolved{Package: pkg, Version: version, Stamp: stamp, Pin: os.Getenv("GADGETKIT_KERNEL_PKG")}); err == nil {
		os.WriteFile(memo, b, 0o644)
	}
	return k, nil
}

// resolved remembers apt's last answer.
type resolved struct {
	Package, Version string
	Stamp            string // aptListsStamp when apt answered
	Pin              string // GADGETKIT_KERNEL_PKG when apt answered
}

// aptListsStamp changes whenever apt-get update replaces the package lists.
func aptListsStamp() string {
	fi, err := os.Stat("/var/lib/apt/lists")
	if err != nil {
		return ""
	}
	return fi.ModTime().UTC().Format(time.RFC3339Nano)
}

func currentPackage(ctx context.Context) (pkg, version string, err error) {
	pkg = os.Getenv("GADGETKIT_KERNEL_PKG")
	if pkg == "" {
		out, err := exec.CommandContext(ctx, "apt-cache", "depends", MetaPackage).Output()
		if err != nil {
			return "", "", fmt.Errorf("apt-cache depends %s: %w", MetaPackage, err)
		}
		if pkg, err = parseDepends(out); err != nil {
			return "", "", err
		}
	}
	out, err := exec.CommandContext(ctx, "apt-cache", "show", "--no-all-versions", pkg).Output()
	if err != nil {
		return "", "", fmt.Errorf("apt-cache show %s: %w", pkg, err)
	}
	version, err = parseVersion(out)
	return pkg, version, err
}

// fetchKernel downloads the package and unpacks it into dir atomically: a
// half-unpacked directory is never mistaken for a complete one.
func fetchKernel(ctx context.Context, dir, pkg string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dl := exec.CommandContext(ctx, "apt-get", "download", "-o", "APT::Sandbox::User=root", pkg)
	dl.Dir = tmp
	if out, err := dl.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s: %w\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: expected one .deb, found %d", pkg, len(debs))
	}
	root := filepath.Join(tmp, "root")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w\n%s", filepath.Base(debs[0]), err, out)
	}
	os.RemoveAll(dir)
	return os.Rename(root, dir)
}

// loadKernel checks that dir holds an unpacked kernel package.
func loadKernel(dir, pkg, version string) (*Kernel, error) {
	vmlinuz, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if len(vmlinuz) != 1 {
		return nil, fmt.Errorf("%s: want one boot/vmlinuz-*, found %d", dir, len(vmlinuz))
	}
	release := strings.TrimPrefix(filepath.Base(vmlinuz[0]), "vmlinuz-")
	mods := filepath.Join(dir, "lib", "modules", release)
	if _, err := os.Stat(mods); err != nil {
		return nil, fmt.Errorf("%s: no modules: %w", dir, err)
	}
	return &Kernel{Package: pkg, Version: version, Release: release, Vmlinuz: vmlinuz[0], ModulesDir: mods}, nil
}

// CachedKernel returns the most recently unpacked kernel in cacheDir.
func CachedKernel(cacheDir string) (*Kernel, error) {
	entries, err := os.ReadDir(filepath.Join(cacheDir, "kernels"))
	if err != nil {
		return nil, err
	}
	type cand struct {
		k   *Kernel
		mod int64
	}
	var cands []cand
	for _, e := range entries {
		pkg, ver, ok := strings.Cut(e.Name(), "_")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(cacheDir, "kernels", e.Name())
		k, err := loadKernel(dir, pkg, strings.ReplaceAll(ver, "%3a", ":"))
		if err != nil {
			continue
		}
		fi, err := os.Stat(dir)
		if err != nil {
			continue
		}
		cands = append(cands, cand{k, fi.ModTime().UnixNano()})
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("no kernel unpacked under %s", filepath.Join(cacheDir, "kernels"))
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].mod > cands[j].mod })
	return cands[0].k, nil
}
