package gadget

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// The worker can write the abort records file the supervisor prepared for
// it, in a directory it could not create files in, and a file already there
// keeps its content until the worker replaces it.
func TestPrepareRecordsForTheWorker(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user (the supervisor runs as root)")
	}
	dir := t.TempDir()
	// The user must reach it: open the test's directories (0700) for search.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := parseFile(t, "abort.yaml")
	abort := c.Functions[0].FunctionFS.Personality.Abort
	abort.Records = filepath.Join(dir, "new", "abort.jsonl")
	u := User{UID: 65534, GID: 65534}
	if err := prepareRecords(c, u); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(abort.Records, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != u.UID || st.Gid != u.GID {
		t.Fatalf("records file owned by %d:%d, want %v", st.Uid, st.Gid, u)
	}
	// What the worker does at exit (os.Create), as the user.
	sh := exec.Command("/bin/sh", "-c", `echo '{}' > "$0" && ! touch "$(dirname "$0")/other"`, abort.Records)
	sh.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, NoSetGroups: true}}
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("as %v: writing the prepared file, or failing to create another: %v\n%s", u, err, out)
	}

	old := filepath.Join(dir, "old.jsonl")
	if err := os.WriteFile(old, []byte("kept\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	abort.Records = old
	if err := prepareRecords(c, u); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(old); string(b) != "kept\n" {
		t.Fatalf("an existing records file holds %q after prepareRecords, want its content kept", b)
	}
}
