package configfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DefaultDir is where libcomposite's gadgets live in configfs.
const DefaultDir = "/sys/kernel/config/usb_gadget"

// DefaultUDCDir lists the USB device controllers.
const DefaultUDCDir = "/sys/class/udc"

// Root is a configfs gadget directory and the UDC class directory it binds
// gadgets to. The zero value uses DefaultDir and DefaultUDCDir.
type Root struct {
	Dir    string // "" means DefaultDir
	UDCDir string // "" means DefaultUDCDir

	fs fsys // nil means the real file system
}

func (r *Root) dir() string {
	if r.Dir == "" {
		return DefaultDir
	}
	return r.Dir
}

func (r *Root) udcDir() string {
	if r.UDCDir == "" {
		return DefaultUDCDir
	}
	return r.UDCDir
}

func (r *Root) fsys() fsys {
	if r.fs == nil {
		return osFS{}
	}
	return r.fs
}

// Path returns the directory of the gadget called name.
func (r *Root) Path(name string) string { return filepath.Join(r.dir(), name) }

// StepError is the failure of one step of creating or removing a gadget
// tree.
type StepError struct {
	Step int    // 1-based number of the change that failed
	Op   string // what the step did: "mkdir", "write", "symlink", ...
	Path string
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %d: %s %s: %v", e.Step, e.Op, e.Path, withoutPath(e.Err))
}

// withoutPath drops the op and path of a *fs.PathError for a message that
// names them already.
func withoutPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func (e *StepError) Unwrap() error { return e.Err }

// Create makes the tree of g. It fails if a gadget of that name exists
// (errors.Is(err, fs.ErrExist)): that is a stale tree to Remove first. If
// any step fails, everything already made is removed in reverse order; the
// error is a *StepError for the failed step, followed on the same line by
// any error of that rollback.
func (r *Root) Create(g *Gadget) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("configfs: gadget %q: %w", g.Name, err)
	}
	if _, err := os.Stat(r.dir()); err != nil {
		return fmt.Errorf("configfs: create gadget %q: %w (is configfs mounted and libcomposite loaded?)", g.Name, err)
	}
	tx := &txn{fs: r.fsys()}
	if err := tx.build(r.Path(g.Name), g); err != nil {
		if rerr := tx.rollback(); rerr != nil {
			err = fmt.Errorf("%w; rollback: %w", err, rerr)
		}
		return fmt.Errorf("configfs: create gadget %q: %w", g.Name, err)
	}
	return nil
}

// txn performs changes and remembers how to undo each.
type txn struct {
	fs    fsys
	steps int
	undo  []undoStep
}

type undoStep struct {
	op   string // "rmdir" or "unlink"
	path string
}

func (t *txn) do(op, path string, f func() error) error {
	t.steps++
	if err := f(); err != nil {
		return &StepError{Step: t.steps, Op: op, Path: path, Err: err}
	}
	return nil
}

func (t *txn) mkdir(path string) error {
	if err := t.do("mkdir", path, func() error { return t.fs.Mkdir(path) }); err != nil {
		return err
	}
	t.undo = append(t.undo, undoStep{"rmdir", path})
	return nil
}

// write writes an attribute. An empty value is not written: configfs fails
// a zero-length write with EFAULT, and every attribute starts empty or at
// its default anyway.
func (t *txn) write(path, value string) error {
	if value == "" {
		return nil
	}
	return t.do("write", path, func() error { return t.fs.WriteAttr(path, []byte(value)) })
}

func (t *txn) symlink(target, link string) error {
	if err := t.do("symlink", link, func() error { return t.fs.Symlink(target, link) }); err != nil {
		return err
	}
	t.undo = append(t.undo, undoStep{"unlink", link})
	return nil
}

// rollback undoes every change in reverse order. It goes on past a failure
// so that as little as possible is left behind, and reports every failure.
func (t *txn) rollback() error {
	var errs []error
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		var err error
		if u.op == "rmdir" {
			err = t.fs.Rmdir(u.path)
		} else {
			err = t.fs.Unlink(u.path)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", u.op, u.path, withoutPath(err)))
		}
	}
	t.undo = nil
	if len(errs) == 0 {
		return nil
	}
	return oneLine(errs)
}

// oneLine joins errors on one line (errors.Join uses newlines), keeping
// them reachable for errors.Is and errors.As.
type oneLine []error

