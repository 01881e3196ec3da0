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

// metaPackage is the Debian package that always depends on the current
// kernel image package (today linux-image-6.1.0-NN-amd64).
const metaPackage = "linux-image-amd64"

// Kernel is an unpacked Debian kernel package in the cache.
type Kernel struct {
	Package    string // e.g. linux-image-6.1.0-56-amd64
	Version    string // package version, e.g. 6.1.192-2
	Release    string // uname -r, e.g. 6.1.0-56-amd64
	Vmlinuz    string
	ModulesDir string // .../lib/modules/<release>
	Suite      string // the Debian suite it was chosen from, when chosen by suite or version
}

func (k *Kernel) String() string { return k.Package + " " + k.Version }

// Series is the upstream series, from the release: "6.12" for 6.12.118+deb13-amd64.
func (k *Kernel) Series() string {
	f := strings.SplitN(k.Release, ".", 3)
	if len(f) < 2 {
		return k.Release
	}
	return f[0] + "." + f[1]
}

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
	return "", fmt.Errorf("no linux-image-* dependency in `apt-cache depends %s` output (run apt-get update?)", metaPackage)
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

// ResolveKernel returns the guest kernel that choice names (see EnvKernel:
// empty for the machine's own apt sources, a suite of Suites, or an exact
// package version), downloading and unpacking it into cacheDir the first
// time. When apt cannot answer (offline, no package lists) it falls back to
// the kernel it resolved last for that choice, if it is still in the cache.
// GADGETKIT_KERNEL_PKG pins a package name instead of following linux-image-amd64
// in the machine's sources.
func ResolveKernel(ctx context.Context, cacheDir, choice string, logf func(string, ...any)) (*Kernel, error) {
	switch s, ok := suiteByName(choice); {
	case choice == "" || choice == "default":
		return resolveDefault(ctx, cacheDir, logf)
	case ok:
		return resolveSuite(ctx, cacheDir, s, logf)
	default:
		return resolveVersion(ctx, cacheDir, choice, logf)
	}
}

// KernelChoice is the kernel EnvKernel names, checked: a suite, a version
// (anything with a digit), or empty.
func KernelChoice() (string, error) {
	v := os.Getenv(EnvKernel)
	if v == "" || v == "default" {
		return "", nil
	}
	if _, ok := suiteByName(v); ok || strings.ContainsAny(v, "0123456789") {
		return v, nil
	}
	return "", fmt.Errorf("%s=%q: want one of %s, an exact kernel package version (e.g. 6.12.118-1), or empty for the machine's own apt sources",
		EnvKernel, v, strings.Join(SuiteNames(), ", "))
}

func resolveDefault(ctx context.Context, cacheDir string, logf func(string, ...any)) (*Kernel, error) {
	// apt-cache takes seconds; its answer only changes when the package
	// lists do, so it is remembered against their modification time.
	memo := filepath.Join(cacheDir, "resolved.json")
	stamp := aptListsStamp()
	r, memoOK := readMemo(memo)
	if memoOK && stamp != "" && r.Stamp == stamp && r.Pin == os.Getenv("GADGETKIT_KERNEL_PKG") {
		if k, err := loadKernel(kernelDir(cacheDir, r.Package, r.Version), r.Package, r.Version); err == nil {
			return k, nil
		}
	}
	pkg, version, aptErr := currentPackage(ctx)
	if aptErr != nil && memoOK {
		if k, err := loadKernel(kernelDir(cacheDir, r.Package, r.Version), r.Package, r.Version); err == nil {
			logf("vmtest: apt unavailable (%v); using cached %s", aptErr, k)
			return k, nil
		}
	}
	if aptErr != nil {
		k, err := cachedKernel(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("resolve kernel: %v; and no cached kernel: %v", aptErr, err)
		}
		logf("vmtest: apt unavailable (%v); using cached %s", aptErr, k)
		return k, nil
	}
	k, err := ensureKernel(ctx, cacheDir, pkg, version, exec.CommandContext, logf)
	if err != nil {
		return nil, err
	}
	writeMemo(memo, resolved{Package: pkg, Version: version, Stamp: stamp, Pin: os.Getenv("GADGETKIT_KERNEL_PKG")})
	return k, nil
}

