package configfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fullGadget uses every kind of change Create makes.
func fullGadget() *Gadget {
	return &Gadget{
		Name:           "g1",
		VendorID:       0x1d6b,
		ProductID:      0x0104,
		BCDDevice:      0x0100,
		BCDUSB:         0x0200,
		Class:          0xef,
		SubClass:       0x02,
		Protocol:       0x01,
		MaxPacketSize0: 64,
		MaxSpeed:       "high-speed",
		Strings: []DeviceStrings{
			{Lang: 0x409, Manufacturer: "gadgetkit", Product: "Test", SerialNumber: "0001"},
			{Lang: 0x407, Manufacturer: "gadgetkit", Product: "Prüfung"},
		},
		Functions: []Function{
			FunctionFS("vendor"),
			ACM("GS0"),
			func() Function {
				f := NCM("usb0", NetOptions{DevAddr: "02:00:00:00:00:01", HostAddr: "02:00:00:00:00:02", QMult: 10})
				f.OSDesc = []InterfaceOSDesc{{Interface: "ncm", CompatibleID: "WINNCM"}}
				return f
			}(),
			MassStorage("0", true,
				LUN{File: "/tmp/disk.img", Removable: true},
				LUN{File: "/tmp/cd.iso", ReadOnly: true, CDROM: true, InquiryString: "gadgetkit cd"}),
			HID("kbd", HIDOptions{Protocol: 1, SubClass: 1, ReportLength: 8, ReportDesc: []byte{0x05, 0x01, 0x09, 0x06, 0x0a, 0x00}}),
			SourceSink("ss", SourceSinkOptions{Pattern: 1, BulkBufLen: 8192, BulkQLen: 16}),
			Loopback("lb", LoopbackOptions{QLen: 8, BulkBufLen: 4096}),
		},
		Configs: []Config{
			{Number: 1, Attributes: 0xc0, MaxPowerMA: 250,
				Strings:   []ConfigStrings{{Lang: 0x409, Configuration: "composite"}, {Lang: 0x407, Configuration: "zusammen"}},
				Functions: []string{"ffs.vendor", "acm.GS0", "ncm.usb0", "mass_storage.0", "hid.kbd"}},
			{Label: "zero", Number: 2, MaxPowerMA: 100,
				Functions: []string{"SourceSink.ss", "Loopback.lb"}},
		},
		OSDesc: &OSDesc{VendorCode: 0xcd, Config: 1},
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCreateWritesTree(t *testing.T) {
	_, r := newFakeKernel(t)
	if err := r.Create(fullGadget()); err != nil {
		t.Fatal(err)
	}
	g := r.Path("g1")
	for _, tc := range []struct{ path, want string }{
		{"idVendor", "0x1d6b"},
		{"idProduct", "0x0104"},
		{"bcdDevice", "0x0100"},
		{"bcdUSB", "0x0200"},
		{"bDeviceClass", "0xef"},
		{"bDeviceSubClass", "0x02"},
		{"bDeviceProtocol", "0x01"},
		{"bMaxPacketSize0", "64"},
		{"max_speed", "high-speed"},
		{"UDC", ""},
		{"strings/0x409/manufacturer", "gadgetkit"},
		{"strings/0x409/product", "Test"},
		{"strings/0x409/serialnumber", "0001"},
		{"strings/0x407/product", "Prüfung"},
		{"strings/0x407/serialnumber", ""},
		{"functions/ncm.usb0/dev_addr", "02:00:00:00:00:01"},
		{"functions/ncm.usb0/host_addr", "02:00:00:00:00:02"},
		{"functions/ncm.usb0/qmult", "10"},
		{"functions/ncm.usb0/os_desc/interface.ncm/compatible_id", "WINNCM"},
		{"functions/mass_storage.0/stall", "1"},
		{"functions/mass_storage.0/lun.0/file", "/tmp/disk.img"},
		{"functions/mass_storage.0/lun.0/removable", "1"},
		{"functions/mass_storage.0/lun.0/ro", "0"},
		{"functions/mass_storage.0/lun.1/file", "/tmp/cd.iso"},
		{"functions/mass_storage.0/lun.1/ro", "1"},
		{"functions/mass_storage.0/lun.1/cdrom", "1"},
		{"functions/mass_storage.0/lun.1/inquiry_string", "gadgetkit cd"},
		{"functions/hid.kbd/protocol", "1"},
		{"functions/hid.kbd/subclass", "1"},
		{"functions/hid.kbd/report_length", "8"},
		{"functions/hid.kbd/report_desc", "\x05\x01\x09\x06\x0a\x00"},
		{"functions/SourceSink.ss/pattern", "1"},
		{"functions/SourceSink.ss/bulk_buflen", "8192"},
		{"functions/SourceSink.ss/bulk_qlen", "16"},
		{"functions/SourceSink.ss/isoc_interval", ""}, // zero keeps the kernel default
		{"functions/Loopback.lb/qlen", "8"},
		{"functions/Loopback.lb/bulk_buflen", "4096"},
		{"configs/c.1/bmAttributes", "0xc0"},
		{"configs/c.1/MaxPower", "250"},
		{"configs/c.1/strings/0x409/configuration", "composite"},
		{"configs/c.1/strings/0x407/configuration", "zusammen"},
		{"configs/zero.2/bmAttributes", "0x80"},
		{"configs/zero.2/MaxPower", "100"},
		{"os_desc/use", "1"},
		{"os_desc/b_vendor_code", "0xcd"},
		{"os_desc/qw_sign", "MSFT100"},
	} {
		if got := readTrim(t, filepath.Join(g, tc.path)); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.path, got, tc.want)
		}
	}
	for link, target := range map[string]string{
		"configs/c.1/ffs.vendor":       "functions/ffs.vendor",
		"configs/c.1/acm.GS0":          "functions/acm.GS0",
		"configs/c.1/ncm.usb0":         "functions/ncm.usb0",
		"configs/c.1/mass_storage.0":   "functions/mass_storage.0",
		"configs/c.1/hid.kbd":          "functions/hid.kbd",
		"configs/zero.2/SourceSink.ss": "functions/SourceSink.ss",
		"configs/zero.2/Loopback.lb":   "functions/Loopback.lb",
		"os_desc/c.1":                  "configs/c.1",
	} {
		got, err := os.Readlink(filepath.Join(g, link))
		if err != nil {
			t.Error(err)
			continue
		}
		if want := filepath.Join(g, target); got != want {
			t.Errorf("%s -> %s, want %s", link, got, want)
		}
	}
	// Only the links above exist: a config holds no stray link.
	for _, c := range []string{"configs/c.1", "configs/zero.2", "os_desc"} {
		n := 0
		entries, err := os.ReadDir(filepath.Join(g, c))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type()&fs.ModeSymlink != 0 {
				n++
			}
		}
		want := map[string]int{"configs/c.1": 5, "configs/zero.2": 2, "os_desc": 1}[c]
		if n != want {
			t.Errorf("%s holds %d links, want %d", c, n, want)
		}
	}
}

