package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EnvFailOnPurpose makes this package's test binary fail inside the guest, so
// the harness's own test can prove a failing kernel test fails the run.
const EnvFailOnPurpose = "GADGETKIT_FAIL_ON_PURPOSE"

func TestMain(m *testing.M) {
	if os.Getenv(EnvFailOnPurpose) == "1" && InGuest() {
		fmt.Println("failing on purpose: " + EnvFailOnPurpose + "=1")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func TestDummyHCDLoaded(t *testing.T) {
	Require(t)
	for _, m := range []string{"dummy_hcd", "libcomposite", "usb_f_fs", "configfs"} {
		if !Loaded(m) {
			t.Errorf("module %s not loaded", m)
		}
	}
	if _, err := os.Stat(filepath.Join(UDCRoot, "dummy_udc.0")); err != nil {
		t.Fatalf("dummy_udc.0: %v (UDCs: %v)", err, UDCs())
	}
	if _, err := os.Stat(GadgetRoot); err != nil {
		t.Fatalf("configfs usb_gadget: %v", err)
	}
}

// TestSourceSinkEnumerates binds a gadget with the kernel's own SourceSink
// function and checks the guest's host side enumerates it with the
// configured IDs and a vendor-specific interface with two bulk endpoints.
func TestSourceSinkEnumerates(t *testing.T) {
	g := NewGadget(t, GadgetSpec{VID: 0x1d6b, PID: 0x0104, Functions: []string{"SourceSink.0"},
		Attrs: map[string]string{"functions/SourceSink.0/bulk_buflen": "8192"}})
	if b, _ := os.ReadFile(filepath.Join(g.Path, "functions/SourceSink.0/bulk_buflen")); strings.TrimSpace(string(b)) != "8192" {
		t.Fatalf("bulk_buflen = %q, want the 8192 GadgetSpec.Attrs set", b)
	}
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	dev, err := WaitHostDevice(g.Serial, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for attr, want := range map[string]string{"idVendor": "1d6b", "idProduct": "0104", "product": "gadgetkit test gadget", "bConfigurationValue": "1", "speed": "480"} {
		b, err := os.ReadFile(filepath.Join(dev, attr))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	intf := filepath.Join(dev, filepath.Base(dev)+":1.0")
	b, err := os.ReadFile(filepath.Join(intf, "bInterfaceClass"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "ff" {
		t.Errorf("SourceSink interface class = %s, want ff", got)
	}
	eps, _ := filepath.Glob(filepath.Join(intf, "ep_*"))
	if len(eps) < 2 {
		t.Errorf("SourceSink interface has %d endpoints, want at least bulk IN and OUT", len(eps))
	}
	if state := UDCState(g.UDC()); state != "configured" {
		t.Errorf("UDC state %q, want configured", state)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := WaitHostGone(g.Serial, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(GadgetRoot); len(left) != 0 {
		t.Fatalf("configfs residue after Remove: %v", left)
	}
}

// TestSoftConnectDisconnectsHost pulls the virtual cable. On Debian's 6.1
// dummy_hcd a soft_connect "connect" after "disconnect" leaves ep0 mute (the
// host logs "device descriptor read/64, error -71"), so the way back is to
// rebind the gadget; this test pins both facts so a kernel change shows up.
func TestSoftConnectDisconnectsHost(t *testing.T) {
	g := NewGadget(t, GadgetSpec{Functions: []string{"Loopback.0"}})
	if err := g.Bind(); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitHostDevice(g.Serial, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	udc := g.UDC()
	if err := SoftConnect(udc, false); err != nil {
		t.Fatal(err)
	}
	if err := WaitHostGone(g.Serial, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := SoftConnect(udc, true); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitHostDevice(g.Serial, 3*time.Second); err == nil {
		t.Log("soft_connect connect re-enumerated the gadget: this kernel no longer has the 6.1 dummy_hcd quirk")
	}
	if err := g.Unbind(); err != nil {
		t.Fatal(err)
	}
	if err := g.BindTo(udc); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitHostDevice(g.Serial, 10*time.Second); err != nil {
		t.Fatalf("after rebind: %v", err)
	}
}

func TestReloadDummyHCDSuperSpeed(t *testing.T) {
	Require(t)
	if err := ReloadDummyHCD("is_super_speed=1 num=2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ReloadDummyHCD("") })
	if got := UDCs(); len(got) != 2 {
		t.Fatalf("UDCs after num=2: %v", got)
	}
	g := NewGadget(t, GadgetSpec{Functions: []string{"SourceSink.0"}})
	if err := g.BindTo("dummy_udc.1"); err != nil {
		t.Fatal(err)
	}
	dev, err := WaitHostDevice(g.Serial, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dev, "speed"))
	if got := strings.TrimSpace(string(b)); got != "5000" {
		t.Fatalf("speed %q, want 5000 (SuperSpeed)", got)
	}
}
