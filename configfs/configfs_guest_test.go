package configfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// The guest's usbcore enumerates what is bound to dummy_udc.0; these IDs
// find it under /sys/bus/usb/devices.
const (
	guestVID = "1a0a"
	guestPID = "badd"
)

// zeroGadget is gadget zero's shape: SourceSink in configuration 1 (which
// usbcore selects), Loopback in configuration 2.
func zeroGadget(name string) *Gadget {
	return &Gadget{
		Name:      name,
		VendorID:  0x1a0a,
		ProductID: 0xbadd,
		BCDDevice: 0x0100,
		Strings:   []DeviceStrings{{Lang: 0x409, Manufacturer: "gadgetkit", Product: "configfs guest test", SerialNumber: "42"}},
		Functions: []Function{
			SourceSink("ss", SourceSinkOptions{Pattern: 1, BulkBufLen: 4096}),
			Loopback("lb", LoopbackOptions{QLen: 8}),
		},
		Configs: []Config{
			{Number: 1, MaxPowerMA: 100, Strings: []ConfigStrings{{Lang: 0x409, Configuration: "source/sink"}},
				Functions: []string{"SourceSink.ss"}},
			{Number: 2, MaxPowerMA: 100, Strings: []ConfigStrings{{Lang: 0x409, Configuration: "loopback"}},
				Functions: []string{"Loopback.lb"}},
		},
	}
}

// hostDevice returns the sysfs directory of the enumerated device with
// the test IDs, or "".
func hostDevice(t *testing.T) string {
	t.Helper()
	dirs, err := filepath.Glob("/sys/bus/usb/devices/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		vid, _ := readAttr(filepath.Join(d, "idVendor"))
		pid, _ := readAttr(filepath.Join(d, "idProduct"))
		if vid == guestVID && pid == guestPID {
			return d
		}
	}
	return ""
}

// waitDevice waits until the device is present (or gone) on the host side.
func waitDevice(t *testing.T, present bool) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		d := hostDevice(t)
		if (d != "") == present {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("device %s:%s present = %v after 15s, want %v", guestVID, guestPID, d != "", present)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertNoGadgets fails if anything is left under the configfs root.
func assertNoGadgets(t *testing.T, r *Root) {
	t.Helper()
	names, err := r.Gadgets()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Fatalf("left under %s: %v", r.dir(), names)
	}
}

func TestGuestBindEnumerateRemove(t *testing.T) {
	guest.Require(t)
	r := &Root{}
	g := zeroGadget("gk-zero")
	if err := r.Create(g); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ok, _ := r.Exists(g.Name); ok {
			_ = r.Remove(g.Name)
		}
	})
	udc, err := r.PickUDC("auto")
	if err != nil {
		t.Fatal(err)
	}
	if udc != "dummy_udc.0" {
		t.Fatalf("PickUDC(auto) = %q, want dummy_udc.0", udc)
	}
	if err := r.Bind(g.Name, udc); err != nil {
		t.Fatal(err)
	}
	dev := waitDevice(t, true)
	for attr, want := range map[string]string{
		"manufacturer":        "gadgetkit",
		"product":             "configfs guest test",
		"serial":              "42",
		"bcdDevice":           "0100",
		"bNumConfigurations":  "2",
		"bConfigurationValue": "1",
	} {
		// bConfigurationValue is set once usbcore has configured it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := readAttr(filepath.Join(dev, attr))
			if err == nil && strings.TrimSpace(got) == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/%s = %q (%v), want %q", dev, attr, got, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	udcs, err := r.UDCs()
	if err != nil {
		t.Fatal(err)
	}
	if len(udcs) == 0 || udcs[0].Name != "dummy_udc.0" || udcs[0].Gadget != g.Name || udcs[0].State != "configured" {
		t.Fatalf("UDCs = %+v, want dummy_udc.0 configured and bound to %s", udcs, g.Name)
	}
	if _, err := r.PickUDC("dummy_udc.0"); err == nil {
		t.Fatal("PickUDC accepted a bound UDC")
	}

	// Rebind: the host sees the device go and come back.
	if err := r.Unbind(g.Name); err != nil {
		t.Fatal(err)
	}
	waitDevice(t, false)
	if err := r.Bind(g.Name, udc); err != nil {
		t.Fatal(err)
	}
	waitDevice(t, true)
	if err := r.Rebind(g.Name); err != nil {
		t.Fatal(err)
	}
	waitDevice(t, true)

	// Remove unbinds and takes the whole tree down.
	if err := r.Remove(g.Name); err != nil {
		t.Fatal(err)
	}
	waitDevice(t, false)
	assertNoGadgets(t, r)
}