// assertEmpty fails unless the gadget root holds nothing and the fake has
// no kernel-made file left.
func assertEmpty(t *testing.T, k *fakeKernel, context string) {
	t.Helper()
	entries, err := os.ReadDir(k.root)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 0 || len(k.auto) != 0 {
		t.Fatalf("%s: root holds %v and %d kernel-made paths", context, left, len(k.auto))
	}
}

// TestCreateRollsBackAtEveryStep fails each change Create makes in turn and
// checks that the error names that step and that nothing is left.
func TestCreateRollsBackAtEveryStep(t *testing.T) {
	k, r := newFakeKernel(t)
	count := &failAt{fs: k}
	r.fs = count
	if err := r.Create(fullGadget()); err != nil {
		t.Fatal(err)
	}
	steps := count.n
	if err := r.Remove("g1"); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, k, "after Remove")
	// mkdirs + writes + links of fullGadget, counted by hand, to be sure the
	// loop below covers every step rather than some.
	const mkdirs, links = 1 + 2 + 7 + 1 + 2 + 2, 5 + 2 + 1
	if steps < mkdirs+links {
		t.Fatalf("Create made %d changes, want at least %d", steps, mkdirs+links)
	}
	for at := 1; at <= steps; at++ {
		k, r := newFakeKernel(t)
		r.fs = &failAt{fs: k, at: at}
		err := r.Create(fullGadget())
		var se *StepError
		if !errors.As(err, &se) || se.Step != at || !errors.Is(err, errInjected) {
			t.Fatalf("failure at step %d: got %v", at, err)
		}
		if !strings.Contains(err.Error(), se.Path) || !strings.HasPrefix(se.Path, k.root) {
			t.Fatalf("failure at step %d: error %q does not name the path %q", at, err, se.Path)
		}
		if strings.Contains(err.Error(), "rollback:") {
			t.Fatalf("failure at step %d: rollback failed: %v", at, err)
		}
		assertEmpty(t, k, "after failure at step "+se.Op+" "+se.Path)
	}
}

