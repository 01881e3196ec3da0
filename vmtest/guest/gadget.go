package guest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Roots of the kernel interfaces the helpers use.
const (
	GadgetRoot = "/sys/kernel/config/usb_gadget"
	UDCRoot    = "/sys/class/udc"
	USBDevices = "/sys/bus/usb/devices"
)

// GadgetSpec describes a test gadget with one configuration.
type GadgetSpec struct {
	VID, PID   uint16   // default 1d6b:0104 (Linux Foundation multifunction composite gadget)
	Serial     string   // default: the gadget's name, so the host side can find it
	Functions  []string // configfs function dirs in config order: "ffs.NAME", "SourceSink.0", "Loopback.0", "acm.0", ...
	MaxPowerMA int      // default 100
	// Attrs are written below the gadget's directory after the functions are
	// made and before they are linked into the configuration, the only time
	// function attributes can change: {"functions/SourceSink.0/pattern": "1"}.
	Attrs map[string]string
}

// Gadget is a configfs gadget made for one test and removed, with every
// FunctionFS mount, by the test's cleanup.
type Gadget struct {
	t      testing.TB
	Name   string
	Path   string // its configfs directory
	Serial string
	spec   GadgetSpec
	mounts map[string]string // ffs instance -> mount dir
}

var gadgetSeq atomic.Int32

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// NewGadget creates the gadget tree and mounts each FunctionFS instance. It
// does not bind: a FunctionFS function must have its descriptors written to
// ep0 first.
func NewGadget(t testing.TB, spec GadgetSpec) *Gadget {
	t.Helper()
	Require(t)
	name := unsafeName.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("%s_%d", name, gadgetSeq.Add(1))
	if spec.VID == 0 && spec.PID == 0 {
		spec.VID, spec.PID = 0x1d6b, 0x0104
	}
	if spec.Serial == "" {
		spec.Serial = name
	}
	if spec.MaxPowerMA == 0 {
		spec.MaxPowerMA = 100
	}
	g := &Gadget{t: t, Name: name, Path: filepath.Join(GadgetRoot, name), Serial: spec.Serial, spec: spec, mounts: map[string]string{}}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Errorf("remove gadget %s: %v", name, err)
		}
	})
	if err := g.create(); err != nil {
		t.Fatalf("create gadget %s: %v", name, err)
	}
	return g
}

func (g *Gadget) create() error {
	steps := []struct{ path, value string }{
		{"", ""},
		{"idVendor", fmt.Sprintf("0x%04x", g.spec.VID)},
		{"idProduct", fmt.Sprintf("0x%04x", g.spec.PID)},
		{"bcdUSB", "0x0200"},
		{"strings/0x409", ""},
		{"strings/0x409/manufacturer", "gadgetkit"},
		{"strings/0x409/product", "gadgetkit test gadget"},
		{"strings/0x409/serialnumber", g.spec.Serial},
		{"configs/c.1", ""},
		{"configs/c.1/MaxPower", strconv.Itoa(g.spec.MaxPowerMA)},
		{"configs/c.1/strings/0x409", ""},
		{"configs/c.1/strings/0x409/configuration", "test"},
	}
	for _, s := range steps {
		p := filepath.Join(g.Path, s.path)
		var err error
		if s.value == "" {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte(s.value), 0)
		}
		if err != nil {
			return err
		}
	}
	for _, fn := range g.spec.Functions {
		if err := os.Mkdir(filepath.Join(g.Path, "functions", fn), 0o755); err != nil {
			return fmt.Errorf("function %s: %w", fn, err)
		}
	}
	attrs := make([]string, 0, len(g.spec.Attrs))
	for k := range g.spec.Attrs {
		attrs = append(attrs, k)
	}
	slices.Sort(attrs)
	for _, k := range attrs {
		if err := g.Write(k, g.spec.Attrs[k]); err != nil {
			return fmt.Errorf("attribute %s=%q: %w", k, g.spec.Attrs[k], err)
		}
	}
	for _, fn := range g.spec.Functions {
		if err := os.Symlink(filepath.Join(g.Path, "functions", fn), filepath.Join(g.Path, "configs/c.1", fn)); err != nil {
			return fmt.Errorf("link %s: %w", fn, err)
		}
		if inst, ok := strings.CutPrefix(fn, "ffs."); ok {
			dir := filepath.Join("/run/ffs", g.Name+"-"+inst)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := unix.Mount(inst, dir, "functionfs", 0, ""); err != nil {
				return fmt.Errorf("mount functionfs %s on %s: %w", inst, dir, err)
			}
			g.mounts[inst] = dir
		}
	}
	return nil
}

