//go:build cgo

package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is returned when no device matches a Selector before the
// deadline.
var ErrNotFound = errors.New("device not found")

// ErrGone is returned when the device disappeared during an operation.
var ErrGone = errors.New("device gone")

// SysfsRoot is where the kernel's sysfs is mounted.
const SysfsRoot = "/sys"

// Selector says which device to use. Zero fields match anything; a Selector
// with no field set matches any device that is not a hub.
type Selector struct {
	Vendor  uint16 // idVendor, 0 for any
	Product uint16 // idProduct, 0 for any
	Serial  string // iSerialNumber's string, "" for any
	Port    string // sysfs name: bus-port path such as "1-1" or "2-1.3", "" for any
}

// ParseVIDPID parses "vvvv:pppp" (hexadecimal, either part may be empty or
// "*" for any).
func ParseVIDPID(s string) (vid, pid uint16, err error) {
	v, p, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("VID:PID %q: want two hexadecimal numbers separated by ':'", s)
	}
	parse := func(what, x string) (uint16, error) {
		if x == "" || x == "*" {
			return 0, nil
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(x), "0x"), 16, 16)
		if err != nil {
			return 0, fmt.Errorf("VID:PID %q: %s %q is not a 16-bit hexadecimal number", s, what, x)
		}
		return uint16(n), nil
	}
	if vid, err = parse("vendor", v); err != nil {
		return 0, 0, err
	}
	if pid, err = parse("product", p); err != nil {
		return 0, 0, err
	}
	return vid, pid, nil
}

func (s Selector) String() string {
	var parts []string
	if s.Vendor != 0 || s.Product != 0 {
		parts = append(parts, fmt.Sprintf("%04x:%04x", s.Vendor, s.Product))
	}
	if s.Serial != "" {
		parts = append(parts, "serial="+strconv.Quote(s.Serial))
	}
	if s.Port != "" {
		parts = append(parts, "port="+s.Port)
	}
	if len(parts) == 0 {
		return "any non-hub device"
	}
	return strings.Join(parts, " ")
}

// SysfsDevice is a USB device as /sys/bus/usb/devices shows it.
type SysfsDevice struct {
	Name    string // sysfs name, the bus-port path: "1-1"
	Bus     int    // busnum
	Address int    // devnum, the address libusb reports
	Vendor  uint16
	Product uint16
	Class   uint8 // bDeviceClass
	Serial  string
	Speed   string // Mb/s as the kernel writes it: "480", "5000"
}

func (d SysfsDevice) String() string {
	return fmt.Sprintf("%s (bus %d address %d, %04x:%04x)", d.Name, d.Bus, d.Address, d.Vendor, d.Product)
}

// Match reports whether d is selected by s.
func (s Selector) Match(d SysfsDevice) bool {
	if s == (Selector{}) {
		return d.Class != 0x09
	}
	return (s.Vendor == 0 || s.Vendor == d.Vendor) &&
		(s.Product == 0 || s.Product == d.Product) &&
		(s.Serial == "" || s.Serial == d.Serial) &&
		(s.Port == "" || s.Port == d.Name)
}

// ScanSysfs lists the USB devices under root/bus/usb/devices, skipping root
// hubs ("usbN") and interfaces ("1-1:1.0"). Entries that vanish or are half
// written while being read (a device enumerating) are skipped, not errors;
// so is a missing directory (usbcore not loaded yet).
func ScanSysfs(root string) ([]SysfsDevice, error) {
	dir := filepath.Join(root, "bus", "usb", "devices")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan USB devices: %w", err)
	}
	var devs []SysfsDevice
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "usb") || strings.Contains(name, ":") {
			continue
		}
		d, err := readSysfsDevice(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		d.Name = name
		devs = append(devs, d)
	}
	return devs, nil
}

func readSysfsDevice(dir string) (SysfsDevice, error) {
	var d SysfsDevice
	attr := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(b)), err
	}
	num := func(name string, base, bits int) (uint64, error) {
		s, err := attr(name)
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(s, base, bits)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return n, nil
	}
	var n uint64
	var err error
	if n, err = num("idVendor", 16, 16); err != nil {
		return d, err
	}
	d.Vendor = uint16(n)
	if n, err = num("idProduct", 16, 16); err != nil {
		return d, err
	}
	d.Product = uint16(n)
	if n, err = num("busnum", 10, 16); err != nil {
		return d, err
	}
	d.Bus = int(n)
	if n, err = num("devnum", 10, 16); err != nil {
		return d, err
	}
	d.Address = int(n)
	if n, err = num("bDeviceClass", 16, 8); err == nil {
		d.Class = uint8(n)
	}
	d.Serial, _ = attr("serial") // absent when the device has no serial string
	d.Speed, _ = attr("speed")
	return d, nil
}

// FindSysfs returns the one device under root that s selects: ErrNotFound
// when there is none, an error naming the candidates when there are several.
func FindSysfs(root string, s Selector) (SysfsDevice, error) {
	devs, err := ScanSysfs(root)
	if err != nil {
		return SysfsDevice{}, err
	}
	var found []SysfsDevice
	for _, d := range devs {
		if s.Match(d) {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		return SysfsDevice{}, fmt.Errorf("%w: %s", ErrNotFound, s)
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, d := range found {
		names[i] = d.String()
	}
	return SysfsDevice{}, fmt.Errorf("%s matches %d devices (%s): select by VID:PID, serial or port", s, len(found), strings.Join(names, ", "))
}

// PollInterval is how often WaitSysfs looks at sysfs.
const PollInterval = 20 * time.Millisecond

// WaitSysfs polls root until one device matches s or ctx is done. gousb
// sees no hotplug events without udev, so this is how a test waits for a
// gadget to enumerate. An ambiguous match is returned at once: waiting
// would not make it unique.
func WaitSysfs(ctx context.Context, root string, s Selector) (SysfsDevice, error) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		d, err := FindSysfs(root, s)
		if !errors.Is(err, ErrNotFound) {
			return d, err
		}
		select {
		case <-ctx.Done():
			return SysfsDevice{}, fmt.Errorf("%w (waited: %v)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// WaitSysfsGone polls root until the device named d.Name with d's address is
// absent (or re-enumerated with another address), or ctx is done.
func WaitSysfsGone(ctx context.Context, root string, d SysfsDevice) error {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		if !Present(root, d) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still present: %w", d, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// Present reports whether d (same bus, same address) is still in sysfs.
func Present(root string, d SysfsDevice) bool {
	cur, err := readSysfsDevice(filepath.Join(root, "bus", "usb", "devices", d.Name))
	return err == nil && cur.Bus == d.Bus && cur.Address == d.Address
}
