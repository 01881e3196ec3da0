package vmtest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// module is one kernel module as the guest loads it. A module the kernel has
// built in is listed with Builtin (nothing to load); a carried module the
// kernel does not have at all is listed with Missing, so that loading it in
// the guest says so instead of "not carried".
type module struct {
	Name    string   `json:"name"`              // canonical name: dashes folded to underscores
	File    string   `json:"file,omitempty"`    // file name inside the guest's module directory
	Depends []string `json:"depends,omitempty"` // canonical names, from the module's own .modinfo
	Builtin bool     `json:"builtin,omitempty"`
	Missing string   `json:"missing,omitempty"` // why it cannot be loaded
}

// moduleSuffixes are the module file names Debian's kernels use: plain up to
// 6.1, xz-compressed from 6.12 (CONFIG_MODULE_COMPRESS_XZ).
var moduleSuffixes = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

func moduleSuffix(p string) string {
	for _, s := range moduleSuffixes[1:] {
		if strings.HasSuffix(p, s) {
			return s
		}
	}
	if strings.HasSuffix(p, ".ko") {
		return ".ko"
	}
	return ""
}

// modName folds a module or file name to the kernel's canonical form
// ("usb-common.ko", "usb-common.ko.xz" and "usb_common" are the same module).
func modName(s string) string {
	s = filepath.Base(s)
	s = strings.TrimSuffix(s, moduleSuffix(s))
	return strings.ReplaceAll(s, "-", "_")
}

// plainModule returns an uncompressed copy of a module file: the file itself
// when it is a plain .ko, else a decompressed copy kept under the module
// tree's .vmtest-ko directory (made once, atomically). The guest loads plain
// files, and .modinfo is read from the ELF.
func plainModule(root, p string) (string, error) {
	suf := moduleSuffix(p)
	if suf == ".ko" {
		return p, nil
	}
	dst := filepath.Join(root, ".vmtest-ko", modName(p)+".ko")
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".ko-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	switch suf {
	case ".ko.gz":
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return "", fmt.Errorf("decompress %s: %w", p, err)
		}
		if _, err := io.Copy(tmp, zr); err != nil {
			return "", fmt.Errorf("decompress %s: %w", p, err)
		}
	default:
		tool := map[string]string{".ko.xz": "xz", ".ko.zst": "zstd"}[suf]
		cmd := exec.Command(tool, "-dc", p)
		cmd.Stdout = tmp
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("decompress %s with %s (make deps installs it): %v %s", p, tool, err, stderr.String())
		}
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp.Name(), dst)
}

// readBuiltin reads the names of the modules a kernel has built in: its
// modules.builtin lists the tristate ones (one kernel/PATH/NAME.ko per line),
// modules.builtin.modinfo (NAME.key=value, NUL-separated) also those behind a
// bool option that declare module info, such as udmabuf.
func readBuiltin(root string) (map[string]bool, error) {
	b := make(map[string]bool)
	data, err := os.ReadFile(filepath.Join(root, "modules.builtin"))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			b[modName(l)] = true
		}
	}
	info, err := os.ReadFile(filepath.Join(root, "modules.builtin.modinfo"))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	for _, field := range bytes.Split(info, []byte{0}) {
		if name, _, ok := strings.Cut(string(field), "."); ok && name != "" {
			b[modName(name)] = true
		}
	}
	return b, nil
}

// modInfo reads the key=value pairs of a module's .modinfo ELF section.
// A key may repeat (alias=, parm=), so values are lists.
func modInfo(path string) (map[string][]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("modinfo %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("modinfo %s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("modinfo %s: %w", path, err)
	}
	return parseModInfo(data), nil
}

func parseModInfo(data []byte) map[string][]string {
	info := make(map[string][]string)
	for _, field := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(field), "=")
		if !ok || k == "" {
			continue
		}
		info[k] = append(info[k], v)
	}
	return info
}

// dependsOf returns the canonical names listed in a modinfo's depends= field.
func dependsOf(info map[string][]string) []string {
	var deps []string
	for _, v := range info["depends"] {
		for _, d := range strings.Split(v, ",") {
			if d = strings.TrimSpace(d); d != "" {
				deps = append(deps, modName(d))
			}
		}
	}
	return deps
}

// indexModules maps canonical module names to their module files under
// root (.ko, or compressed .ko.xz/.ko.zst/.ko.gz).
func indexModules(root string) (map[string]string, error) {
	idx := make(map[string]string)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".vmtest-ko" {
			return filepath.SkipDir
		}
		if !d.IsDir() && moduleSuffix(p) != "" {
			idx[modName(p)] = p
		}
		return nil
	})
	return idx, err
}

// closure returns the modules named in want and everything they depend on,
// ordered so that each module comes after its dependencies. Ties keep the
// order of want, then name order, so the result is deterministic.
// depsOf reports a module's direct dependencies.
func closure(want []string, depsOf func(name string) ([]string, error)) ([]string, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int)
	var order []string
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module dependency cycle: %s -> %s", strings.Join(chain, " -> "), name)
		}
		state[name] = visiting
		deps, err := depsOf(name)
		if err != nil {
			return err
		}
		deps = append([]string(nil), deps...)
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, w := range want {
		if err := visit(modName(w), nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// resolveModules finds want and their dependencies in the module tree at root
// and returns them in load order, with the plain .ko file of each module to
// carry. A module the kernel has built in needs no file. A module in want
// that the kernel lacks altogether is an error naming it, unless it is in
// optional, where it is listed as Missing (with the modules that need it).
func resolveModules(root string, want, optional []string) ([]module, map[string]string, error) {
	idx, err := indexModules(root)
	if err != nil {
		return nil, nil, err
	}
	builtin, err := readBuiltin(root)
	if err != nil {
		return nil, nil, err
	}
	release := filepath.Base(root)
	infos := make(map[string][]string)
	plain := make(map[string]string)
	missing := make(map[string]string)
	var depsOf func(name string) ([]string, error)
	depsOf = func(name string) ([]string, error) {
		if builtin[name] {
			return nil, nil
		}
		if deps, ok := infos[name]; ok { // each optional module's closure walks the rest again
			return deps, nil
		}
		p, ok := idx[name]
		if !ok {
			return nil, fmt.Errorf("kernel %s has no module %s (no %s.ko under %s, not in modules.builtin)", release, name, name, root)
		}
		ko, err := plainModule(root, p)
		if err != nil {
			return nil, err
		}
		info, err := modInfo(ko)
		if err != nil {
			return nil, err
		}
		plain[name] = ko
		infos[name] = dependsOf(info)
		return infos[name], nil
	}
	order, err := closure(want, depsOf)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range optional {
		more, err := closure(append(append([]string(nil), order...), o), depsOf)
		if err != nil {
			missing[modName(o)] = err.Error()
			continue
		}
		order = more
	}
	mods := make([]module, 0, len(order)+len(missing))
	paths := make(map[string]string, len(order))
	for _, name := range order {
		switch {
		case builtin[name]:
			mods = append(mods, module{Name: name, Builtin: true})
		default:
			mods = append(mods, module{Name: name, File: name + ".ko", Depends: infos[name]})
			paths[name] = plain[name]
		}
	}
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mods = append(mods, module{Name: n, Missing: missing[n]})
	}
	return mods, paths, nil
}
