//go:build cgo

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gousb"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/usb"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// altsFile is a loopback whose one interface has a bulk pair on setting 0
// and a bulk and an interrupt pair on setting 1.
const altsFile = `gadget:
  name: alts
  vid: 0x1d6b
  pid: 0x0104
  strings:
    0x409: {manufacturer: gadgetkit, product: alternate settings, serial: "alts1"}
udc: auto
configurations:
  - functions: [alts]
functions:
  - name: alts
    type: ffs
    interfaces:
      - endpoints:
          - {direction: in, type: bulk}
          - {direction: out, type: bulk}
        alt_settings:
          - endpoints:
              - {direction: in, type: bulk}
              - {direction: out, type: bulk}
              - {direction: in, type: interrupt, max_packet: 64, interval: 1ms}
              - {direction: out, type: interrupt, max_packet: 64, interval: 1ms}
    personality:
      kind: loopback
`

// isoSetting is a second alternate setting for altsFile with an
// isochronous pair.
const isoSetting = `          - endpoints:
              - {direction: in, type: isochronous, max_packet: 512, interval: 1ms, iso_attributes: 0x04}
              - {direction: out, type: isochronous, max_packet: 512, interval: 1ms, iso_attributes: 0x04}
`

// startFile parses the gadget file text and starts it.
func startFile(t *testing.T, text string) (*gadget.Gadget, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gadget.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return gadget.Start(cfg, gadget.Options{})
}

// fsGetAlt reports whether the running kernel's f_fs has a get_alt
// callback (ffs_func_get_alt, added upstream in 2024). Without it the
// composite layer stalls SET_INTERFACE to any setting but 0 and answers
// GET_INTERFACE with 0 itself.
func fsGetAlt(t *testing.T) bool {
	b, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(" ffs_data_new")) && !bytes.Contains(b, []byte(" ffs_func_set_alt")) {
		t.Fatal("/proc/kallsyms lists no f_fs symbol: cannot tell what this kernel's f_fs allows")
	}
	return bytes.Contains(b, []byte(" ffs_func_get_alt"))
}

// enumerated lists the interfaces of the device's first configuration as
// the host saw them, one setting a line: "0.1: in bulk 512, out bulk 512".
func enumerated(t *testing.T, d *host.Device) string {
	t.Helper()
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range snap.Configs[0].Interfaces {
		var eps []string
		for _, e := range s.Endpoints {
			dir := "out"
			if e.Address.IsIn() {
				dir = "in"
			}
			// f_fs gives each endpoint the number of the UDC endpoint it
			// bound, so only direction, type and size are as described.
			eps = append(eps, fmt.Sprintf("%s %s %d", dir, usb.TransferType(e.Attributes&3), e.MaxPacketSize&0x7ff))
		}
		got = append(got, fmt.Sprintf("%d.%d: %s", s.Number, s.AlternateSetting, strings.Join(eps, ", ")))
	}
	return strings.Join(got, "\n")
}

// echo writes data to out and reads it back from in, in transfers of at
// most chunk bytes, and fails t unless every byte comes back in order.
func echo(t *testing.T, ctx context.Context, what string, out *gousb.OutEndpoint, in *gousb.InEndpoint, data []byte, chunk int) {
	t.Helper()
	got := make([]byte, 0, len(data))
	buf := make([]byte, 16<<10)
	for off := 0; off < len(data); off += chunk {
		p := data[off:min(off+chunk, len(data))]
		if _, err := out.WriteContext(ctx, p); err != nil {
			t.Fatalf("%s: write at byte %d: %v", what, off, err)
		}
		for len(got) < off+len(p) {
			n, err := in.ReadContext(ctx, buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("%s: read at byte %d: %v", what, len(got), err)
			}
		}
	}
	if !bytes.Equal(got, data) {
		i := 0
		for i < len(got) && i < len(data) && got[i] == data[i] {
			i++
		}
		t.Fatalf("%s: %d bytes back for %d, first difference at byte %d", what, len(got), len(data), i)
	}
}

