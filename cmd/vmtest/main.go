// Command vmtest runs the project's kernel tests and scenarios in a QEMU guest
// booting Debian's stock kernel with dummy_hcd, configfs and FunctionFS.
//
//	vmtest exec BINARY [ARGS...]         go test -exec wrapper
//	vmtest run [flags] -- CMD [ARGS...]  one guest, one command (a script with busybox sh)
//	vmtest kernel                        fetch/unpack the kernel once and print it
//
// Build it with CGO_ENABLED=0: the same binary is the guest's /init.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/vmtest"
)

const usage = `vmtest boots Debian's stock kernel under QEMU with dummy_hcd, configfs and
FunctionFS loaded, runs one payload as root and reports its exit status.

Usage:
  vmtest exec BINARY [ARGS...]
      go test -exec wrapper: go test -exec "$PWD/bin/vmtest exec" ./... (from
      another module: go test -exec "go tool vmtest exec" ./..., with
      github.com/gadgetkit/gadgetkit/cmd/vmtest as a tool in its go.mod)
      A test binary whose tests call guest.Require runs in a fresh guest; any
      other binary runs directly on the host. Settings come from the
      environment: GADGETKIT_VM_MODULES, GADGETKIT_VM_SS=1, GADGETKIT_VM_UDCS,
      GADGETKIT_VM_BINS, GADGETKIT_VM_CONSOLE, GADGETKIT_VM_TIMEOUT,
      GADGETKIT_VM_KVM=1, GADGETKIT_VM_MEM, GADGETKIT_VM_OUT, GADGETKIT_VM_KERNEL,
      GADGETKIT_VM_APPEND;
      GADGETKIT_VM=always|never|auto.
  vmtest run [flags] -- CMD [ARGS...]
      One guest for a scenario: CMD (a host path) runs as root in the guest,
      with --bin executables on PATH, --file copies, and everything the guest
      writes to $GADGETKIT_OUT copied back to --out.
  vmtest matrix [--kernels bullseye,bookworm,trixie,sid] [--out DIR] [-goflag=value...] PACKAGES...
      go test the packages once per kernel (through vmtest exec, with
      GADGETKIT_VM_KERNEL and GADGETKIT_VM_OUT=DIR/KERNEL/out set) and print one
      table of package x kernel: ok, FAIL and the failed tests, or how many
      tests skipped and why. Logs in DIR/KERNEL/; exit status 1 on any failure.
  vmtest kernel [--kernel SUITE|VERSION] [--all]
      Resolve the guest kernel, fetch and unpack it once into the cache, print
      it. By default it is what the machine's apt sources resolve
      linux-image-amd64 to; --kernel (or GADGETKIT_VM_KERNEL, for exec and run
      too) picks Debian's bullseye (5.10), bookworm (6.1), trixie (6.12) or
      sid (7.x) kernel, or an exact package version, through the harness's own
      apt lists under the cache (the machine's apt setup is never touched);
      --all fetches all four.

The kernel cache is $GADGETKIT_CACHE or ~/.cache/gadgetkit; once filled it
works offline. Exit status: the payload's; 125 when the guest itself failed.
`