// FFS returns the mount directory of FunctionFS instance inst ("ffs.inst").
func (g *Gadget) FFS(inst string) string {
	dir, ok := g.mounts[inst]
	if !ok {
		g.t.Fatalf("gadget %s has no FunctionFS instance %q", g.Name, inst)
	}
	return dir
}

// Write sets an attribute below the gadget's configfs directory. Function
// attributes can only change while the function is not linked into a
// configuration: set them with GadgetSpec.Attrs.
func (g *Gadget) Write(rel, value string) error {
	return os.WriteFile(filepath.Join(g.Path, rel), []byte(value), 0)
}

// UDC returns the UDC the gadget is bound to, or "".
func (g *Gadget) UDC() string {
	b, _ := os.ReadFile(filepath.Join(g.Path, "UDC"))
	return strings.TrimSpace(string(b))
}

// Bind binds the gadget to the first UDC no gadget uses.
func (g *Gadget) Bind() error {
	udc, err := FreeUDC()
	if err != nil {
		return err
	}
	return g.BindTo(udc)
}

// BindTo binds the gadget to the named UDC.
func (g *Gadget) BindTo(udc string) error {
	if err := g.Write("UDC", udc); err != nil {
		return fmt.Errorf("bind %s to %s: %w", g.Name, udc, err)
	}
	return nil
}

// Unbind unbinds the gadget from its UDC; unbinding an unbound gadget is a no-op.
func (g *Gadget) Unbind() error {
	if g.UDC() == "" {
		return nil
	}
	if err := g.Write("UDC", "\n"); err != nil {
		return fmt.Errorf("unbind %s: %w", g.Name, err)
	}
	return nil
}

