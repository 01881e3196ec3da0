package usbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Where the kernel shows USB drivers and device nodes.
const (
	DriverDir = "/sys/bus/usb/drivers/usbtest"
	DevDir    = "/dev/bus/usb"
)

// ErrNoDynamicID means usbtest takes no IDs through new_id, as in 6.1
// kernels (its driver sets no_dynamic_id): a gadget must then use one of
// usbtest's own IDs, GadgetZero or UserMode.
var ErrNoDynamicID = errors.New("this kernel's usbtest accepts no new IDs (no new_id file): give the gadget gadget zero's IDs 0525:a4a0 (or 0525:a4a4); loading usbtest with vendor=0xVVVV product=0xPPPP binds other IDs for the control tests only")

// ErrNotLoaded means the usbtest module is not loaded: its sysfs driver
// directory does not exist.
var ErrNotLoaded = errors.New("usbtest driver not loaded (modprobe usbtest)")

// ID is a USB vendor:product pair.
type ID struct {
	Vendor, Product uint16
}

func (id ID) String() string { return fmt.Sprintf("%04x:%04x", id.Vendor, id.Product) }

// MarshalText writes id as "vvvv:pppp".
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// ParseID parses "vvvv:pppp" (hexadecimal, optional 0x).
func ParseID(s string) (ID, error) {
	v, p, ok := strings.Cut(s, ":")
	if !ok {
		return ID{}, fmt.Errorf("VID:PID %q: want two hexadecimal numbers separated by ':'", s)
	}
	parse := func(what, x string) (uint16, error) {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(x), "0x"), 16, 16)
		if err != nil {
			return 0, fmt.Errorf("VID:PID %q: %s %q is not a 16-bit hexadecimal number", s, what, x)
		}
		return uint16(n), nil
	}
	vid, err := parse("vendor", v)
	if err != nil {
		return ID{}, err
	}
	pid, err := parse("product", p)
	if err != nil {
		return ID{}, err
	}
	return ID{vid, pid}, nil
}

// IDs in usbtest's own id_table. usbtest drives interface 0 of such a
// device: it sets altsetting 0 before every test (so nothing a function
// queued survives from one test to the next) and refuses other interface
// numbers with ENODEV.
var (
	// GadgetZero (0525:a4a0) gets every test the interface's endpoints
	// allow, including the ep0 vendor requests 0x5b/0x5c of tests 14 and 21.
	GadgetZero = ID{0x0525, 0xa4a0}
	// UserMode (0525:a4a4) is gadget zero's user-mode variant: bulk and
	// control tests, no ep0 vendor request tests.
	UserMode = ID{0x0525, 0xa4a4}
)

// Device is one USB interface that usbtest has claimed.
type Device struct {
	Interface string `json:"interface"` // sysfs name, e.g. "1-1:1.0"
	Path      string `json:"path"`      // usbfs node, /dev/bus/usb/BBB/DDD
	Ifnum     int    `json:"ifnum"`     // bInterfaceNumber
	ID        ID     `json:"id"`
	Serial    string `json:"serial,omitempty"`
	Speed     string `json:"speed"` // sysfs speed in Mb/s: "480", "5000"
}

// Find lists the interfaces usbtest is bound to, sorted by device node and
// interface number.
func Find() ([]Device, error) { return findIn(DriverDir, DevDir) }

func findIn(driverDir, devDir string) ([]Device, error) {
	entries, err := os.ReadDir(driverDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotLoaded
	}
	if err != nil {
		return nil, err
	}
	var devs []Device
	for _, e := range entries {
		// Interface links are "BUS-PORT:CONFIG.IFACE"; the rest are the
		// driver's own files (bind, new_id, module...).
		if !strings.Contains(e.Name(), ":") {
			continue
		}
		d, err := readDevice(filepath.Join(driverDir, e.Name()), devDir)
		if errors.Is(err, os.ErrNotExist) {
			continue // unplugged while we looked
		}
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	slices.SortFunc(devs, func(a, b Device) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return a.Ifnum - b.Ifnum
	})
	return devs, nil
}