func main() {
	if os.Getpid() == 1 {
		vmtest.GuestMain()
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	var err error
	switch os.Args[1] {
	case "exec":
		code, err = execCmd(ctx, os.Args[2:])
	case "matrix":
		code, err = matrixCmd(ctx, os.Args[2:])
	case "run":
		code, err = runCmd(ctx, os.Args[2:])
	case "kernel":
		code, err = kernelCmd(ctx, os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "vmtest: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 125
		}
	}
	os.Exit(code)
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func quiet(string, ...any) {}

// kernel resolves the guest kernel: choice when given (--kernel), else
// GADGETKIT_VM_KERNEL, else the machine's default.
func kernel(ctx context.Context, choice string) (*vmtest.Kernel, error) {
	if choice == "" {
		var err error
		if choice, err = vmtest.KernelChoice(); err != nil {
			return nil, err
		}
	}
	return vmtest.ResolveKernel(ctx, vmtest.DefaultCacheDir(), choice, logf)
}

func kernelCmd(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("vmtest kernel", flag.ContinueOnError)
	choice := fs.String("kernel", "", kernelFlagHelp)
	all := fs.Bool("all", false, "resolve and fetch the kernel of every suite ("+strings.Join(vmtest.SuiteNames(), ", ")+")")
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	choices := []string{*choice}
	if *all {
		choices = vmtest.SuiteNames()
	}
	for _, c := range choices {
		k, err := kernel(ctx, c)
		if err != nil {
			return 1, err
		}
		if k.Suite != "" {
			fmt.Printf("%s: ", k.Suite)
		}
		fmt.Printf("%s (%s)\nvmlinuz: %s\nmodules: %s\n", k, k.Release, k.Vmlinuz, k.ModulesDir)
	}
	return 0, nil
}

var kernelFlagHelp = "guest kernel: " + strings.Join(vmtest.SuiteNames(), "|") + " or an exact package version (default $" + vmtest.EnvKernel + ", else the machine's own apt sources)"

func execCmd(ctx context.Context, args []string) (int, error) {
	if len(args) == 0 {
		return 2, errors.New("vmtest exec: missing test binary")
	}
	mode := os.Getenv("GADGETKIT_VM")
	need := mode == "always"
	if mode == "" || mode == "auto" {
		var err error
		if need, err = vmtest.NeedsGuest(args[0]); err != nil {
			return 125, err
		}
	}
	if !need {
		return runHost(args)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return 125, err
	}
	root, err := vmtest.ModuleRoot(cwd)
	if err != nil {
		return 125, err
	}
	k, err := kernel(ctx, "")
	if err != nil {
		return 125, err
	}
	o := vmtest.Options{Kernel: k, Argv: args, Dir: cwd, Tree: root, Logf: quiet}
	if os.Getenv("GADGETKIT_VM_VERBOSE") == "1" {
		o.Logf = logf
	}
	if err := vmtest.EnvOptions(&o, args[1:]); err != nil {
		return 125, err
	}
	res, err := vmtest.Run(ctx, o)
	if err != nil {
		return 125, err
	}
	if o.Logf != nil {
		o.Logf("vmtest: %s exit %d, guest ready %v, total %v", filepath.Base(args[0]), res.ExitCode, res.Ready, res.Total.Round(time.Millisecond))
	}
	return res.ExitCode, nil
}

// runHost runs a binary that needs no kernel on the host, as go test would.
func runHost(args []string) (int, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 125, err
	}
	return 0, nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runCmd(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("vmtest run", flag.ContinueOnError)
	var bins, files, mods listFlag
	fs.Var(&bins, "bin", "host executable to carry to /vmtest/bin (on PATH); repeatable")
	fs.Var(&files, "file", "HOST:GUEST file to copy into the guest; repeatable")
	fs.Var(&mods, "module", "extra kernel module to load at boot (e.g. usbtest); repeatable")
	out := fs.String("out", "", "host directory receiving what the guest writes to $GADGETKIT_OUT")
	ss := fs.Bool("ss", false, "dummy_hcd with SuperSpeed (is_super_speed=1)")
	fullSpeed := fs.Bool("full-speed", false, "dummy_hcd at full speed only (is_high_speed=0)")
	udcs := fs.Int("udcs", 1, "number of dummy UDCs (dummy_hcd num=, 1..32)")
	timeout := fs.Duration("timeout", 10*time.Minute, "whole-run timeout, boot included")
	console := fs.String("console", "", "keep the kernel console log at this path")
	kvm := fs.Bool("kvm", false, "use KVM instead of TCG (fails on some hosts)")
	mem := fs.Int("mem", 1024, "guest memory in MiB")
	cpus := fs.Int("cpus", 2, "guest vCPUs (QEMU -smp)")
	dir := fs.String("dir", "", "working directory in the guest (default: the current directory, mirrored when inside the module)")
	verbose := fs.Bool("v", false, "report boot and run times")
	kernelChoice := fs.String("kernel", "", kernelFlagHelp)
	appendArgs := fs.String("append", os.Getenv("GADGETKIT_VM_APPEND"), "more kernel command line arguments (e.g. init_on_alloc=0)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vmtest run [flags] -- CMD [ARGS...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2, nil
	}
	if *cpus < 1 || *cpus > 64 {
		return 2, fmt.Errorf("vmtest run: --cpus %d: want 1..64", *cpus)
	}
	if *udcs < 1 || *udcs > 32 {
		return 2, fmt.Errorf("vmtest run: --udcs %d: want 1..32", *udcs)
	}
	argv := fs.Args()
	if p, err := exec.LookPath(argv[0]); err == nil {
		argv[0] = p
	} else {
		return 2, fmt.Errorf("vmtest run: %s: %w", argv[0], err)
	}
	o := vmtest.Options{
		Argv: argv, Bins: bins, Modules: mods, OutDir: *out,
		Dummy:   vmtest.DummyHCD{SuperSpeed: *ss, FullSpeed: *fullSpeed, Num: *udcs},
		Timeout: *timeout, Console: *console, KVM: *kvm, Memory: *mem, CPUs: *cpus, Logf: quiet,
		KernelArgs: strings.Fields(*appendArgs),
	}
	if *verbose {
		o.Logf = logf
	}
	for _, f := range files {
		h, g, ok := strings.Cut(f, ":")
		if !ok || h == "" || !strings.HasPrefix(g, "/") {
			return 2, fmt.Errorf("vmtest run: --file %q: want HOST:/GUEST/PATH", f)
		}
		o.Files = append(o.Files, vmtest.File{Host: h, Guest: g})
	}
	cwd, _ := os.Getwd()
	if root, err := vmtest.ModuleRoot(cwd); err == nil {
		o.Tree, o.Dir = root, cwd
	}
	if *dir != "" {
		o.Dir = *dir
	}
	k, err := kernel(ctx, *kernelChoice)
	if err != nil {
		return 125, err
	}
	o.Kernel = k
	res, err := vmtest.Run(ctx, o)
	if err != nil {
		return 125, err
	}
	o.Logf("vmtest: exit %d, guest ready %v, total %v", res.ExitCode, res.Ready, res.Total.Round(time.Millisecond))
	return res.ExitCode, nil
}
