package vmtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DummyHCD holds dummy_hcd's load-time parameters.
type DummyHCD struct {
	SuperSpeed bool // is_super_speed=1: enumerate at 5 Gb/s on the second root hub
	FullSpeed  bool // is_high_speed=0: a full-speed-only UDC
	Num        int  // number of UDCs, dummy_udc.0 .. dummy_udc.N-1 (default 1)
}

func (d DummyHCD) params() string {
	hs, ss := 1, 0
	if d.FullSpeed {
		hs = 0
	}
	if d.SuperSpeed {
		ss = 1
	}
	num := max(d.Num, 1)
	return fmt.Sprintf("is_high_speed=%d is_super_speed=%d num=%d", hs, ss, num)
}

// File is a host file carried into the guest at path Guest.
type File struct{ Host, Guest string }

// Options describe one guest run.
type Options struct {
	Kernel  *Kernel
	Init    string   // the guest's /init: a vmtest binary (default: this executable)
	Argv    []string // Argv[0] is a host path; it runs as /vmtest/bin/<base>
	Dir     string   // working directory in the guest (default /)
	Env     []string // extra environment for the payload
	Bins    []string // more host executables, carried to /vmtest/bin (on PATH) with their shared libraries
	Files   []File
	Tree    string   // a host directory mirrored at the same path (the module root)
	Modules []string // loaded at boot in addition to the base set (usb_common ... usb_f_ss_lb)
	Dummy   DummyHCD
	OutDir  string        // host directory receiving the guest's /vmtest/out (GADGETKIT_OUT)
	Timeout time.Duration // whole run, boot included (default 10 min)
	// PayloadTimeout is when the guest's init kills the payload (SIGQUIT for
	// a goroutine dump, then SIGKILL) and reports it: 0 means 30 s before
	// Timeout, so that the payload's own dump arrives before the whole run
	// is given up; < 0 means never (only Timeout ends a payload that hangs).
	PayloadTimeout time.Duration
	Stdout         io.Writer // payload output, streamed live (default os.Stdout)
	Console        string    // keep the kernel console log here; default: a temp file kept only on failure
	Memory         int       // MiB (default 1024)
	CPUs           int       // default 2
	KVM            bool      // use -accel kvm (opt-in: it fails on some hosts)
	// KernelArgs are appended to the kernel command line (GADGETKIT_VM_APPEND,
	// vmtest run --append), e.g. init_on_alloc=0.
	KernelArgs []string
	Logf       func(format string, args ...any)
}

// Result is what a guest run reported.
type Result struct {
	ExitCode int
	Ready    time.Duration // boot to payload start, as the guest measured it
	Total    time.Duration // whole run, as the host measured it
}

// ErrGuest reports a guest that did not finish normally: it timed out,
// panicked or never reported its payload's exit status.
var ErrGuest = errors.New("vmtest: guest failed")

// Run boots a fresh guest, runs the payload and returns its exit status.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("vmtest: the guest is an amd64 Debian kernel; this host is %s", runtime.GOARCH)
	}
	if len(o.Argv) == 0 {
		return nil, errors.New("vmtest: nothing to run")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, errors.New("vmtest: qemu-system-x86_64 not found: apt-get install qemu-system-x86 (make deps does it)")
	}
	work, err := os.MkdirTemp("", "vmtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	initrd := filepath.Join(work, "initrd.cpio")
	if err := buildInitramfs(initrd, o); err != nil {
		return nil, fmt.Errorf("vmtest: initramfs: %w", err)
	}
	// Under TCG with two vCPUs, a kernel can die in its own boot: the
	// late_initcall that marks sched_clock stable patches code (static keys,
	// text_poke_bp) while the other vCPU runs a stale translation of it, and
	// an int3 Oops panics the guest (seen on 7.2 about one boot in ten under
	// load). That is the emulator, not what a test checks, and it happens
	// before /init runs: such a boot is tried again, at most twice.
	for attempt := 1; ; attempt++ {
		res, err := runOnce(ctx, o, qemu, initrd, start)
		var bp *bootPanic
		if !errors.As(err, &bp) || attempt == 3 {
			return res, err
		}
		o.Logf("vmtest: the guest kernel panicked before running the payload (attempt %d; console %s); booting again", attempt, bp.console)
		fmt.Fprintf(os.Stderr, "vmtest: guest kernel panicked during boot, before the payload ran (under TCG, usually a race with the kernel's boot-time code patching); booting again (attempt %d of 3)\n", attempt+1)
	}
}

