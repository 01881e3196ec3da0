package linux

import (
	"errors"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestUSBTestParamLayout(t *testing.T) {
	var p USBTestParam
	// struct usbtest_param_64: five __u32, then two __s64 at 8-byte alignment.
	fields := []struct {
		name      string
		got, want uintptr
	}{
		{"test_num", unsafe.Offsetof(p.TestNum), 0},
		{"iterations", unsafe.Offsetof(p.Iterations), 4},
		{"length", unsafe.Offsetof(p.Length), 8},
		{"vary", unsafe.Offsetof(p.Vary), 12},
		{"sglen", unsafe.Offsetof(p.SGLen), 16},
		{"duration_sec", unsafe.Offsetof(p.DurationSec), 24},
		{"duration_usec", unsafe.Offsetof(p.DurationUsec), 32},
		{"sizeof(struct usbtest_param_64)", unsafe.Sizeof(p), 40},
	}
	var w usbdevfsIoctl
	ptr := unsafe.Sizeof(uintptr(0))
	fields = append(fields, []struct {
		name      string
		got, want uintptr
	}{
		{"usbdevfs_ioctl.ifno", unsafe.Offsetof(w.Ifno), 0},
		{"usbdevfs_ioctl.ioctl_code", unsafe.Offsetof(w.IoctlCode), 4},
		{"usbdevfs_ioctl.data", unsafe.Offsetof(w.Data), 8},
		{"sizeof(struct usbdevfs_ioctl)", unsafe.Sizeof(w), 8 + ptr},
	}...)
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s at %d, want %d", f.name, f.got, f.want)
		}
	}
}

func TestUSBTestIoctlNumbers(t *testing.T) {
	// Values from the C headers: USBTEST_REQUEST_64 is the same everywhere;
	// USBDEVFS_IOCTL's size field follows the pointer size.
	if usbtestRequest64 != 0xc0285564 {
		t.Errorf("USBTEST_REQUEST_64 = %#x, want 0xc0285564", usbtestRequest64)
	}
	want := uint(0xc0105512)
	if unsafe.Sizeof(uintptr(0)) == 4 {
		want = 0xc00c5512
	}
	if usbdevfsIoctlReq != want {
		t.Errorf("USBDEVFS_IOCTL = %#x, want %#x", usbdevfsIoctlReq, want)
	}
}

// A file that is not a usbfs node rejects the ioctl; the error names the
// call and keeps the errno.
func TestUSBTestRequestWrongFile(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := USBTestParam{TestNum: 0, Iterations: 1}
	err = USBTestRequest(int(f.Fd()), 0, &p)
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "ioctl USBDEVFS_IOCTL USBTEST_REQUEST" {
		t.Fatalf("error %v (%T), want *os.SyscallError naming USBDEVFS_IOCTL", err, err)
	}
	if !errors.Is(err, unix.ENOTTY) {
		t.Errorf("error %v, want ENOTTY", err)
	}
	if p.DurationSec != 0 || p.DurationUsec != 0 {
		t.Errorf("duration changed on failure: %+v", p)
	}
}
