package usbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeSysfs builds a sysfs-like tree: devices with their interfaces under
// devices/, the usbtest driver directory with links to claimed interfaces
// and its own files, and usbfs nodes as empty files.
type fakeSysfs struct {
	t                       *testing.T
	root, driverDir, devDir string
}

func newFakeSysfs(t *testing.T) *fakeSysfs {
	root := t.TempDir()
	f := &fakeSysfs{t: t, root: root, driverDir: filepath.Join(root, "bus/usb/drivers/usbtest"), devDir: filepath.Join(root, "dev/bus/usb")}
	f.write("bus/usb/drivers/usbtest/new_id", "")
	f.write("bus/usb/drivers/usbtest/remove_id", "")
	f.write("bus/usb/drivers/usbtest/bind", "")
	return f
}

func (f *fakeSysfs) write(rel, data string) {
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// device adds USB device name (e.g. "1-1") with one interface ifnum (two
// hex digits, as sysfs shows bInterfaceNumber), linked from the usbtest
// driver directory when claimed.
func (f *fakeSysfs) device(name string, bus, dev int, vid, pid, serial string, ifnum int, claimed bool) {
	dir := "devices/platform/dummy_hcd.0/usb1/" + name
	f.write(dir+"/busnum", strconv.Itoa(bus)+"\n")
	f.write(dir+"/devnum", strconv.Itoa(dev)+"\n")
	f.write(dir+"/idVendor", vid+"\n")
	f.write(dir+"/idProduct", pid+"\n")
	f.write(dir+"/speed", "480\n")
	if serial != "" {
		f.write(dir+"/serial", serial+"\n")
	}
	iface := fmt.Sprintf("%s:1.%d", name, ifnum)
	f.write(dir+"/"+iface+"/bInterfaceNumber", fmt.Sprintf("%02x\n", ifnum))
	f.write(fmt.Sprintf("dev/bus/usb/%03d/%03d", bus, dev), "")
	if claimed {
		if err := os.Symlink(filepath.Join(f.root, dir, iface), filepath.Join(f.driverDir, iface)); err != nil {
			f.t.Fatal(err)
		}
	}
}

func TestFind(t *testing.T) {
	f := newFakeSysfs(t)
	f.device("1-1.2", 1, 12, "1d6b", "0104", "gk-2", 1, true)
	f.device("1-1", 1, 3, "0525", "a4a0", "", 0, true)
	f.device("2-1", 2, 2, "0525", "a4a0", "gk-unclaimed", 0, false)
	got, err := findIn(f.driverDir, f.devDir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{Interface: "1-1:1.0", Path: filepath.Join(f.devDir, "001/003"), Ifnum: 0, ID: GadgetZero, Speed: "480"},
		{Interface: "1-1.2:1.1", Path: filepath.Join(f.devDir, "001/012"), Ifnum: 1, ID: ID{0x1d6b, 0x0104}, Serial: "gk-2", Speed: "480"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findIn (-want +got):\n%s", d)
	}
}

func TestFindErrors(t *testing.T) {
	if _, err := findIn(filepath.Join(t.TempDir(), "nope"), "/dev/bus/usb"); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("missing driver dir: %v, want ErrNotLoaded", err)
	}
	f := newFakeSysfs(t)
	f.device("1-1", 1, 3, "0525", "zz", "", 0, true)
	_, err := findIn(f.driverDir, f.devDir)
	if err == nil || !strings.Contains(err.Error(), "idProduct") || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("bad idProduct: %v, want an error naming the file and value", err)
	}
}

func TestBindWritesNewID(t *testing.T) {
	f := newFakeSysfs(t)
	if err := bindIn(f.driverDir, ID{0x1d6b, 0x0104}, GadgetZero); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(f.driverDir, "new_id"))
	if got, want := string(b), "1d6b 0104 ff 0525 a4a0\n"; got != want {
		t.Errorf("new_id got %q, want %q", got, want)
	}
	if err := unbindIn(f.driverDir, ID{0x1d6b, 0x0104}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(f.driverDir, "remove_id"))
	if got, want := string(b), "1d6b 0104\n"; got != want {
		t.Errorf("remove_id got %q, want %q", got, want)
	}
	if err := bindIn(filepath.Join(t.TempDir(), "nope"), GadgetZero, GadgetZero); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("bind without driver: %v, want ErrNotLoaded", err)
	}
	os.Remove(filepath.Join(f.driverDir, "new_id"))
	if err := bindIn(f.driverDir, ID{0x1d6b, 0x0104}, GadgetZero); !errors.Is(err, ErrNoDynamicID) {
		t.Errorf("bind without new_id: %v, want ErrNoDynamicID", err)
	}
}

func TestWait(t *testing.T) {
	f := newFakeSysfs(t)
	f.device("1-1", 1, 3, "0525", "a4a0", "other", 0, true)
	isMine := func(d Device) bool { return d.Serial == "mine" }

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := waitIn(ctx, f.driverDir, f.devDir, isMine)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 interfaces bound, none matching") {
		t.Errorf("no match: %v", err)
	}

	go func() {
		time.Sleep(50 * time.Millisecond)
		f.device("1-2", 1, 4, "1d6b", "0104", "mine", 0, true)
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := waitIn(ctx, f.driverDir, f.devDir, isMine)
	if err != nil || d.Interface != "1-2:1.0" {
		t.Errorf("wait: %+v, %v; want interface 1-2:1.0", d, err)
	}
}

func TestParseID(t *testing.T) {
	for in, want := range map[string]ID{"0525:a4a0": GadgetZero, "0x1D6B:0x0104": {0x1d6b, 0x0104}} {
		if got, err := ParseID(in); err != nil || got != want {
			t.Errorf("ParseID(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0525", "0525:", "10000:1", "zz:1"} {
		if _, err := ParseID(in); err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseID(%q): %v, want an error quoting the input", in, err)
		}
	}
}
