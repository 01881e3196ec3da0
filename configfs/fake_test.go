package configfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeKernel behaves like libcomposite's configfs tree in a temp dir: mkdir
// creates the attribute files and default groups the kernel would, mkdir is
// refused where configfs refuses it, and rmdir succeeds only when every
// child left is one the kernel created, so a wrong teardown order fails
// here as it would on the kernel.
type fakeKernel struct {
	root string
	auto map[string]bool // paths the "kernel" created
}

func newFakeKernel(t *testing.T) (*fakeKernel, *Root) {
	t.Helper()
	dir := t.TempDir()
	k := &fakeKernel{root: filepath.Join(dir, "usb_gadget"), auto: make(map[string]bool)}
	if err := os.Mkdir(k.root, 0o755); err != nil {
		t.Fatal(err)
	}
	udc := filepath.Join(dir, "udc")
	if err := os.Mkdir(udc, 0o755); err != nil {
		t.Fatal(err)
	}
	return k, &Root{Dir: k.root, UDCDir: udc, fs: k}
}

var (
	gadgetAttrs = []string{"UDC", "bDeviceClass", "bDeviceProtocol", "bDeviceSubClass", "bMaxPacketSize0",
		"bcdDevice", "bcdUSB", "idProduct", "idVendor", "max_speed"}
	lunAttrs      = []string{"cdrom", "file", "forced_eject", "inquiry_string", "nofua", "ro", "removable"}
	functionAttrs = map[string][]string{
		"ffs":          nil,
		"acm":          {"port_num"},
		"ecm":          {"dev_addr", "host_addr", "ifname", "qmult"},
		"ncm":          {"dev_addr", "host_addr", "ifname", "qmult"},
		"mass_storage": {"stall"},
		"hid":          {"dev", "no_out_endpoint", "protocol", "report_desc", "report_length", "subclass"},
		"SourceSink": {"bulk_buflen", "bulk_qlen", "iso_qlen", "isoc_interval", "isoc_maxburst",
			"isoc_maxpacket", "isoc_mult", "pattern"},
		"Loopback": {"bulk_buflen", "qlen"},
	}
	langRE   = regexp.MustCompile(`^0x[0-9a-fA-F]{1,4}$`)
	configRE = regexp.MustCompile(`^[^.]+\.[1-9][0-9]*$`)
	lunRE    = regexp.MustCompile(`^lun\.([1-9]|1[0-5])$`)
)

func (k *fakeKernel) Mkdir(path string) error {
	rel, err := filepath.Rel(k.root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return &fs.PathError{Op: "mkdir", Path: path, Err: syscall.EPERM}
	}
	p := strings.Split(rel, "/")
	refuse := &fs.PathError{Op: "mkdir", Path: path, Err: syscall.EPERM}
	var files, dirs []string
	switch {
	case len(p) == 1:
		files = gadgetAttrs
		dirs = []string{"configs", "functions", "strings", "os_desc"}
		files = append(files, "os_desc/use", "os_desc/b_vendor_code", "os_desc/qw_sign")
	case len(p) == 3 && p[1] == "strings":
		if !langRE.MatchString(p[2]) {
			return &fs.PathError{Op: "mkdir", Path: path, Err: syscall.EINVAL}
		}
		files = []string{"manufacturer", "product", "serialnumber"}
	case len(p) == 3 && p[1] == "functions":
		typ, _, ok := strings.Cut(p[2], ".")
		attrs, known := functionAttrs[typ]
		if !ok {
			return &fs.PathError{Op: "mkdir", Path: path, Err: syscall.EINVAL}
		}
		if !known {
			return &fs.PathError{Op: "mkdir", Path: path, Err: syscall.ENOENT}
		}
		files = attrs
		switch typ {
		case "mass_storage":
			dirs = []string{"lun.0"}
			for _, a := range lunAttrs {
				files = append(files, "lun.0/"+a)
			}
		case "ncm":
			dirs = []string{"os_desc", "os_desc/interface.ncm"}
			files = append(files, "os_desc/interface.ncm/compatible_id", "os_desc/interface.ncm/sub_compatible_id")
		}
	case len(p) == 4 && p[1] == "functions" && strings.HasPrefix(p[2], "mass_storage."):
		if !lunRE.MatchString(p[3]) {
			return &fs.PathError{Op: "mkdir", Path: path, Err: syscall.EINVAL}
		}
		files = lunAttrs
	case len(p) == 3 && p[1] == "configs":
		if !configRE.MatchString(p[2]) {
			return &fs.PathError{Op: "mkdir", Path: path, Err: syscall.EINVAL}
		}
		files = []string{"MaxPower", "bmAttributes"}
		dirs = []string{"strings"}
	case len(p) == 5 && p[1] == "configs" && p[3] == "strings":
		if !langRE.MatchString(p[4]) {
			return &fs.PathError{Op: "mkdir", Path: path, Err: syscall.EINVAL}
		}
		files = []string{"configuration"}
	default:
		return refuse
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.Mkdir(filepath.Join(path, d), 0o755); err != nil {
			return err
		}
		k.auto[filepath.Join(path, d)] = true
	}
	for _, f := range files {
		// mknod makes an empty file in one system call; this runs
		// thousands of times in the every-step tests.
		if err := unix.Mknod(filepath.Join(path, f), unix.S_IFREG|0o644, 0); err != nil {
			return err
		}
		k.auto[filepath.Join(path, f)] = true
	}
	return nil
}