func readDevice(link, devDir string) (Device, error) {
	iface, err := filepath.EvalSymlinks(link)
	if err != nil {
		return Device{}, err
	}
	usb := filepath.Dir(iface)
	read := func(dir, name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(b)), err
	}
	num := func(dir, name string, base, bitSize int) (uint64, error) {
		s, err := read(dir, name)
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(s, base, bitSize)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", filepath.Join(dir, name), s, err)
		}
		return n, nil
	}
	d := Device{Interface: filepath.Base(link)}
	var (
		ifnum, bus, dev, vid, pid uint64
		errs                      []error
	)
	for _, f := range []struct {
		dst           *uint64
		dir, name     string
		base, bitSize int
	}{
		{&ifnum, iface, "bInterfaceNumber", 16, 8},
		{&bus, usb, "busnum", 10, 16},
		{&dev, usb, "devnum", 10, 16},
		{&vid, usb, "idVendor", 16, 16},
		{&pid, usb, "idProduct", 16, 16},
	} {
		n, err := num(f.dir, f.name, f.base, f.bitSize)
		errs = append(errs, err)
		*f.dst = n
	}
	if err := errors.Join(errs...); err != nil {
		return Device{}, err
	}
	d.Ifnum = int(ifnum)
	d.ID = ID{uint16(vid), uint16(pid)}
	d.Path = filepath.Join(devDir, fmt.Sprintf("%03d", bus), fmt.Sprintf("%03d", dev))
	d.Serial, _ = read(usb, "serial") // optional descriptor
	d.Speed, _ = read(usb, "speed")
	return d, nil
}

// Bind makes usbtest claim the vendor-specific interfaces of devices with
// id, with the driver data of the usbtest table entry like (GadgetZero or
// UserMode), through usbtest's new_id file; usbtest probes matching devices
// at once, Wait for the claim. A reference entry is required: usbtest
// dereferences its driver data unchecked. Kernels whose usbtest has no
// new_id (6.1 among them) give ErrNoDynamicID.
func Bind(id, like ID) error { return bindIn(DriverDir, id, like) }

func bindIn(driverDir string, id, like ID) error {
	if _, err := os.Stat(driverDir); errors.Is(err, os.ErrNotExist) {
		return ErrNotLoaded
	}
	if _, err := os.Stat(filepath.Join(driverDir, "new_id")); errors.Is(err, os.ErrNotExist) {
		return ErrNoDynamicID
	}
	// "VID PID bInterfaceClass refVID refPID"; class 0xff keeps usbtest
	// off the standard-class interfaces of a composite gadget.
	line := fmt.Sprintf("%04x %04x ff %04x %04x\n", id.Vendor, id.Product, like.Vendor, like.Product)
	if err := os.WriteFile(filepath.Join(driverDir, "new_id"), []byte(line), 0); err != nil {
		return fmt.Errorf("bind usbtest to %v like %v: %w", id, like, err)
	}
	return nil
}

// Unbind removes an ID added by Bind (usbtest's remove_id file). Interfaces
// usbtest already claimed stay claimed until their device goes away.
func Unbind(id ID) error { return unbindIn(DriverDir, id) }

func unbindIn(driverDir string, id ID) error {
	line := fmt.Sprintf("%04x %04x\n", id.Vendor, id.Product)
	if err := os.WriteFile(filepath.Join(driverDir, "remove_id"), []byte(line), 0); err != nil {
		return fmt.Errorf("remove usbtest id %v: %w", id, err)
	}
	return nil
}

// Wait polls Find until an interface for which match returns true is bound
// to usbtest and its usbfs node exists, or ctx is done.
func Wait(ctx context.Context, match func(Device) bool) (Device, error) {
	return waitIn(ctx, DriverDir, DevDir, match)
}

func waitIn(ctx context.Context, driverDir, devDir string, match func(Device) bool) (Device, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		devs, err := findIn(driverDir, devDir)
		if err != nil && !errors.Is(err, ErrNotLoaded) {
			return Device{}, err
		}
		for _, d := range devs {
			if _, serr := os.Stat(d.Path); serr == nil && match(d) {
				return d, nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return Device{}, fmt.Errorf("wait for usbtest: %w (%w)", ctx.Err(), err)
			}
			return Device{}, fmt.Errorf("wait for usbtest: %w (%d interfaces bound, none matching)", ctx.Err(), len(devs))
		case <-tick.C:
		}
	}
}