// resolveSuite follows linux-image-amd64 in one suite through the harness's
// own apt lists for it, refreshed once a day.
func resolveSuite(ctx context.Context, cacheDir string, s suite, logf func(string, ...any)) (*Kernel, error) {
	a := newPrivateApt(cacheDir, s)
	memo := filepath.Join(cacheDir, "resolved-"+s.Name+".json")
	r, memoOK := readMemo(memo)
	cached := func() (*Kernel, error) {
		if !memoOK {
			return nil, fmt.Errorf("no %s kernel resolved before", s.Name)
		}
		return loadKernel(kernelDir(cacheDir, r.Package, r.Version), r.Package, r.Version)
	}
	if memoOK && a.fresh() && r.Stamp == a.stamp() {
		if k, err := cached(); err == nil {
			return k, nil
		}
	}
	if !a.fresh() {
		if err := a.update(ctx); err != nil {
			if k, cerr := cached(); cerr == nil {
				logf("vmtest: %v\nvmtest: using cached %s kernel %s", err, s.Name, k)
				return k, nil
			}
			if a.stamp() == "" {
				return nil, fmt.Errorf("kernel for %s: %w", s.Name, err)
			}
			logf("vmtest: %v\nvmtest: using the %s package lists of %s", err, s.Name, a.stamp())
		}
	}
	pkg, version, err := a.candidate(ctx)
	if err != nil {
		if k, cerr := cached(); cerr == nil {
			logf("vmtest: %v; using cached %s kernel %s", err, s.Name, k)
			return k, nil
		}
		return nil, err
	}
	k, err := ensureKernel(ctx, cacheDir, pkg, version, a.command, logf)
	if err != nil {
		return nil, err
	}
	k.Suite = s.Name
	writeMemo(memo, resolved{Package: pkg, Version: version, Stamp: a.stamp()})
	return k, nil
}

// resolveVersion finds the suite whose current kernel package (or whose
// linux-image-amd64) has exactly this version; offline, the cache answers.
func resolveVersion(ctx context.Context, cacheDir, want string, logf func(string, ...any)) (*Kernel, error) {
	if k, err := cachedVersion(cacheDir, want); err == nil {
		return k, nil
	}
	var seen []string
	for _, s := range suites {
		a := newPrivateApt(cacheDir, s)
		if !a.fresh() {
			if err := a.update(ctx); err != nil && a.stamp() == "" {
				seen = append(seen, fmt.Sprintf("%s: %v", s.Name, firstLine(err.Error())))
				continue
			}
		}
		pkg, version, err := a.candidate(ctx)
		if err != nil {
			seen = append(seen, fmt.Sprintf("%s: %v", s.Name, firstLine(err.Error())))
			continue
		}
		meta, _ := a.version(ctx, metaPackage)
		if version == want || meta == want {
			k, err := ensureKernel(ctx, cacheDir, pkg, version, a.command, logf)
			if err != nil {
				return nil, err
			}
			k.Suite = s.Name
			return k, nil
		}
		seen = append(seen, fmt.Sprintf("%s: %s %s", s.Name, pkg, version))
	}
	return nil, fmt.Errorf("%s=%s: no suite serves a kernel of that version (%s)", EnvKernel, want, strings.Join(seen, "; "))
}