func (k *fakeKernel) Rmdir(path string) error {
	if k.auto[path] {
		return &fs.PathError{Op: "rmdir", Path: path, Err: syscall.EPERM}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "rmdir", Path: path, Err: syscall.ENOTDIR}
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == path {
			return err
		}
		if !k.auto[p] {
			return &fs.PathError{Op: "rmdir", Path: path, Err: syscall.ENOTEMPTY}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for p := range k.auto {
		if strings.HasPrefix(p, path+"/") {
			delete(k.auto, p)
		}
	}
	return os.RemoveAll(path)
}

func (k *fakeKernel) WriteAttr(path string, value []byte) error {
	if !k.auto[path] {
		return &fs.PathError{Op: "open", Path: path, Err: syscall.ENOENT}
	}
	if len(value) == 0 {
		// configfs's fill_write_buffer: "return copied ? : -EFAULT".
		return &fs.PathError{Op: "write", Path: path, Err: syscall.EFAULT}
	}
	return osFS{}.WriteAttr(path, value)
}

func (k *fakeKernel) Symlink(target, link string) error {
	if _, err := os.Stat(target); err != nil {
		return err
	}
	return os.Symlink(target, link)
}

func (k *fakeKernel) Unlink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return &fs.PathError{Op: "unlink", Path: path, Err: syscall.EPERM}
	}
	return os.Remove(path)
}

var errInjected = errors.New("injected failure")

// failAt passes every change to fs and fails the at-th one (1-based);
// n counts the changes seen.
type failAt struct {
	fs fsys
	at int
	n  int
}

func (f *failAt) step() error {
	f.n++
	if f.n == f.at {
		return errInjected
	}
	return nil
}

func (f *failAt) Mkdir(path string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.fs.Mkdir(path)
}

func (f *failAt) Rmdir(path string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.fs.Rmdir(path)
}

func (f *failAt) WriteAttr(path string, value []byte) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.fs.WriteAttr(path, value)
}

func (f *failAt) Symlink(target, link string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.fs.Symlink(target, link)
}

func (f *failAt) Unlink(path string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.fs.Unlink(path)
}

// TestFakeKernelRefusesWrongOrder checks the fake itself: the rollback tests
// mean nothing unless it rejects what configfs rejects.
func TestFakeKernelRefusesWrongOrder(t *testing.T) {
	k, r := newFakeKernel(t)
	g := filepath.Join(r.Dir, "g")
	for _, d := range []string{g, g + "/strings/0x409", g + "/functions/Loopback.0", g + "/configs/c.1"} {
		if err := k.Mkdir(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Symlink(g+"/functions/Loopback.0", g+"/configs/c.1/Loopback.0"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{g, syscall.ENOTEMPTY},
		{g + "/configs/c.1", syscall.ENOTEMPTY},
		{g + "/strings", syscall.EPERM},
		{g + "/configs/c.1/strings", syscall.EPERM},
	} {
		if err := k.Rmdir(tc.path); !errors.Is(err, tc.want) {
			t.Errorf("rmdir %s: got %v, want %v", tc.path, err, tc.want)
		}
	}
	if err := k.WriteAttr(g+"/nosuch", []byte("1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write to a missing attribute: got %v, want ENOENT", err)
	}
	if err := k.Mkdir(g + "/functions/nosuchfunc.0"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("mkdir of an unknown function: got %v, want ENOENT", err)
	}
	if err := k.Mkdir(g + "/configs/c"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("mkdir of a config without a number: got %v, want EINVAL", err)
	}
}