// bootPanic is a guest whose kernel panicked before the payload started.
type bootPanic struct {
	err     error
	console string
}

func (b *bootPanic) Error() string { return b.err.Error() }
func (b *bootPanic) Unwrap() error { return b.err }

func runOnce(ctx context.Context, o Options, qemu, initrd string, start time.Time) (*Result, error) {
	consolePath := o.Console
	keepConsole := consolePath != ""
	if !keepConsole {
		f, err := os.CreateTemp("", "vmtest-console-*.log")
		if err != nil {
			return nil, err
		}
		f.Close()
		consolePath = f.Name()
	}
	consoleFile, err := os.Create(consolePath)
	if err != nil {
		return nil, err
	}
	defer consoleFile.Close()

	conR, conW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	payR, payW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cpus, mem := o.CPUs, o.Memory
	if cpus <= 0 {
		cpus = 2
	}
	if mem <= 0 {
		mem = 1024
	}
	accel := "tcg,thread=multi"
	if o.KVM {
		accel = "kvm"
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-accel", accel, "-cpu", "max",
		"-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(mem),
		"-kernel", o.Kernel.Vmlinuz, "-initrd", initrd,
		"-append", strings.Join(append([]string{"console=ttyS0 panic=-1 rdinit=/init quiet mitigations=off"}, o.KernelArgs...), " "),
		"-chardev", "file,id=con,path=/dev/fd/3", "-serial", "chardev:con",
		"-chardev", "file,id=pay,path=/dev/fd/4", "-serial", "chardev:pay",
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, qemu, args...)
	cmd.ExtraFiles = []*os.File{conW, payW}
	var qemuErr strings.Builder
	cmd.Stderr = &qemuErr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("vmtest: start qemu: %w", err)
	}
	conW.Close()
	payW.Close()

	var wg sync.WaitGroup
	tail := newTail(80)
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(io.MultiWriter(consoleFile, tail), conR)
	}()
	var (
		mu       sync.Mutex
		exitSeen = -1
		ready    time.Duration
		out      strings.Builder
		outDone  bool
		timeout  bool
	)
	go func() {
		defer wg.Done()
		demux(payR, o.Stdout, func(line string) {
			mu.Lock()
			defer mu.Unlock()
			verb, arg, _ := strings.Cut(line, " ")
			switch verb {
			case "exit":
				exitSeen, _ = strconv.Atoi(arg)
			case "ready":
				ms, _ := strconv.Atoi(arg)
				ready = time.Duration(ms) * time.Millisecond
				o.Logf("vmtest: guest ready in %v (host %v)", ready, time.Since(start).Round(time.Millisecond))
			case "out":
				out.WriteString(arg)
			case "out-end":
				outDone = true
			case "timeout":
				timeout = true
			}
		})
	}()
	waitErr := cmd.Wait()
	wg.Wait()
	res := &Result{ExitCode: exitSeen, Ready: ready, Total: time.Since(start)}

	if outDone && o.OutDir != "" {
		if err := extractOut(out.String(), o.OutDir); err != nil {
			return res, err
		}
	}
	fail := func(why string) (*Result, error) {
		return res, fmt.Errorf("%w: %s\n--- kernel console (last lines; full log %s) ---\n%s%s", ErrGuest, why, consolePath, tail.String(), qemuErr.String())
	}
	switch {
	case runCtx.Err() == context.DeadlineExceeded:
		return fail(fmt.Sprintf("no result within %v (hung guest?)", o.Timeout))
	case ctx.Err() != nil:
		return res, ctx.Err()
	case exitSeen < 0 && ready == 0 && strings.Contains(tail.String(), "Kernel panic"):
		res, err := fail(fmt.Sprintf("the guest kernel panicked before the payload started (qemu: %v)", waitErr))
		return res, &bootPanic{err: err, console: consolePath}
	case exitSeen < 0:
		return fail(fmt.Sprintf("guest stopped without reporting an exit status (qemu: %v)", waitErr))
	case timeout:
		return fail(fmt.Sprintf("the payload hit its timeout and was killed (exit %d)", exitSeen))
	}
	if exitSeen != 0 {
		// Keep the console for the failing run: it is the kernel side of the story.
		o.Logf("vmtest: payload exited %d; kernel console kept at %s", exitSeen, consolePath)
	} else if !keepConsole {
		os.Remove(consolePath)
	}
	return res, nil
}