func TestCreateExistingIsStale(t *testing.T) {
	k, r := newFakeKernel(t)
	if err := r.Create(fullGadget()); err != nil {
		t.Fatal(err)
	}
	if err := r.Bind("g1", "dummy_udc.0"); err != nil {
		t.Fatal(err)
	}
	err := r.Create(fullGadget())
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: got %v, want an error matching fs.ErrExist", err)
	}
	// The failed Create must not have rolled back the tree it did not make.
	if ok, err := r.Exists("g1"); !ok || err != nil {
		t.Fatalf("Exists after the failed Create = %v, %v", ok, err)
	}
	if got := readTrim(t, filepath.Join(r.Path("g1"), "configs/c.1/MaxPower")); got != "250" {
		t.Fatalf("MaxPower = %q after the failed Create", got)
	}
	// A killed run leaves a bound tree: Remove unbinds and takes it all.
	if err := r.Remove("g1"); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, k, "after Remove")
	if err := r.Remove("g1"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove of a missing gadget: got %v, want fs.ErrNotExist", err)
	}
}

func TestRemoveUnbindsFirst(t *testing.T) {
	k, r := newFakeKernel(t)
	if err := r.Create(fullGadget()); err != nil {
		t.Fatal(err)
	}
	if err := r.Bind("g1", "dummy_udc.0"); err != nil {
		t.Fatal(err)
	}
	// Fail the first change of Remove: it must be the unbind, and nothing
	// else may have been touched.
	r.fs = &failAt{fs: k, at: 1}
	err := r.Remove("g1")
	var se *StepError
	if !errors.As(err, &se) || se.Op != "write" || se.Path != filepath.Join(r.Path("g1"), "UDC") {
		t.Fatalf("Remove failing at step 1: got %v, want the write of UDC", err)
	}
	if _, err := os.Lstat(filepath.Join(r.Path("g1"), "configs/c.1/acm.GS0")); err != nil {
		t.Fatalf("a link went away before the unbind: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(g *Gadget)
		want   string
	}{
		{"empty name", func(g *Gadget) { g.Name = "" }, "name: empty"},
		{"slash", func(g *Gadget) { g.Name = "a/b" }, `name: "a/b" must not contain '/', NUL or newline`},
		{"lang 0", func(g *Gadget) { g.Strings[1].Lang = 0 }, "strings[1].lang: 0 is not a language ID"},
		{"lang twice", func(g *Gadget) { g.Strings[1].Lang = 0x409 }, "strings[1].lang: 0x409 is used twice"},
		{"long string", func(g *Gadget) { g.Strings[0].Product = strings.Repeat("x", 127) },
			"strings[0].product: longer than 126 bytes"},
		{"function twice", func(g *Gadget) { g.Functions[1] = FunctionFS("vendor") },
			`functions[1]: "ffs.vendor" is defined twice`},
		{"dotted type", func(g *Gadget) { g.Functions[0].Type = "f.fs" }, `functions[0].type: "f.fs" must not contain '.'`},
		{"no instance", func(g *Gadget) { g.Functions[0].Instance = "" }, "functions[0].instance: empty"},
		{"luns on hid", func(g *Gadget) { g.Functions[4].LUNs = []LUN{{}} }, `functions[4].luns: only mass_storage has LUNs, not "hid"`},
		{"long compatible id", func(g *Gadget) { g.Functions[2].OSDesc[0].CompatibleID = "WINNCM123" },
			`functions[2].os_desc[0].compatible_id: "WINNCM123" is longer than 8 characters`},
		{"no configs", func(g *Gadget) { g.Configs = nil; g.OSDesc = nil }, "configs: at least one configuration is needed"},
		{"config 0", func(g *Gadget) { g.Configs[1].Number = 0 }, "configs[1].number: 0 is not a bConfigurationValue (1..255)"},
		{"config twice", func(g *Gadget) { g.Configs[1].Number = 1 }, "configs[1].number: 1 is used twice"},
		{"attributes without bit 7", func(g *Gadget) { g.Configs[0].Attributes = 0x40 },
			"configs[0].attributes: 0x40 must have bit 7 set and no bits other than 7, 6, 5"},
		{"reserved attribute bit", func(g *Gadget) { g.Configs[0].Attributes = 0x81 },
			"configs[0].attributes: 0x81 must have bit 7 set and no bits other than 7, 6, 5"},
		{"undefined function", func(g *Gadget) { g.Configs[1].Functions[0] = "SourceSink.nope" },
			`configs[1].functions[0]: "SourceSink.nope" is not a defined function`},
		{"linked twice", func(g *Gadget) { g.Configs[1].Functions[1] = "SourceSink.ss" },
			`configs[1].functions[1]: "SourceSink.ss" is linked twice`},
		{"os_desc config", func(g *Gadget) { g.OSDesc.Config = 3 }, "os_desc.config: 3 is not a defined configuration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := fullGadget()
			tc.modify(g)
			err := g.Validate()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
			// Create refuses it before any change.
			k, r := newFakeKernel(t)
			count := &failAt{fs: k}
			r.fs = count
			if err := r.Create(g); err == nil || count.n != 0 {
				t.Fatalf("Create = %v after %d changes, want an error and none", err, count.n)
			}
		})
	}
	if err := fullGadget().Validate(); err != nil {
		t.Fatalf("the full gadget is invalid: %v", err)
	}
}

