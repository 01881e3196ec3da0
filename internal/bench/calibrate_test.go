package bench

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// readFull keeps reading after short reads: a pipe hands over a 64 KiB
// buffer in 1000-byte writes.
func TestReadFullAfterShortReads(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	want := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	go func() {
		defer unix.Close(p[1])
		for off := 0; off < len(want); off += 1000 {
			if _, err := unix.Write(p[1], want[off:min(off+1000, len(want))]); err != nil {
				return
			}
		}
	}()
	got := make([]byte, len(want))
	if err := readFull(p[0], got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("readFull returned other bytes than were written")
	}
	// The writer closed its end: one more read finds the end of file.
	if err := readFull(p[0], make([]byte, 1)); err == nil {
		t.Fatal("readFull at end of file: no error")
	}
}

func TestCalibrate(t *testing.T) {
	cs := Calibrate([]int{4096, 3 << 20}, 3, 1<<20)
	if len(cs) != 2 {
		t.Fatalf("%d results, want 2", len(cs))
	}
	for _, c := range cs {
		if c.Err != "" {
			t.Fatalf("size %d: %s", c.Size, c.Err)
		}
		// Whole passes of Size bytes, at least the bytes asked for.
		if c.Bytes%int64(c.Size) != 0 || c.Bytes < 1<<20 || c.Reps != 3 {
			t.Errorf("size %d: %d bytes per rep, %d reps; want whole passes of at least 1 MiB, 3 reps", c.Size, c.Bytes, c.Reps)
		}
		if !(c.ZeroNs > 0 && c.CopyNs > 0 && c.ZeroBest <= c.ZeroNs && c.CopyBest <= c.CopyNs) {
			t.Errorf("size %d: zero %v (best %v), copy %v (best %v) ns/B: want positive medians no lower than the best", c.Size, c.ZeroNs, c.ZeroBest, c.CopyNs, c.CopyBest)
		}
	}
}

func TestInitOnAlloc(t *testing.T) {
	on := []byte("CONFIG_X=y\nCONFIG_INIT_ON_ALLOC_DEFAULT_ON=y\n")
	off := []byte("# CONFIG_INIT_ON_ALLOC_DEFAULT_ON is not set\n")
	for _, c := range []struct {
		name    string
		cmdline string
		configs []configText
		on      bool
		known   bool
		source  string
	}{
		{"command line wins over the config", "ro console=ttyS0 init_on_alloc=0", []configText{{"/boot/config-6.1", on}}, false, true, "init_on_alloc=0 on /proc/cmdline"},
		{"the last one on the command line wins", "init_on_alloc=0 init_on_alloc=1", nil, true, true, "init_on_alloc=1"},
		{"config default on", "console=ttyS0", []configText{{"/boot/config-6.1", on}}, true, true, "CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y in /boot/config-6.1"},
		{"config default off", "", []configText{{"/proc/config.gz", off}}, false, true, "not set in /proc/config.gz"},
		{"nothing known", "console=ttyS0", nil, true, false, "assumed on"},
	} {
		got := initOnAlloc(c.cmdline, c.configs)
		if got.On != c.on || got.Known != c.known || !bytes.Contains([]byte(got.Source), []byte(c.source)) {
			t.Errorf("%s: %+v, want on %v known %v source containing %q", c.name, got, c.on, c.known, c.source)
		}
	}
}
