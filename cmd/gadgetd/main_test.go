package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envMain makes the test binary act as gadgetd itself (see TestMain), so a
// test can run, signal and kill `gadgetd run` processes, and `run --user`
// can start this binary again as its worker.
const envMain = "GADGETD_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// gadgetd runs one command line and returns its output and error.
func gadgetd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

func TestValidate(t *testing.T) {
	path := filepath.Join("..", "..", "configs", "loopback.yaml")
	out, _, err := gadgetd(t, "validate", "-c", path)
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ": ok (gadget gadgetkit-loopback, 1 functions, 1 configurations)\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

// TestBadFiles: each mistake gives one line naming FILE:LINE and the field,
// from validate and from run alike (run fails before touching the kernel).
func TestBadFiles(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "configs", "loopback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		old, new string
		want     string
	}{
		{"max packet 513", "type: bulk          #", "type: bulk\n            max_packet: {high: 513} #", ".max_packet.high: 513 is not allowed"},
		{"endpoint 16", "direction: out", "direction: out\n            number: 16", ".number: 16 is not an endpoint number"},
		{"unknown key", "bcd_device: 0x0100", "bcd_device: 0x0100\n  colour: blue", "gadget.colour"},
		{"wrong type", "queue_depth: 8", "queue_depth: eight", "personality.queue_depth"},
		{"invalid YAML", "udc: auto", "udc: [auto", "invalid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(string(good), tc.old, tc.new, 1)
			if text == string(good) {
				t.Fatalf("%q is not in configs/loopback.yaml", tc.old)
			}
			path := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"validate", "run", "up"} {
				_, _, err := gadgetd(t, cmd, "-c", path)
				if err == nil {
					t.Fatalf("%s accepted it", cmd)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, path+":") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
					t.Errorf("%s: %q, want one line %s:LINE: ...%s...", cmd, msg, path, tc.want)
				}
				if errors.As(err, &usageError{}) {
					t.Errorf("%s: a bad file is not a usage error (exit 1, not 2)", cmd)
				}
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"validate", "-c", "x.yaml", "extra"},
		{"run", "-c", "x.yaml", "--no-such-flag"},
		{"status"},
		{"worker"},
	} {
		_, _, err := gadgetd(t, args...)
		if err == nil {
			t.Errorf("%q accepted", args)
			continue
		}
		if !errors.As(err, &usageError{}) {
			t.Errorf("%q: %v is not a usage error", args, err)
		}
	}
}

func TestLogFlags(t *testing.T) {
	path := filepath.Join("..", "..", "configs", "loopback.yaml")
	if _, _, err := gadgetd(t, "validate", "-c", path, "--log-format", "xml"); !errors.As(err, &usageError{}) || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("--log-format xml: %v", err)
	}
	if _, _, err := gadgetd(t, "validate", "-c", path, "--log-level", "loud"); !errors.As(err, &usageError{}) || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("--log-level loud: %v", err)
	}
}

// TestUserFlag: a bad --user is a usage error naming the flag and the
// reason, found before the file is read.
func TestUserFlag(t *testing.T) {
	path := filepath.Join("..", "..", "configs", "loopback.yaml")
	for _, tc := range []struct{ user, want string }{
		{"0:0", `--user "0:0": uid 0 is root`},
		{"65534:0", `--user "65534:0": gid 0 is root's group`},
		{"no-such-user-gadgetkit", `--user "no-such-user-gadgetkit": no such user`},
		{"65534:", `--user "65534:": want USER or USER:GROUP`},
		{"99999999999:1", `--user "99999999999:1": uid 99999999999: out of range`},
	} {
		_, _, err := gadgetd(t, "run", "-c", path, "--user", tc.user)
		if !errors.As(err, &usageError{}) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("--user %s: %v, want a usage error %s...", tc.user, err, tc.want)
		}
	}
}

// TestUserKey: a name in the file's user that this machine does not know
// fails run with the file named, before the kernel is touched.
func TestUserKey(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("..", "..", "configs", "loopback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "user.yaml")
	if err := os.WriteFile(path, append(good, "user: no-such-user-gadgetkit\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = gadgetd(t, "run", "-c", path)
	if want := path + `: user "no-such-user-gadgetkit": no such user`; err == nil || err.Error() != want {
		t.Errorf("run: %v, want %s", err, want)
	}
	if errors.As(err, &usageError{}) {
		t.Error("a bad file is not a usage error (exit 1, not 2)")
	}
	if _, _, err := gadgetd(t, "validate", "-c", path); err != nil {
		t.Errorf("validate: %v (names are looked up by run only)", err)
	}
}
