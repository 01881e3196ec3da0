package configfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNotBound is returned by Rebind for a gadget that is not bound.
var ErrNotBound = errors.New("not bound to a UDC")

// UDC is one USB device controller.
type UDC struct {
	Name string
	// State is the controller's USB state as the kernel reports it
	// ("not attached", "configured", ...); "" if it could not be read.
	State string
	// Gadget is the name of the gadget bound to it, "" if it is free.
	Gadget string
}

// UDCs returns the controllers under the UDC directory, sorted by name, and
// which gadget each is bound to (read from every gadget's UDC attribute).
func (r *Root) UDCs() ([]UDC, error) {
	entries, err := os.ReadDir(r.udcDir())
	if err != nil {
		return nil, fmt.Errorf("configfs: list UDCs: %w", err)
	}
	bound, err := r.boundUDCs()
	if err != nil {
		return nil, err
	}
	var udcs []UDC
	for _, e := range entries {
		u := UDC{Name: e.Name(), Gadget: bound[e.Name()]}
		u.State, _ = readAttr(filepath.Join(r.udcDir(), e.Name(), "state"))
		udcs = append(udcs, u)
	}
	sort.Slice(udcs, func(i, j int) bool { return udcs[i].Name < udcs[j].Name })
	return udcs, nil
}

// boundUDCs maps UDC name to the gadget bound to it.
func (r *Root) boundUDCs() (map[string]string, error) {
	gadgets, err := r.Gadgets()
	if err != nil {
		return nil, err
	}
	bound := make(map[string]string)
	for _, g := range gadgets {
		udc, err := readAttr(filepath.Join(r.Path(g), "UDC"))
		if err != nil {
			return nil, fmt.Errorf("configfs: gadget %q: %w", g, err)
		}
		if udc != "" {
			bound[udc] = g
		}
	}
	return bound, nil
}

// PickUDC returns name if that controller exists and no gadget is bound to
// it, or, for name "" or "auto", the first controller (by name) that no
// gadget is bound to.
func (r *Root) PickUDC(name string) (string, error) {
	udcs, err := r.UDCs()
	if err != nil {
		return "", err
	}
	if name == "" || name == "auto" {
		var busy []string
		for _, u := range udcs {
			if u.Gadget == "" {
				return u.Name, nil
			}
			busy = append(busy, u.Name+" (gadget "+u.Gadget+")")
		}
		if len(busy) == 0 {
			return "", fmt.Errorf("configfs: udc auto: no UDC under %s (is a UDC driver such as dummy_hcd loaded?)", r.udcDir())
		}
		return "", fmt.Errorf("configfs: udc auto: every UDC is bound: %s", strings.Join(busy, ", "))
	}
	for _, u := range udcs {
		if u.Name == name {
			if u.Gadget != "" {
				return "", fmt.Errorf("configfs: udc %q: bound to gadget %q", name, u.Gadget)
			}
			return name, nil
		}
	}
	return "", fmt.Errorf("configfs: udc %q: not found under %s: %w", name, r.udcDir(), fs.ErrNotExist)
}

// BoundUDC returns the controller the gadget is bound to, "" if none.
func (r *Root) BoundUDC(gadget string) (string, error) {
	udc, err := readAttr(filepath.Join(r.Path(gadget), "UDC"))
	if err != nil {
		return "", fmt.Errorf("configfs: gadget %q: %w", gadget, err)
	}
	return udc, nil
}

// Bind attaches the gadget to the controller udc, which enumerates it. For
// a gadget with FunctionFS functions, every instance must have its
// descriptors written to ep0 first.
func (r *Root) Bind(gadget, udc string) error {
	if udc == "" || strings.ContainsAny(udc, "/\n") {
		return fmt.Errorf("configfs: bind gadget %q: udc %q is not a UDC name", gadget, udc)
	}
	if err := r.fsys().WriteAttr(filepath.Join(r.Path(gadget), "UDC"), []byte(udc)); err != nil {
		return fmt.Errorf("configfs: bind gadget %q to %q: %w", gadget, udc, err)
	}
	return nil
}

// Unbind detaches the gadget from its controller; an unbound gadget is left
// as it is.
func (r *Root) Unbind(gadget string) error {
	udc, err := r.BoundUDC(gadget)
	if err != nil || udc == "" {
		return err
	}
	// An empty line is how the UDC attribute is told to unbind.
	if err := r.fsys().WriteAttr(filepath.Join(r.Path(gadget), "UDC"), []byte("\n")); err != nil {
		return fmt.Errorf("configfs: unbind gadget %q from %q: %w", gadget, udc, err)
	}
	return nil
}

// Rebind unbinds the gadget and binds it to the same controller again, which
// the host sees as an unplug and replug.
func (r *Root) Rebind(gadget string) error {
	udc, err := r.BoundUDC(gadget)
	if err != nil {
		return err
	}
	if udc == "" {
		return fmt.Errorf("configfs: rebind gadget %q: %w", gadget, ErrNotBound)
	}
	if err := r.Unbind(gadget); err != nil {
		return err
	}
	return r.Bind(gadget, udc)
}
