//go:build cgo

package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeDevice writes the attributes ScanSysfs reads, as the kernel lays them
// out (hex without 0x, trailing newline). It reports failures with Error,
// not Fatal, as some tests call it from a goroutine.
func fakeDevice(t *testing.T, root, name string, attrs map[string]string) {
	t.Helper()
	dir := filepath.Join(root, "bus", "usb", "devices", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Error(err)
		return
	}
	for k, v := range attrs {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func gadgetAttrs(vid, pid, bus, dev, serial string) map[string]string {
	m := map[string]string{"idVendor": vid, "idProduct": pid, "busnum": bus, "devnum": dev, "bDeviceClass": "00", "speed": "480"}
	if serial != "" {
		m["serial"] = serial
	}
	return m
}

func TestScanSysfs(t *testing.T) {
	root := t.TempDir()
	fakeDevice(t, root, "usb1", map[string]string{"idVendor": "1d6b", "idProduct": "0002", "busnum": "1", "devnum": "1", "bDeviceClass": "09"})
	fakeDevice(t, root, "1-1", gadgetAttrs("0525", "a4a0", "1", "3", "SER1"))
	fakeDevice(t, root, "1-1:1.0", map[string]string{"bInterfaceClass": "ff"})
	fakeDevice(t, root, "2-1", map[string]string{"idVendor": "1d6b"}) // half-enumerated: no busnum yet
	fakeDevice(t, root, "1-2", map[string]string{"idVendor": "05e3", "idProduct": "0610", "busnum": "1", "devnum": "4", "bDeviceClass": "09"})

	got, err := ScanSysfs(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []SysfsDevice{
		{Name: "1-1", Bus: 1, Address: 3, Vendor: 0x0525, Product: 0xa4a0, Serial: "SER1", Speed: "480"},
		{Name: "1-2", Bus: 1, Address: 4, Vendor: 0x05e3, Product: 0x0610, Class: 0x09},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ScanSysfs (-want +got):\n%s", diff)
	}
}

func TestFindSysfs(t *testing.T) {
	root := t.TempDir()
	fakeDevice(t, root, "1-1", gadgetAttrs("0525", "a4a0", "1", "3", "A"))
	fakeDevice(t, root, "1-2", gadgetAttrs("0525", "a4a0", "1", "5", "B"))
	fakeDevice(t, root, "2-1", gadgetAttrs("1d6b", "0104", "2", "2", ""))

	tests := []struct {
		sel      Selector
		wantName string
		wantErr  string
	}{
		{sel: Selector{Vendor: 0x1d6b, Product: 0x0104}, wantName: "2-1"},
		{sel: Selector{Vendor: 0x0525, Serial: "B"}, wantName: "1-2"},
		{sel: Selector{Port: "1-1"}, wantName: "1-1"},
		{sel: Selector{Vendor: 0x0525, Product: 0xa4a0}, wantErr: "matches 2 devices"},
		{sel: Selector{}, wantErr: "matches 3 devices"},
		{sel: Selector{Serial: "C"}, wantErr: "device not found"},
	}
	for _, tt := range tests {
		d, err := FindSysfs(root, tt.sel)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FindSysfs(%v) error = %v, want %q", tt.sel, err, tt.wantErr)
			}
			continue
		}
		if err != nil || d.Name != tt.wantName {
			t.Errorf("FindSysfs(%v) = %v, %v; want %s", tt.sel, d, err, tt.wantName)
		}
	}
}

func TestWaitSysfsAppears(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bus", "usb", "devices"), 0o755); err != nil {
		t.Fatal(err)
	}
	written := make(chan struct{})
	defer func() { <-written }() // before TempDir's cleanup
	go func() {
		defer close(written)
		time.Sleep(3 * PollInterval)
		fakeDevice(t, root, "1-1", gadgetAttrs("0525", "a4a0", "1", "7", ""))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := WaitSysfs(ctx, root, Selector{Vendor: 0x0525, Product: 0xa4a0})
	if err != nil {
		t.Fatal(err)
	}
	if d.Address != 7 {
		t.Errorf("address = %d, want 7", d.Address)
	}
}

func TestWaitSysfsTimeout(t *testing.T) {
	root := t.TempDir()
	fakeDevice(t, root, "1-1", gadgetAttrs("0525", "a4a0", "1", "7", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := WaitSysfs(ctx, root, Selector{Vendor: 0x1234})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if el := time.Since(start); el > 10*time.Second { // only a hang guard
		t.Errorf("WaitSysfs returned after %v, deadline was 100ms", el)
	}
}

func TestWaitSysfsGone(t *testing.T) {
	root := t.TempDir()
	fakeDevice(t, root, "1-1", gadgetAttrs("0525", "a4a0", "1", "7", ""))
	d, err := FindSysfs(root, Selector{Port: "1-1"})
	if err != nil {
		t.Fatal(err)
	}
	// Re-enumeration at a new address counts as gone for the old one.
	written := make(chan struct{})
	defer func() { <-written }()
	go func() {
		defer close(written)
		time.Sleep(3 * PollInterval)
		fakeDevice(t, root, "1-1", gadgetAttrs("0525", "a4a0", "1", "8", ""))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := WaitSysfsGone(ctx, root, d); err != nil {
		t.Fatal(err)
	}
	if Present(root, d) {
		t.Error("Present after re-enumeration at a new address")
	}
}

func TestParseVIDPID(t *testing.T) {
	tests := []struct {
		in       string
		vid, pid uint16
		wantErr  bool
	}{
		{"0525:a4a0", 0x0525, 0xa4a0, false},
		{"0x1D6B:0x0104", 0x1d6b, 0x0104, false},
		{"0525:", 0x0525, 0, false},
		{"*:a4a0", 0, 0xa4a0, false},
		{"0525", 0, 0, true},
		{"10000:1", 0, 0, true},
		{"zz:1", 0, 0, true},
	}
	for _, tt := range tests {
		vid, pid, err := ParseVIDPID(tt.in)
		if (err != nil) != tt.wantErr || vid != tt.vid || pid != tt.pid {
			t.Errorf("ParseVIDPID(%q) = %04x, %04x, %v", tt.in, vid, pid, err)
		}
	}
}
