package bench

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PassCost is what one pass over the data costs this guest's kernel at one
// request size, calibrated in the same run as the throughput points: a
// zeroing pass (read(2) from /dev/zero into a buffer of Size bytes: the
// kernel's clear_user, the rep stosb that init_on_alloc's zeroing and
// memset also run) and a copy pass (pwrite(2) of Size bytes into a memfd
// at offset 0: copy_from_user into page-cache pages, the rep movsb that
// f_fs's copy_from_iter/copy_to_iter and dummy_hcd's memcpy also run).
// Each pass is one system call per Size bytes, as f_fs makes one copy per
// request. Nanoseconds per byte; the median and the best of Reps.
type PassCost struct {
	Size     int     `json:"size"`
	Reps     int     `json:"reps"`
	Bytes    int64   `json:"bytes_per_rep"` // per pass kind and rep
	ZeroNs   float64 `json:"zero_ns_per_byte"`
	CopyNs   float64 `json:"copy_ns_per_byte"`
	ZeroBest float64 `json:"zero_best_ns_per_byte"`
	CopyBest float64 `json:"copy_best_ns_per_byte"`
	Err      string  `json:"error,omitempty"`
}

// Calibrate measures a PassCost at every size: reps repetitions of at least
// bytes bytes of each pass, the zeroing and the copy pass alternating in
// each repetition so that a change of the machine's load falls on both.
func Calibrate(sizes []int, reps int, bytes int64) []PassCost {
	var out []PassCost
	for _, size := range sizes {
		out = append(out, calibrateSize(size, max(reps, 1), max(bytes, int64(size))))
	}
	return out
}

func calibrateSize(size, reps int, bytes int64) PassCost {
	pc := PassCost{Size: size, Reps: reps}
	fail := func(err error) PassCost { pc.Err = err.Error(); return pc }
	zero, err := unix.Open("/dev/zero", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open /dev/zero: %w", err))
	}
	defer unix.Close(zero)
	mfd, err := unix.MemfdCreate("bench-calibrate", unix.MFD_CLOEXEC)
	if err != nil {
		return fail(fmt.Errorf("memfd_create: %w", err))
	}
	defer unix.Close(mfd)
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = 1 // touch every page before timing
	}
	n := (bytes + int64(size) - 1) / int64(size) // passes per rep
	pc.Bytes = n * int64(size)
	// One untimed pass of each: the memfd's pages are allocated by the
	// first write, later ones overwrite them.
	if err := readFull(zero, buf); err != nil {
		return fail(err)
	}
	if err := pwriteFull(mfd, buf, 0); err != nil {
		return fail(err)
	}
	var zs, cs []float64
	for range reps {
		start := time.Now()
		for range n {
			if err := readFull(zero, buf); err != nil {
				return fail(err)
			}
		}
		zs = append(zs, float64(time.Since(start).Nanoseconds())/float64(pc.Bytes))
		start = time.Now()
		for range n {
			if err := pwriteFull(mfd, buf, 0); err != nil {
				return fail(err)
			}
		}
		cs = append(cs, float64(time.Since(start).Nanoseconds())/float64(pc.Bytes))
	}
	pc.ZeroNs, pc.CopyNs = median(zs), median(cs)
	pc.ZeroBest, pc.CopyBest = slices.Min(zs), slices.Min(cs)
	return pc
}

// readFull reads len(buf) bytes from fd, again after a short read.
func readFull(fd int, buf []byte) error {
	for off := 0; off < len(buf); {
		n, err := unix.Read(fd, buf[off:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read /dev/zero: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("read /dev/zero: end of file after %d of %d bytes", off, len(buf))
		}
		off += n
	}
	return nil
}

// pwriteFull writes buf to fd at offset at, again after a short write.
func pwriteFull(fd int, buf []byte, at int64) error {
	for off := 0; off < len(buf); {
		n, err := unix.Pwrite(fd, buf[off:], at+int64(off))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pwrite memfd: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("pwrite memfd: wrote nothing after %d of %d bytes", off, len(buf))
		}
		off += n
	}
	return nil
}

// median of v (v is sorted in place); 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// InitOnAlloc is whether the guest's kernel zeroes every page and slab
// allocation (init_on_alloc), and how that was found out.
type InitOnAlloc struct {
	On bool `json:"on"`
	// Known is false when neither the command line nor a kernel config
	// said: On is then Debian's default (on), assumed.
	Known  bool   `json:"known"`
	Source string `json:"source"`
}

// DetectInitOnAlloc reads init_on_alloc= from the kernel command line (the
// last one wins, as in the kernel's early_param parsing), else
// CONFIG_INIT_ON_ALLOC_DEFAULT_ON from the running kernel's config: the
// release's /boot/config file (scripts/bench.sh carries it into the guest)
// or /proc/config.gz.
func DetectInitOnAlloc() InitOnAlloc {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	release := kernelRelease()
	var configs []configText
	for _, p := range []string{"/boot/config-" + release, "/proc/config.gz"} {
		if b, err := readConfig(p); err == nil {
			configs = append(configs, configText{p, b})
		}
	}
	return initOnAlloc(string(cmdline), configs)
}

type configText struct {
	path string
	text []byte
}

func readConfig(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return b, err
	}
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

// initOnAlloc decides from the text of /proc/cmdline and of kernel
// configs, in order of preference.
func initOnAlloc(cmdline string, configs []configText) InitOnAlloc {
	val, found := "", false
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "init_on_alloc="); ok {
			val, found = v, true
		}
	}
	if found {
		// kstrtobool: 1/y/Y/on are true, 0/n/N/off false.
		switch strings.ToLower(val) {
		case "1", "y", "yes", "on":
			return InitOnAlloc{On: true, Known: true, Source: "init_on_alloc=" + val + " on /proc/cmdline"}
		case "0", "n", "no", "off":
			return InitOnAlloc{On: false, Known: true, Source: "init_on_alloc=" + val + " on /proc/cmdline"}
		}
	}
	for _, c := range configs {
		for line := range strings.Lines(string(c.text)) {
			line = strings.TrimSpace(line)
			switch line {
			case "CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y":
				return InitOnAlloc{On: true, Known: true, Source: line + " in " + c.path + " (no init_on_alloc= on /proc/cmdline)"}
			case "# CONFIG_INIT_ON_ALLOC_DEFAULT_ON is not set":
				return InitOnAlloc{On: false, Known: true, Source: "CONFIG_INIT_ON_ALLOC_DEFAULT_ON not set in " + c.path + " (no init_on_alloc= on /proc/cmdline)"}
			}
		}
	}
	return InitOnAlloc{On: true, Known: false, Source: "assumed on (Debian's default): no init_on_alloc= on /proc/cmdline and no kernel config in the guest"}
}