// TestAltSettings serves a loopback with two alternate settings from a
// gadget file: the host enumerates both with their bulk and interrupt
// endpoints, and moves data on setting 0's bulk pair and, where the kernel
// lets the host select setting 1, on its bulk and interrupt pairs, each
// byte checked.
func TestAltSettings(t *testing.T) {
	guest.Require(t)
	g, err := startFile(t, altsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Close(); err != nil {
			t.Errorf("gadget teardown: %v", err)
		}
	}()
	getAlt := fsGetAlt(t)
	release, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	t.Logf("kernel %s: f_fs get_alt: %v", bytes.TrimSpace(release), getAlt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := host.Open(ctx, host.Options{Selector: host.Selector{Serial: "alts1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	want := []string{
		"0.0: in bulk 512, out bulk 512",
		"0.1: in bulk 512, out bulk 512, in interrupt 64, out interrupt 64",
	}
	if got := enumerated(t, d); got != strings.Join(want, "\n") {
		t.Fatalf("the host enumerated\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	getInterface := func() int {
		t.Helper()
		b := make([]byte, 1)
		if n, err := d.Control(0x81, 0x0a, 0, 0, b); err != nil || n != 1 {
			t.Fatalf("GET_INTERFACE: %d bytes, %v", n, err)
		}
		return int(b[0])
	}

	p, err := d.Claim(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ctx, "setting 0 bulk", p.Out, p.In, random(100_000), 10_000)
	if alt := getInterface(); alt != 0 {
		t.Errorf("GET_INTERFACE on setting 0: %d", alt)
	}

	p, err = d.Claim(0, 1)
	if !getAlt {
		if err == nil {
			t.Fatal("SET_INTERFACE 1 accepted, but this kernel's f_fs has no get_alt")
		}
		t.Logf("SET_INTERFACE 1: %v (this kernel's f_fs has no get_alt)", err)
		// libusb reports usbfs's EPIPE from SET_INTERFACE as
		// LIBUSB_ERROR_OTHER; the request on its own shows the stall.
		if _, err := d.Control(0x01, 0x0b, 1, 0, nil); !errors.Is(err, host.ErrStall) {
			t.Fatalf("SET_INTERFACE 1 as a control request: %v, want a stall", err)
		}
		if alt := getInterface(); alt != 0 {
			t.Errorf("GET_INTERFACE after the refused SET_INTERFACE: %d", alt)
		}
		// gousb keeps the interface claimed after the failed
		// SET_INTERFACE: a fresh handle lets it go.
		if err := d.Reopen(ctx); err != nil {
			t.Fatal(err)
		}
		if p, err = d.Claim(0, 0); err != nil {
			t.Fatal(err)
		}
		echo(t, ctx, "setting 0 bulk after the refused SET_INTERFACE", p.Out, p.In, random(20_000), 10_000)
		return
	}
	if err != nil {
		t.Fatalf("SET_INTERFACE 1: %v", err)
	}
	if alt := getInterface(); alt != 1 {
		t.Errorf("GET_INTERFACE on setting 1: %d", alt)
	}
	echo(t, ctx, "setting 1 bulk", p.Out, p.In, random(100_000), 10_000)
	// Interrupt transfers shorter than a packet each end the gadget's
	// request.
	echo(t, ctx, "setting 1 interrupt", p.IntOut, p.IntIn, random(40*50), 40)
	// Back on setting 0, its endpoints carry data again.
	if p, err = d.Claim(0, 0); err != nil {
		t.Fatal(err)
	}
	echo(t, ctx, "setting 0 bulk again", p.Out, p.In, random(20_000), 10_000)
}

// TestAltSettingsIsochronous adds an isochronous setting to the loopback.
// f_fs takes its descriptors (the ep0 write succeeds and the endpoint
// files appear), but binding needs a UDC endpoint that can do isochronous
// transfers: where dummy_hcd offers them the host enumerates the setting,
// and where it does not (its isochronous endpoints are compiled out), the
// bind fails and the same file without the setting binds. dummy_hcd moves
// no isochronous data either way.
func TestAltSettingsIsochronous(t *testing.T) {
	guest.Require(t)
	text := strings.Replace(altsFile, "    personality:\n", isoSetting+"    personality:\n", 1)
	g, err := startFile(t, text)
	if err != nil {
		// f_fs fails its bind with -ENOTSUPP (524) when no UDC endpoint
		// fits; 5.10's UDC core returns that from the UDC write, 6.1 and
		// later EBUSY.
		const enotsupp = syscall.Errno(524)
		if !(errors.Is(err, syscall.EBUSY) || errors.Is(err, enotsupp)) || !strings.Contains(err.Error(), "UDC") {
			t.Fatalf("gadget with an isochronous setting: %v, want a UDC bind refused with EBUSY or ENOTSUPP (no isochronous UDC endpoint), or success", err)
		}
		t.Logf("this UDC has no isochronous endpoints: %v", err)
		g, err := startFile(t, altsFile)
		if err != nil {
			t.Fatalf("the same gadget without the isochronous setting: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Error(err)
		}
		return
	}
	defer func() {
		if err := g.Close(); err != nil {
			t.Errorf("gadget teardown: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := host.Open(ctx, host.Options{Selector: host.Selector{Serial: "alts1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := "0.0: in bulk 512, out bulk 512\n" +
		"0.1: in bulk 512, out bulk 512, in interrupt 64, out interrupt 64\n" +
		"0.2: in isochronous 512, out isochronous 512"
	if got := enumerated(t, d); got != want {
		t.Fatalf("the host enumerated\n%s\nwant\n%s", got, want)
	}
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	iso := snap.Configs[0].Interfaces[2].Endpoints[0]
	if iso.Attributes != 0x05 || iso.Interval != 4 {
		t.Errorf("isochronous endpoint: bmAttributes %#02x bInterval %d, want 0x05 (asynchronous) and 4 (1ms)", iso.Attributes, iso.Interval)
	}
}