func (e oneLine) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (e oneLine) Unwrap() []error { return e }

func hex16(v uint16) string { return fmt.Sprintf("0x%04x", v) }
func hex8(v uint8) string   { return fmt.Sprintf("0x%02x", v) }

func langDir(lang uint16) string { return fmt.Sprintf("0x%x", lang) }

// build makes the tree in the order that rollback can undo: gadget, its
// strings, functions, configurations with their strings and links, and the
// OS descriptor link last.
func (t *txn) build(dir string, g *Gadget) error {
	if err := t.mkdir(dir); err != nil {
		return err
	}
	attrs := []Attr{
		{"idVendor", hex16(g.VendorID)},
		{"idProduct", hex16(g.ProductID)},
		{"bDeviceClass", hex8(g.Class)},
		{"bDeviceSubClass", hex8(g.SubClass)},
		{"bDeviceProtocol", hex8(g.Protocol)},
	}
	if g.BCDDevice != 0 {
		attrs = append(attrs, Attr{"bcdDevice", hex16(g.BCDDevice)})
	}
	if g.BCDUSB != 0 {
		attrs = append(attrs, Attr{"bcdUSB", hex16(g.BCDUSB)})
	}
	if g.MaxPacketSize0 != 0 {
		attrs = append(attrs, Attr{"bMaxPacketSize0", strconv.Itoa(int(g.MaxPacketSize0))})
	}
	if g.MaxSpeed != "" {
		attrs = append(attrs, Attr{"max_speed", g.MaxSpeed})
	}
	if err := t.writeAll(dir, attrs); err != nil {
		return err
	}
	for _, s := range g.Strings {
		sd := filepath.Join(dir, "strings", langDir(s.Lang))
		if err := t.mkdir(sd); err != nil {
			return err
		}
		if err := t.writeAll(sd, []Attr{
			{"manufacturer", s.Manufacturer},
			{"product", s.Product},
			{"serialnumber", s.SerialNumber},
		}); err != nil {
			return err
		}
	}
	for _, f := range g.Functions {
		if err := t.buildFunction(filepath.Join(dir, "functions", f.Dir()), f); err != nil {
			return err
		}
	}
	for _, c := range g.Configs {
		if err := t.buildConfig(dir, c); err != nil {
			return err
		}
	}
	if d := g.OSDesc; d != nil {
		od := filepath.Join(dir, "os_desc")
		sign := d.Sign
		if sign == "" {
			sign = "MSFT100"
		}
		if err := t.writeAll(od, []Attr{
			{"use", "1"},
			{"b_vendor_code", hex8(d.VendorCode)},
			{"qw_sign", sign},
		}); err != nil {
			return err
		}
		for _, c := range g.Configs {
			if c.Number == d.Config {
				if err := t.symlink(filepath.Join(dir, "configs", c.dir()), filepath.Join(od, c.dir())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (t *txn) buildFunction(fd string, f Function) error {
	if err := t.mkdir(fd); err != nil {
		return err
	}
	if err := t.writeAll(fd, f.Attrs); err != nil {
		return err
	}
	for i, l := range f.LUNs {
		ld := filepath.Join(fd, "lun."+strconv.Itoa(i))
		if i > 0 {
			if err := t.mkdir(ld); err != nil {
				return err
			}
		}
		if err := t.writeAll(ld, l.attrs()); err != nil {
			return err
		}
	}
	for _, d := range f.OSDesc {
		if err := t.writeAll(filepath.Join(fd, "os_desc", "interface."+d.Interface), []Attr{
			{"compatible_id", d.CompatibleID},
			{"sub_compatible_id", d.SubCompatibleID},
		}); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) buildConfig(dir string, c Config) error {
	cd := filepath.Join(dir, "configs", c.dir())
	if err := t.mkdir(cd); err != nil {
		return err
	}
	attributes := c.Attributes
	if attributes == 0 {
		attributes = 0x80
	}
	if err := t.writeAll(cd, []Attr{
		{"bmAttributes", hex8(attributes)},
		{"MaxPower", strconv.Itoa(c.MaxPowerMA)},
	}); err != nil {
		return err
	}
	for _, s := range c.Strings {
		sd := filepath.Join(cd, "strings", langDir(s.Lang))
		if err := t.mkdir(sd); err != nil {
			return err
		}
		if err := t.write(filepath.Join(sd, "configuration"), s.Configuration); err != nil {
			return err
		}
	}
	for _, name := range c.Functions {
		if err := t.symlink(filepath.Join(dir, "functions", name), filepath.Join(cd, name)); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) writeAll(dir string, attrs []Attr) error {
	for _, a := range attrs {
		if err := t.write(filepath.Join(dir, a.Name), a.Value); err != nil {
			return err
		}
	}
	return nil
}

// Exists reports whether a gadget called name has a tree under the root.
func (r *Root) Exists(name string) (bool, error) {
	_, err := os.Lstat(r.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Gadgets returns the names of every gadget under the root, sorted.
func (r *Root) Gadgets() ([]string, error) {
	entries, err := os.ReadDir(r.dir())
	if err != nil {
		return nil, fmt.Errorf("configfs: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Remove tears down the gadget called name, whoever made it: it unbinds it,
// removes the OS descriptor and function links, then every directory that
// was made, leaves first. It stops at the first failure, which it reports
// as a *StepError. A gadget that does not exist gives an error that
// matches fs.ErrNotExist.
func (r *Root) Remove(name string) error {
	if err := checkName("name", name); err != nil {
		return fmt.Errorf("configfs: remove gadget: %w", err)
	}
	if err := r.remove(r.Path(name)); err != nil {
		return fmt.Errorf("configfs: remove gadget %q: %w", name, err)
	}
	return nil
}

func (r *Root) remove(dir string) error {
	if _, err := os.Lstat(dir); err != nil {
		return err
	}
	t := &txn{fs: r.fsys()}
	udc, err := readAttr(filepath.Join(dir, "UDC"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if udc != "" {
		if err := t.write(filepath.Join(dir, "UDC"), "\n"); err != nil {
			return err
		}
	}
	if err := t.unlinkAll(filepath.Join(dir, "os_desc")); err != nil {
		return err
	}
	configs, err := subdirs(filepath.Join(dir, "configs"))
	if err != nil {
		return err
	}
	for _, c := range configs {
		if err := t.unlinkAll(c); err != nil {
			return err
		}
	}
	for _, c := range configs {
		if err := t.rmdirAll(filepath.Join(c, "strings")); err != nil {
			return err
		}
		if err := t.rmdir(c); err != nil {
			return err
		}
	}
	functions, err := subdirs(filepath.Join(dir, "functions"))
	if err != nil {
		return err
	}
	for _, f := range functions {
		if strings.HasPrefix(filepath.Base(f), "mass_storage.") {
			if err := t.rmdirLUNs(f); err != nil {
				return err
			}
		}
		if err := t.rmdir(f); err != nil {
			return err
		}
	}
	if err := t.rmdirAll(filepath.Join(dir, "strings")); err != nil {
		return err
	}
	return t.rmdir(dir)
}

func (t *txn) rmdir(path string) error {
	return t.do("rmdir", path, func() error { return t.fs.Rmdir(path) })
}

// rmdirAll removes every subdirectory of dir (not dir itself).
func (t *txn) rmdirAll(dir string) error {
	dirs, err := subdirs(dir)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := t.rmdir(d); err != nil {
			return err
		}
	}
	return nil
}

// rmdirLUNs removes the LUNs that were made, highest first; lun.0 belongs to
// the function.
func (t *txn) rmdirLUNs(fd string) error {
	dirs, err := subdirs(fd)
	if err != nil {
		return err
	}
	var luns []int
	for _, d := range dirs {
		n, ok := strings.CutPrefix(filepath.Base(d), "lun.")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(n); err == nil && i > 0 {
			luns = append(luns, i)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(luns)))
	for _, i := range luns {
		if err := t.rmdir(filepath.Join(fd, "lun."+strconv.Itoa(i))); err != nil {
			return err
		}
	}
	return nil
}

// unlinkAll removes the symbolic links directly in dir.
func (t *txn) unlinkAll(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 {
			p := filepath.Join(dir, e.Name())
			if err := t.do("unlink", p, func() error { return t.fs.Unlink(p) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// subdirs returns the paths of the directories directly in dir, sorted; a
// missing dir has none.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// readAttr reads an attribute without its trailing newline, and without
// the NULs some attributes show (u_ether's dev_addr, the NUL-padded 8-byte
// compatible_id).
func readAttr(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n\x00"), nil
}
