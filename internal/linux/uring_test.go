package linux

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestProbeIoctlNumbers(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint
	}{
		{"UDMABUF_CREATE", udmabufCreateReq, 0x40187542},
		{"FUNCTIONFS_DMABUF_ATTACH", ffsDMABufAttach, 0x40046783},
		{"FUNCTIONFS_DMABUF_DETACH", ffsDMABufDetach, 0x40046784},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// A read on an empty pipe stays pending, ASYNC_CANCEL finds it (0) and the
// read completes with -ECANCELED; a second read carries the pipe's bytes.
// Both completions signal the registered eventfd.
func TestUringReadCancel(t *testing.T) {
	u, err := NewUring(4)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		t.Skipf("io_uring unavailable on this kernel: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	r := newRig(t, 1)
	if err := u.RegisterEventfd(r.efd); err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	buf := r.mem.Bytes()[:64]
	read := UringSQE{Opcode: UringOpRead, FD: int32(p[0]), Addr: uint64(addrOf(buf)), Len: 64, UserData: 1}
	if err := u.Submit(read); err != nil {
		t.Fatal(err)
	}
	cqes := make([]UringCQE, 4)
	if n := u.Reap(cqes); n != 0 {
		t.Fatalf("read of an empty pipe completed at once: %+v", cqes[0])
	}
	if err := u.Submit(UringSQE{Opcode: UringOpAsyncCancel, FD: -1, Addr: 1, UserData: 2}); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]int32{}
	for len(got) < 2 {
		r.waitEventfd(t)
		n := u.Reap(cqes)
		for _, c := range cqes[:n] {
			got[c.UserData] = c.Res
		}
	}
	if got[1] != -int32(unix.ECANCELED) || got[2] != 0 {
		t.Fatalf("after ASYNC_CANCEL: read %d, cancel %d; want -ECANCELED and 0", got[1], got[2])
	}
	read.UserData = 3
	if err := u.Submit(read); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(p[1], []byte("ring")); err != nil {
		t.Fatal(err)
	}
	r.waitEventfd(t)
	if n := u.Reap(cqes); n != 1 || cqes[0].UserData != 3 || cqes[0].Res != 4 || string(buf[:4]) != "ring" {
		t.Fatalf("read after write: %d completions %+v, buf %q; want user_data 3, res 4, \"ring\"", n, cqes[0], buf[:4])
	}
}