// TestGuestRollback makes the kernel refuse a step and checks that the
// rollback leaves nothing behind on the real configfs.
func TestGuestRollback(t *testing.T) {
	guest.Require(t)
	r := &Root{}
	for _, tc := range []struct {
		name   string
		modify func(g *Gadget)
		op     string
		errno  syscall.Errno
	}{
		// The kernel has no function of that name to load.
		{"unknown function", func(g *Gadget) {
			g.Functions = append(g.Functions, Function{Type: "nosuchfunction", Instance: "x"})
			g.Configs[1].Functions = append(g.Configs[1].Functions, "nosuchfunction.x")
		}, "mkdir", syscall.ENOENT},
		// The kernel parses max_speed and refuses a name it does not know.
		{"bad attribute", func(g *Gadget) { g.MaxSpeed = "warp-speed" }, "write", syscall.EINVAL},
		// An attribute this kernel does not have.
		{"missing attribute", func(g *Gadget) {
			g.Functions[1].Attrs = append(g.Functions[1].Attrs, Attr{"nosuchattr", "1"})
		}, "write", syscall.ENOENT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := zeroGadget("gk-undo")
			tc.modify(g)
			err := r.Create(g)
			var se *StepError
			if !errors.As(err, &se) || se.Op != tc.op || !errors.Is(err, tc.errno) {
				t.Fatalf("Create = %v, want a %s step failing with %v", err, tc.op, tc.errno)
			}
			if strings.Contains(err.Error(), "rollback:") {
				t.Fatalf("rollback failed: %v", err)
			}
			assertNoGadgets(t, r)
		})
	}
}

// TestGuestFunctionFSMount creates an ffs function, mounts its instance and
// checks ep0, then removes everything. (Binding needs descriptors on ep0,
// which is package ffs's job.)
func TestGuestFunctionFSMount(t *testing.T) {
	guest.Require(t)
	r := &Root{}
	g := &Gadget{
		Name:      "gk-ffs",
		VendorID:  0x1a0a,
		ProductID: 0xbadd,
		Functions: []Function{FunctionFS("gkt")},
		Configs:   []Config{{Number: 1, Functions: []string{"ffs.gkt"}}},
	}
	if err := r.Create(g); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ffs")
	if err := MountFunctionFS("gkt", dir, MountOptions{UID: 1000, GID: 1001, RMode: 0o750, FMode: 0o640}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "ep0"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o640 || st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("ep0 mode %v uid %d gid %d, want 0640 1000 1001", fi.Mode().Perm(), st.Uid, st.Gid)
	}
	// functionfs keeps only the r and x bits of rmode.
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o550 {
		t.Errorf("mount root: %v, %v; want mode 0550 from rmode 0750", fi.Mode(), err)
	}
	mounts, err := FunctionFSMounts()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range mounts {
		found = found || (m.Instance == "gkt" && m.Dir == dir)
	}
	if !found {
		t.Errorf("FunctionFSMounts = %+v, want gkt on %s", mounts, dir)
	}
	if err := MountFunctionFS("nosuchinstance", filepath.Join(t.TempDir(), "x"), MountOptions{}); err == nil {
		t.Error("mounting an instance that has no ffs function succeeded")
	}
	if err := UnmountFunctionFS(dir); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(g.Name); err != nil {
		t.Fatal(err)
	}
	assertNoGadgets(t, r)
}