// cachedVersion returns an unpacked kernel of exactly this package version.
func cachedVersion(cacheDir, version string) (*Kernel, error) {
	entries, err := os.ReadDir(filepath.Join(cacheDir, "kernels"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		pkg, ver, ok := strings.Cut(e.Name(), "_")
		if !ok || strings.HasPrefix(e.Name(), ".") || strings.ReplaceAll(ver, "%3a", ":") != version {
			continue
		}
		return loadKernel(filepath.Join(cacheDir, "kernels", e.Name()), pkg, version)
	}
	return nil, fmt.Errorf("no cached kernel of version %s", version)
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

func kernelDir(cacheDir, pkg, version string) string {
	return filepath.Join(cacheDir, "kernels", cacheKey(pkg, version))
}

// ensureKernel returns the unpacked package, fetching it the first time.
func ensureKernel(ctx context.Context, cacheDir, pkg, version string, apt aptCommand, logf func(string, ...any)) (*Kernel, error) {
	dir := kernelDir(cacheDir, pkg, version)
	if k, err := loadKernel(dir, pkg, version); err == nil {
		return k, nil
	}
	logf("vmtest: fetching %s %s into %s (once)", pkg, version, dir)
	if err := fetchKernel(ctx, dir, pkg, apt); err != nil {
		return nil, err
	}
	return loadKernel(dir, pkg, version)
}

func readMemo(path string) (resolved, bool) {
	var r resolved
	b, err := os.ReadFile(path)
	return r, err == nil && json.Unmarshal(b, &r) == nil && r.Package != ""
}

func writeMemo(path string, r resolved) {
	if b, err := json.Marshal(r); err == nil {
		os.WriteFile(path, b, 0o644)
	}
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
		out, err := exec.CommandContext(ctx, "apt-cache", "depends", metaPackage).Output()
		if err != nil {
			return "", "", fmt.Errorf("apt-cache depends %s: %w", metaPackage, err)
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

// aptCommand builds an apt-get/apt-cache command line (with the private
// lists' options, for a suite).
type aptCommand func(ctx context.Context, name string, args ...string) *exec.Cmd

// fetchKernel downloads the package and unpacks it into dir atomically: a
// half-unpacked directory is never mistaken for a complete one. From 7.x
// Debian splits the image into linux-binary-R (vmlinuz), linux-modules-R and
// linux-base-R (config, modules.builtin), which the image package depends
// on: those come along.
func fetchKernel(ctx context.Context, dir, pkg string, apt aptCommand) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	download := func(pkgs ...string) error {
		dl := apt(ctx, "apt-get", append([]string{"download", "-o", "APT::Sandbox::User=root"}, pkgs...)...)
		dl.Dir = tmp
		if out, err := dl.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download %s: %w\n%s", strings.Join(pkgs, " "), err, out)
		}
		return nil
	}
	if err := download(pkg); err != nil {
		return err
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: expected one .deb, found %d", pkg, len(debs))
	}
	out, err := exec.CommandContext(ctx, "dpkg-deb", "-f", debs[0], "Depends").Output()
	if err != nil {
		return fmt.Errorf("dpkg-deb -f %s Depends: %w", filepath.Base(debs[0]), err)
	}
	if parts := splitParts(pkg, string(out)); len(parts) > 0 {
		if err := download(parts...); err != nil {
			return err
		}
		debs, _ = filepath.Glob(filepath.Join(tmp, "*.deb"))
	}
	root := filepath.Join(tmp, "root")
	for _, deb := range debs {
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %w\n%s", filepath.Base(deb), err, out)
		}
	}
	os.RemoveAll(dir)
	return os.Rename(root, dir)
}

// splitParts returns the packages of the same kernel release that an image
// package depends on (linux-binary-R, linux-modules-R, linux-base-R).
func splitParts(pkg, depends string) []string {
	release := strings.TrimPrefix(pkg, "linux-image-")
	var parts []string
	for _, alt := range strings.Split(depends, ",") {
		for _, d := range strings.Split(alt, "|") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), " ")
			if name != pkg && strings.HasPrefix(name, "linux-") && strings.HasSuffix(name, "-"+release) {
				parts = append(parts, name)
			}
		}
	}
	return parts
}

// loadKernel checks that dir holds an unpacked kernel package: vmlinuz in
// boot/ (up to 6.12) or in the module directory (7.x), modules under
// lib/modules or usr/lib/modules.
func loadKernel(dir, pkg, version string) (*Kernel, error) {
	var vmlinuz, release string
	if v, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*")); len(v) == 1 {
		vmlinuz, release = v[0], strings.TrimPrefix(filepath.Base(v[0]), "vmlinuz-")
	} else if v, _ := filepath.Glob(filepath.Join(dir, "usr", "lib", "modules", "*", "vmlinuz")); len(v) == 1 {
		vmlinuz, release = v[0], filepath.Base(filepath.Dir(v[0]))
	} else {
		return nil, fmt.Errorf("%s: want one boot/vmlinuz-* or usr/lib/modules/*/vmlinuz", dir)
	}
	for _, mods := range []string{filepath.Join(dir, "lib", "modules", release), filepath.Join(dir, "usr", "lib", "modules", release)} {
		if fi, err := os.Stat(filepath.Join(mods, "kernel")); err == nil && fi.IsDir() {
			return &Kernel{Package: pkg, Version: version, Release: release, Vmlinuz: vmlinuz, ModulesDir: mods}, nil
		}
	}
	return nil, fmt.Errorf("%s: no modules for %s under lib/modules or usr/lib/modules", dir, release)
}

// cachedKernel returns the most recently unpacked kernel in cacheDir.
func cachedKernel(cacheDir string) (*Kernel, error) {
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
