package vmtest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// Module is one loadable kernel module as the guest loads it.
type Module struct {
	Name    string   `json:"name"`    // canonical name: dashes folded to underscores
	File    string   `json:"file"`    // file name inside the guest's module directory
	Depends []string `json:"depends"` // canonical names, from the module's own .modinfo
}

// ModName folds a module or file name to the kernel's canonical form
// ("usb-common.ko" and "usb_common" are the same module).
func ModName(s string) string {
	s = strings.TrimSuffix(filepath.Base(s), ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// ModInfo reads the key=value pairs of a module's .modinfo ELF section.
// A key may repeat (alias=, parm=), so values are lists.
func ModInfo(path string) (map[string][]string, error) {
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
				deps = append(deps, ModName(d))
			}
		}
	}
	return deps
}

// IndexModules maps canonical module names to their .ko paths under root.
func IndexModules(root string) (map[string]string, error) {
	idx := make(map[string]string)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			idx[ModName(p)] = p
		}
		return nil
	})
	return idx, err
}

// Closure returns the modules named in want and everything they depend on,
// ordered so that each module comes after its dependencies. Ties keep the
// order of want, then name order, so the result is deterministic.
// depsOf reports a module's direct dependencies.
func Closure(want []string, depsOf func(name string) ([]string, error)) ([]string, error) {
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
		if err := visit(ModName(w), nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// PresentModules returns those of names that the module tree at root has.
func PresentModules(root string, names []string) ([]string, error) {
	idx, err := IndexModules(root)
	if err != nil {
		return nil, err
	}
	var have []string
	for _, n := range names {
		if _, ok := idx[ModName(n)]; ok {
			have = append(have, n)
		}
	}
	return have, nil
}

// ResolveModules finds want and their dependencies in the module tree at root
// and returns them in load order.
func ResolveModules(root string, want []string) ([]Module, map[string]string, error) {
	idx, err := IndexModules(root)
	if err != nil {
		return nil, nil, err
	}
	infos := make(map[string][]string)
	depsOf := func(name string) ([]string, error) {
		p, ok := idx[name]
		if !ok {
			return nil, fmt.Errorf("module %s: not found under %s", name, root)
		}
		info, err := ModInfo(p)
		if err != nil {
			return nil, err
		}
		infos[name] = dependsOf(info)
		return infos[name], nil
	}
	order, err := Closure(want, depsOf)
	if err != nil {
		return nil, nil, err
	}
	mods := make([]Module, len(order))
	paths := make(map[string]string, len(order))
	for i, name := range order {
		mods[i] = Module{Name: name, File: name + ".ko", Depends: infos[name]}
		paths[name] = idx[name]
	}
	return mods, paths, nil
}
