package configfs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMountOptionsData(t *testing.T) {
	for _, tc := range []struct {
		o    MountOptions
		want string
	}{
		{MountOptions{}, "uid=0,gid=0"},
		{MountOptions{UID: 1000, GID: 100, Mode: 0o660}, "uid=1000,gid=100,rmode=0660,fmode=0660"},
		{MountOptions{RMode: 0o755, FMode: 0o600}, "uid=0,gid=0,rmode=0755,fmode=0600"},
		{MountOptions{RMode: 0o750, Mode: 0o640, NoDisconnect: true}, "uid=0,gid=0,rmode=0750,fmode=0640,no_disconnect=1"},
	} {
		if got := tc.o.data(); got != tc.want {
			t.Errorf("%+v: data() = %q, want %q", tc.o, got, tc.want)
		}
	}
}

func TestParseMountInfo(t *testing.T) {
	const info = `22 1 0:21 / / rw,relatime - ext4 /dev/vda rw
36 22 0:32 / /dev/ffs-loop rw,relatime shared:12 - functionfs loop rw
37 22 0:33 / /run/my\040ffs rw,relatime - functionfs vendor\040x rw
38 22 0:34 / /sys/kernel/config rw,relatime - configfs configfs rw
`
	got, err := parseMountInfo(strings.NewReader(info))
	if err != nil {
		t.Fatal(err)
	}
	want := []FunctionFSMount{{Instance: "loop", Dir: "/dev/ffs-loop"}, {Instance: "vendor x", Dir: "/run/my ffs"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("parseMountInfo (-want +got):\n%s", diff)
	}
	if _, err := parseMountInfo(strings.NewReader("1 2 3\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("malformed mountinfo: got %v", err)
	}
}
