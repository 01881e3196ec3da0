package gadget

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/configfs"
)

func TestParseUser(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want User
	}{
		{"65534:65534", User{65534, 65534}},
		{"1:2", User{1, 2}},
		// No passwd entry is needed when both are numbers.
		{"4000000000:4000000001", User{4000000000, 4000000001}},
		{"4294967294:4294967294", User{4294967294, 4294967294}},
	} {
		got, err := ParseUser(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseUser(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "want USER or USER:GROUP"},
		{":100", "want USER or USER:GROUP"},
		{"100:", "want USER or USER:GROUP"},
		{"1:2:3", "want USER or USER:GROUP"},
		{"0:100", "uid 0 is root"},
		{"100:0", "gid 0 is root's group"},
		{"4294967295:1", "uid 4294967295: out of range"},
		{"1:99999999999", "gid 99999999999: out of range"},
		{"no-such-user-gadgetkit", "no such user"},
		{"1:no-such-group-gadgetkit", `no such group "no-such-group-gadgetkit"`},
		// A number alone needs its passwd entry for the group.
		{"4000000000", "no passwd entry for uid 4000000000 to find its group: give USER:GROUP"},
	} {
		_, err := ParseUser(tc.in)
		if err == nil {
			t.Errorf("ParseUser(%q) accepted it", tc.in)
			continue
		}
		if prefix := "user " + `"` + tc.in + `": `; !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseUser(%q): %q, want %s...%s", tc.in, err, prefix, tc.want)
		}
	}
}

// TestParseUserNames checks names against what os/user finds in this
// machine's /etc/passwd and /etc/group.
func TestParseUserNames(t *testing.T) {
	pw, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody here: %v", err)
	}
	gr, err := user.LookupGroupId(pw.Gid)
	if err != nil {
		t.Skipf("nobody's group %s has no name here: %v", pw.Gid, err)
	}
	uid, err1 := strconv.ParseUint(pw.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(pw.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("nobody: uid %q gid %q", pw.Uid, pw.Gid)
	}
	want := User{uint32(uid), uint32(gid)}
	for _, in := range []string{"nobody", "nobody:" + gr.Name, pw.Uid, pw.Uid + ":" + gr.Name, "nobody:" + pw.Gid} {
		got, err := ParseUser(in)
		if err != nil || got != want {
			t.Errorf("ParseUser(%q) = %v, %v; want %v (passwd: uid %s gid %s)", in, got, err, want, pw.Uid, pw.Gid)
		}
	}
	if _, err := ParseUser("root"); err == nil || !strings.Contains(err.Error(), "uid 0 is root") {
		t.Errorf("ParseUser(root): %v", err)
	}
}

func TestUserMountOptions(t *testing.T) {
	u := User{65534, 65534}
	for _, tc := range []struct {
		name string
		in   configfs.MountOptions
		want configfs.MountOptions
	}{
		{"defaults", configfs.MountOptions{},
			configfs.MountOptions{UID: 65534, GID: 65534, RMode: 0o500, FMode: 0o600}},
		// configs/loopback.yaml's mode: 0o600 gives a directory functionfs
		// would make 0400: the owner could list it but not open ep0.
		{"mode 0600", configfs.MountOptions{RMode: 0o600, FMode: 0o600},
			configfs.MountOptions{UID: 65534, GID: 65534, RMode: 0o500, FMode: 0o600}},
		{"Mode only", configfs.MountOptions{Mode: 0o640},
			configfs.MountOptions{UID: 65534, GID: 65534, RMode: 0o550, FMode: 0o640}},
		{"group access", configfs.MountOptions{UID: 1000, RMode: 0o750, FMode: 0o660, NoDisconnect: true},
			configfs.MountOptions{UID: 1000, GID: 65534, RMode: 0o550, FMode: 0o660, NoDisconnect: true}},
		{"others access", configfs.MountOptions{UID: 1000, GID: 1000, RMode: 0o755, FMode: 0o666},
			configfs.MountOptions{UID: 1000, GID: 1000, RMode: 0o555, FMode: 0o666}},
	} {
		got, err := userMountOptions(tc.in, u)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	for _, tc := range []struct {
		name string
		in   configfs.MountOptions
		want string
	}{
		{"owned by another user", configfs.MountOptions{UID: 1000, GID: 1000, FMode: 0o600},
			"rmode 0500 with uid 1000 gid 1000 does not let user 65534:65534 (as others) into the directory"},
		{"others may only read", configfs.MountOptions{UID: 1000, GID: 1000, RMode: 0o555, FMode: 0o644},
			"fmode 0644 with uid 1000 gid 1000 does not let user 65534:65534 (as others) read and write ep0"},
		{"read-only files", configfs.MountOptions{FMode: 0o400},
			"fmode 0400 with uid 65534 gid 65534 does not let user 65534:65534 (as owner) read and write ep0"},
		{"group without search", configfs.MountOptions{UID: 1000, RMode: 0o700, FMode: 0o666},
			"rmode 0500 with uid 1000 gid 65534 does not let user 65534:65534 (as group) into the directory"},
	} {
		_, err := userMountOptions(tc.in, u)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestHandoffConfig: every example gadget file reaches the worker as the
// supervisor parsed it.
func TestHandoffConfig(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no configs: %v", err)
	}
	for _, path := range files {
		cfg, err := config.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(handoff{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		var h handoff
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(cfg, h.Config); diff != "" {
			t.Errorf("%s: the worker's config differs (-supervisor +worker):\n%s", path, diff)
		}
	}
}

// TestWorkerExit: the supervisor's error names the worker, its exit and
// its last reported error, with nothing but printable text from it.
func TestWorkerExit(t *testing.T) {
	for _, tc := range []struct {
		waitErr error
		report  []string
		want    string
	}{
		{errors.New("signal: killed"), nil, "worker (pid 42): signal: killed"},
		{errors.New("exit status 1"), []string{"ready", "error function loop: ep0: EL2HLT"},
			"worker (pid 42): exit status 1: function loop: ep0: EL2HLT"},
		{nil, []string{"error worker: status socket: bad"}, "worker (pid 42): exited before it was ready: worker: status socket: bad"},
		{errors.New("exit status 1"), []string{"error \x1b[2Jgone\x00\xff"}, "worker (pid 42): exit status 1: ?[2Jgone??"},
		{errors.New("exit status 1"), []string{"error " + strings.Repeat("x", 2000)},
			"worker (pid 42): exit status 1: " + strings.Repeat("x", maxReport) + "..."},
	} {
		w := &worker{cmd: &exec.Cmd{Process: &os.Process{Pid: 42}}, msgs: make(chan string, len(tc.report))}
		for _, m := range tc.report {
			w.msgs <- m
		}
		close(w.msgs)
		if got := w.exit(tc.waitErr, "").Error(); got != tc.want {
			t.Errorf("exit(%v, report %q):\n got %q\nwant %q", tc.waitErr, tc.report, got, tc.want)
		}
	}
}