// TestGuestKernelFunctions builds fullGadget's tree on the real configfs
// (every kernel function type, LUNs, OS descriptors, two configurations),
// binds it without its FunctionFS function and checks what the host sees.
func TestGuestKernelFunctions(t *testing.T) {
	guest.Require(t)
	for _, m := range []string{"usb_f_acm", "usb_f_ncm", "usb_f_mass_storage", "usb_f_hid"} {
		if err := guest.LoadModule(m, ""); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	g := fullGadget()
	g.VendorID, g.ProductID = 0x1a0a, 0xbadd
	g.Functions = g.Functions[1:] // no ffs: it could not bind before its descriptors are written
	g.Configs[0].Functions = g.Configs[0].Functions[1:]
	for i, name := range []string{"disk.img", "cd.iso"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		g.Functions[2].LUNs[i].File = p
	}
	r := &Root{}
	if err := r.Create(g); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if ok, _ := r.Exists(g.Name); ok {
			_ = r.Remove(g.Name)
		}
	})
	base := r.Path(g.Name)
	for rel, want := range map[string]string{
		"functions/ncm.usb0/dev_addr":                            "02:00:00:00:00:01",
		"functions/ncm.usb0/qmult":                               "10",
		"functions/ncm.usb0/os_desc/interface.ncm/compatible_id": "WINNCM",
		"functions/mass_storage.0/lun.1/ro":                      "1",
		"functions/mass_storage.0/lun.1/cdrom":                   "1",
		"functions/mass_storage.0/lun.1/file":                    filepath.Join(dir, "cd.iso"),
		"functions/hid.kbd/report_length":                        "8",
		"functions/SourceSink.ss/bulk_qlen":                      "16",
		"os_desc/use":                                            "1",
		"os_desc/qw_sign":                                        "MSFT100",
		"max_speed":                                              "high-speed",
	} {
		got, err := readAttr(filepath.Join(base, rel))
		if err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", rel, got, err, want)
		}
	}
	if err := r.Bind(g.Name, "dummy_udc.0"); err != nil {
		t.Fatal(err)
	}
	dev := waitDevice(t, true)
	// acm 2 + ncm 2 + mass_storage 1 + hid 1 interfaces in configuration 1.
	for attr, want := range map[string]string{"bNumInterfaces": "6", "bDeviceClass": "ef", "bNumConfigurations": "2"} {
		got, err := readAttr(filepath.Join(dev, attr))
		if err != nil || strings.TrimSpace(got) != want {
			t.Errorf("%s/%s = %q (%v), want %q", dev, attr, got, err, want)
		}
	}
	if err := r.Remove(g.Name); err != nil {
		t.Fatal(err)
	}
	waitDevice(t, false)
	assertNoGadgets(t, r)
}

// TestGuestStaleAfterKill is what a SIGKILLed daemon leaves: the tree, and
// a functionfs mount. Remove takes the tree even while the mount stands and
// ep0 is open; the mount outlives it until unmounted, and FunctionFSMounts
// finds it. Then the same gadget can be made again.
func TestGuestStaleAfterKill(t *testing.T) {
	guest.Require(t)
	r := &Root{}
	g := &Gadget{Name: "gk-stale", VendorID: 0x1a0a, ProductID: 0xbadd, Functions: []Function{FunctionFS("stale")},
		Configs: []Config{{Number: 1, Functions: []string{"ffs.stale"}}}}
	if err := r.Create(g); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ffs")
	if err := MountFunctionFS("stale", dir, MountOptions{}); err != nil {
		t.Fatal(err)
	}
	ep0, err := os.OpenFile(filepath.Join(dir, "ep0"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ep0.Close()

	if err := r.Create(g); !errors.Is(err, os.ErrExist) {
		t.Fatalf("Create over the stale tree = %v, want an error matching fs.ErrExist", err)
	}
	if err := r.Remove(g.Name); err != nil {
		t.Fatal(err)
	}
	assertNoGadgets(t, r)
	mounts, err := FunctionFSMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 1 || mounts[0] != (FunctionFSMount{Instance: "stale", Dir: dir}) {
		t.Fatalf("FunctionFSMounts after Remove = %+v, want the stale mount on %s", mounts, dir)
	}
	ep0.Close()
	if err := UnmountFunctionFS(dir); err != nil {
		t.Fatal(err)
	}
	if err := r.Create(g); err != nil {
		t.Fatal(err)
	}
	if err := MountFunctionFS("stale", dir, MountOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := UnmountFunctionFS(dir); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(g.Name); err != nil {
		t.Fatal(err)
	}
	assertNoGadgets(t, r)
}