func TestOSWriteAttrDoesNotCreate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "attr")
	if err := (osFS{}).WriteAttr(p, []byte("1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteAttr of a missing file: got %v, want fs.ErrNotExist", err)
	}
	if err := os.WriteFile(p, []byte("old long value"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (osFS{}).WriteAttr(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, p); got != "new" {
		t.Fatalf("after WriteAttr the file holds %q, want %q (truncated)", got, "new")
	}
}

// TestRemoveResumesAfterFailure fails each step of Remove in turn, as a
// daemon killed halfway through its teardown would leave things, and checks
// that a second Remove finishes the job.
func TestRemoveResumesAfterFailure(t *testing.T) {
	k, r := newFakeKernel(t)
	if err := r.Create(fullGadget()); err != nil {
		t.Fatal(err)
	}
	if err := r.Bind("g1", "dummy_udc.0"); err != nil {
		t.Fatal(err)
	}
	count := &failAt{fs: k}
	r.fs = count
	if err := r.Remove("g1"); err != nil {
		t.Fatal(err)
	}
	steps := count.n
	for at := 1; at <= steps; at++ {
		k, r := newFakeKernel(t)
		if err := r.Create(fullGadget()); err != nil {
			t.Fatal(err)
		}
		if err := r.Bind("g1", "dummy_udc.0"); err != nil {
			t.Fatal(err)
		}
		r.fs = &failAt{fs: k, at: at}
		err := r.Remove("g1")
		var se *StepError
		if !errors.As(err, &se) || se.Step != at || !errors.Is(err, errInjected) {
			t.Fatalf("Remove failing at step %d: got %v", at, err)
		}
		r.fs = k
		if err := r.Remove("g1"); err != nil {
			t.Fatalf("Remove after a failure at step %d (%s %s): %v", at, se.Op, se.Path, err)
		}
		assertEmpty(t, k, "after the second Remove")
	}
}

func TestCreateWithoutConfigfs(t *testing.T) {
	k, r := newFakeKernel(t)
	r.Dir = filepath.Join(r.Dir, "missing")
	count := &failAt{fs: k}
	r.fs = count
	err := r.Create(fullGadget())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "libcomposite") || count.n != 0 {
		t.Fatalf("Create under a missing root = %v after %d changes, want a hint about libcomposite and no change", err, count.n)
	}
}

// rmdirFails fails every rmdir, so that a rollback cannot finish.
type rmdirFails struct{ fsys }

func (rmdirFails) Rmdir(path string) error {
	return &fs.PathError{Op: "rmdir", Path: path, Err: errInjected}
}

func TestCreateReportsFailedRollback(t *testing.T) {
	// The kernel has no function "nosuch", and every rmdir of the rollback
	// fails.
	k, r := newFakeKernel(t)
	g := fullGadget()
	g.Configs[0].Functions = append(g.Configs[0].Functions, "nosuch.x")
	g.Functions = append(g.Functions, Function{Type: "nosuch", Instance: "x"})
	r.fs = rmdirFails{k}
	err := r.Create(g)
	var se *StepError
	if !errors.As(err, &se) || se.Op != "mkdir" || !strings.HasSuffix(se.Path, "functions/nosuch.x") {
		t.Fatalf("Create = %v, want the mkdir of functions/nosuch.x to fail", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "; rollback: rmdir "+r.Path("g1")+"/functions/Loopback.lb: injected failure; rmdir") ||
		!errors.Is(err, errInjected) {
		t.Fatalf("error %q does not report, on one line, each rmdir the rollback could not do", msg)
	}
}