// Remove unbinds and removes the tree and unmounts FunctionFS, in the
// reverse order of creation. Files the test still holds open on a FunctionFS
// mount make the unmount lazy (MNT_DETACH).
func (g *Gadget) Remove() error {
	if _, err := os.Stat(g.Path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var errs []error
	if err := g.Unbind(); err != nil {
		errs = append(errs, err)
	}
	fns := slices.Clone(g.spec.Functions)
	slices.Reverse(fns)
	rm := func(p string) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	// A test may have linked the configuration for OS descriptors.
	if _, err := os.Lstat(filepath.Join(g.Path, "os_desc/c.1")); err == nil {
		rm(filepath.Join(g.Path, "os_desc/c.1"))
	}
	for _, fn := range fns {
		rm(filepath.Join(g.Path, "configs/c.1", fn))
	}
	rm(filepath.Join(g.Path, "configs/c.1/strings/0x409"))
	rm(filepath.Join(g.Path, "configs/c.1"))
	for _, fn := range fns {
		if inst, ok := strings.CutPrefix(fn, "ffs."); ok {
			if dir, ok := g.mounts[inst]; ok {
				if err := unix.Unmount(dir, 0); err != nil {
					unix.Unmount(dir, unix.MNT_DETACH)
				}
				os.Remove(dir)
				delete(g.mounts, inst)
			}
		}
		rm(filepath.Join(g.Path, "functions", fn))
	}
	rm(filepath.Join(g.Path, "strings/0x409"))
	rm(g.Path)
	return errors.Join(errs...)
}

// UDCs lists the UDCs, sorted.
func UDCs() []string {
	entries, _ := os.ReadDir(UDCRoot)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// FreeUDC returns the first UDC no configfs gadget is bound to.
func FreeUDC() (string, error) {
	used := map[string]bool{}
	gadgets, _ := os.ReadDir(GadgetRoot)
	for _, gd := range gadgets {
		b, _ := os.ReadFile(filepath.Join(GadgetRoot, gd.Name(), "UDC"))
		used[strings.TrimSpace(string(b))] = true
	}
	for _, u := range UDCs() {
		if !used[u] {
			return u, nil
		}
	}
	return "", fmt.Errorf("no free UDC among %v", UDCs())
}

// SoftConnect connects or disconnects a UDC from the host, like pulling the
// cable, through /sys/class/udc/UDC/soft_connect.
func SoftConnect(udc string, connect bool) error {
	v := "disconnect"
	if connect {
		v = "connect"
	}
	if err := os.WriteFile(filepath.Join(UDCRoot, udc, "soft_connect"), []byte(v), 0); err != nil {
		return fmt.Errorf("%s soft_connect %s: %w", udc, v, err)
	}
	return nil
}

// UDCState returns /sys/class/udc/UDC/state ("configured", "not attached", ...).
func UDCState(udc string) string {
	b, _ := os.ReadFile(filepath.Join(UDCRoot, udc, "state"))
	return strings.TrimSpace(string(b))
}

// WaitHostDevice waits until the guest's host side has enumerated a device
// with this serial number and returns its sysfs directory.
func WaitHostDevice(serial string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		entries, _ := os.ReadDir(USBDevices)
		for _, e := range entries {
			dir := filepath.Join(USBDevices, e.Name())
			b, err := os.ReadFile(filepath.Join(dir, "serial"))
			if err == nil && strings.TrimSpace(string(b)) == serial {
				return dir, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no USB device with serial %q after %v (devices: %d entries)", serial, timeout, len(entries))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// DevNode returns the usbfs node (/dev/bus/usb/BBB/DDD) of the host-side
// device whose sysfs directory is dir (WaitHostDevice's answer).
func DevNode(dir string) (string, error) {
	var num [2]int
	for i, attr := range []string{"busnum", "devnum"} {
		b, err := os.ReadFile(filepath.Join(dir, attr))
		if err != nil {
			return "", err
		}
		if num[i], err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return "", fmt.Errorf("%s/%s: %w", dir, attr, err)
		}
	}
	return fmt.Sprintf("/dev/bus/usb/%03d/%03d", num[0], num[1]), nil
}

// WaitHostGone waits until no device with this serial number is enumerated.
func WaitHostGone(serial string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := WaitHostDevice(serial, 0); err != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("device with serial %q still present after %v", serial, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReloadDummyHCD reloads dummy_hcd with new parameters, e.g.
// "is_super_speed=1" or "num=3". No gadget may be bound.
func ReloadDummyHCD(params string) error {
	if err := UnloadModule("dummy_hcd"); err != nil {
		return err
	}
	return LoadModule("dummy_hcd", params)
}

// KernelStacks describes, for a failed test's log, every task that is not
// running or sleeping interruptibly (D state and the like) and every
// kworker: pid, name, state, what it waits in (wchan) and its kernel stack.
// A device that does not leave the bus, or a module that does not unload,
// is explained by these. It also asks the kernel to log every blocked
// task's stack (sysrq w), for the kernel log a failed guest keeps.
func KernelStacks() string {
	os.WriteFile("/proc/sysrq-trigger", []byte("w"), 0)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var b strings.Builder
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open || len(s) < close+3 {
			continue
		}
		comm, state := s[open+1:close], s[close+2]
		if state == 'R' || (state == 'S' && !strings.HasPrefix(comm, "kworker")) || state == 'I' {
			continue
		}
		wchan, _ := os.ReadFile(filepath.Join(d, "wchan"))
		stack, _ := os.ReadFile(filepath.Join(d, "stack"))
		fmt.Fprintf(&b, "%s %s %c in %s\n%s", filepath.Base(d), comm, state, wchan, stack)
	}
	return b.String()
}