func payloadTimeout(o Options) time.Duration {
	switch {
	case o.PayloadTimeout < 0:
		return 0
	case o.PayloadTimeout > 0:
		return o.PayloadTimeout
	}
	return o.Timeout - 30*time.Second
}

func buildInitramfs(dst string, o Options) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	r := newInitramfs(bw)

	self := o.Init
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return err
		}
	}
	if err := r.binary("init", self); err != nil {
		return fmt.Errorf("init (%s): %w", self, err)
	}
	if o.Tree != "" {
		if err := r.tree(o.Tree); err != nil {
			return fmt.Errorf("tree %s: %w", o.Tree, err)
		}
	}
	argv := append([]string(nil), o.Argv...)
	argv[0] = filepath.Join(guestBin, filepath.Base(o.Argv[0]))
	if err := r.binary(argv[0], o.Argv[0]); err != nil {
		return err
	}
	for _, b := range o.Bins {
		if err := r.binary(filepath.Join(guestBin, filepath.Base(b)), b); err != nil {
			return err
		}
	}
	if err := carryBusybox(r); err != nil {
		return err
	}
	for _, fl := range o.Files {
		if err := r.hostFile(fl.Guest, fl.Host); err != nil {
			return err
		}
	}
	want := append(append([]string(nil), baseModules...), o.Modules...)
	mods, paths, err := resolveModules(o.Kernel.ModulesDir, want, carriedModules)
	if err != nil {
		return err
	}
	if err := r.modules(mods, paths); err != nil {
		return err
	}
	load := append(append([]string(nil), baseModules...), o.Modules...)
	dir := o.Dir
	if dir == "" {
		dir = "/"
	}
	sp := spec{
		Argv:      argv,
		Dir:       dir,
		Env:       o.Env,
		Load:      load,
		Params:    map[string]string{"dummy_hcd": o.Dummy.params()},
		TimeoutMS: payloadTimeout(o).Milliseconds(),
	}
	js, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	if err := r.file(guestSpec, 0o644, js); err != nil {
		return err
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "root", "vmtest/out"} {
		if err := r.mkdirAll(d); err != nil {
			return err
		}
	}
	if err := r.close(); err != nil {
		return err
	}
	return bw.Flush()
}

// carryBusybox gives scenario scripts a shell and the usual tools when the
// host has busybox (make deps installs busybox-static).
func carryBusybox(r *initramfs) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return nil
	}
	if err := r.binary("/bin/busybox", bb); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return nil
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || applet == "init" || strings.Contains(applet, "/") {
			continue
		}
		if err := r.symlink("/bin/"+applet, "busybox"); err != nil {
			return err
		}
	}
	return nil
}

// tail keeps the last n lines written to it.
type tail struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.part + strings.ReplaceAll(string(p), "\r", "")
	parts := strings.Split(s, "\n")
	t.part = parts[len(parts)-1]
	t.lines = append(t.lines, parts[:len(parts)-1]...)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.Join(t.lines, "\n")
	if t.part != "" {
		s += "\n" + t.part
	}
	return s + "\n"
}
