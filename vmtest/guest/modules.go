package guest

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Where the vmtest harness puts the kernel modules it carries into the guest.
const (
	ModDir  = "/lib/modules/vmtest"
	ModList = "/lib/modules/vmtest/modules.json"
)

// Module is one carried kernel module (the manifest's entry).
type Module struct {
	Name    string   `json:"name"`
	File    string   `json:"file,omitempty"`
	Depends []string `json:"depends,omitempty"`
	Builtin bool     `json:"builtin,omitempty"` // built into this kernel: nothing to load
	Missing string   `json:"missing,omitempty"` // this kernel has no such module, and why
}

func canon(name string) string { return strings.ReplaceAll(name, "-", "_") }

func manifest() (map[string]Module, error) {
	data, err := os.ReadFile(ModList)
	if err != nil {
		return nil, fmt.Errorf("module manifest: %w", err)
	}
	var list []Module
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("module manifest %s: %w", ModList, err)
	}
	m := make(map[string]Module, len(list))
	for _, mod := range list {
		m[mod.Name] = mod
	}
	return m, nil
}

// Has reports whether the guest's kernel has a module, loaded or not: it is
// built in, or carried and loadable. Tests of a feature that a kernel lacks
// altogether use it to say so.
func Has(name string) (bool, error) {
	mods, err := manifest()
	if err != nil {
		return false, err
	}
	m, ok := mods[canon(name)]
	return ok && m.Missing == "", nil
}

// Loaded reports whether a module is loaded.
func Loaded(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/module", canon(name)))
	return err == nil
}

// LoadModule loads a carried module and, first, its dependencies. params are
// the module's parameters ("is_super_speed=1 num=2"). Loading a module that
// is already loaded is not an error (its parameters are left as they are).
func LoadModule(name, params string) error {
	mods, err := manifest()
	if err != nil {
		return err
	}
	return load(mods, canon(name), params, nil)
}

func load(mods map[string]Module, name, params string, chain []string) error {
	if Loaded(name) {
		return nil
	}
	m, ok := mods[name]
	if !ok {
		return fmt.Errorf("load module %s: not carried into the guest (carried: %s; GADGETKIT_VM_MODULES=%s loads it at boot)", name, strings.Join(slices.Sorted(maps.Keys(mods)), ", "), name)
	}
	if m.Builtin {
		return nil
	}
	if m.Missing != "" {
		return fmt.Errorf("load module %s: %s", name, m.Missing)
	}
	if len(chain) > 32 {
		return fmt.Errorf("load module %s: dependency chain too deep: %v", name, chain)
	}
	for _, d := range m.Depends {
		if err := load(mods, canon(d), "", append(chain, name)); err != nil {
			return err
		}
	}
	f, err := os.Open(filepath.Join(ModDir, m.File))
	if err != nil {
		return fmt.Errorf("load module %s: %w", name, err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), params, 0); err != nil && err != unix.EEXIST {
		return fmt.Errorf("load module %s (%s): finit_module: %w", name, params, err)
	}
	return nil
}

// UnloadModule removes a loaded module (not its dependencies).
func UnloadModule(name string) error {
	if !Loaded(name) {
		return nil
	}
	if err := unix.DeleteModule(canon(name), 0); err != nil {
		return fmt.Errorf("unload module %s: delete_module: %w", name, err)
	}
	return nil
}
