package vmtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/vmtest/guest"
	"golang.org/x/sys/unix"
)

// GuestMain is the guest's /init: it prepares the kernel, runs the payload
// described by /vmtest/spec.json with its output on ttyS1, reports the exit
// status and powers the machine off. It never returns. Its own diagnostics go
// to the kernel console (ttyS0).
func GuestMain() {
	code, err := guestRun()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmtest init: %v\n", err)
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	_ = code
	select {} // init must not exit: that panics the kernel
}

func guestRun() (int, error) {
	start := time.Now()
	for _, m := range []struct{ src, dst, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		// No tmpfs on /tmp or /run: the initramfs root is already writable
		// memory, and the mirrored module tree may live under /tmp (a CI
		// clone), which a mount would hide from the payload.
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fstype, 0, ""); err != nil {
			return 1, fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	tty, err := os.OpenFile("/dev/ttyS1", os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return 1, fmt.Errorf("open payload port: %w", err)
	}
	if t, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS); err == nil {
		t.Oflag &^= unix.OPOST // pass bytes through: no \n -> \r\n
		unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, t)
	}
	fw := &frameWriter{w: tty}
	code, err := runSpec(fw, start)
	if err != nil {
		fmt.Fprintf(fw, "vmtest init: %v\n", err)
		code = 125
	}
	if code != 0 {
		dumpKernelLog()
	}
	fw.Control(fmt.Sprintf("exit %d", code))
	unix.IoctlSetInt(int(tty.Fd()), unix.TCSBRK, 1) // tcdrain: the host must see the exit line
	return code, nil
}

func runSpec(fw *frameWriter, start time.Time) (int, error) {
	data, err := os.ReadFile(guestSpec)
	if err != nil {
		return 0, err
	}
	var sp spec
	if err := json.Unmarshal(data, &sp); err != nil {
		return 0, fmt.Errorf("%s: %w", guestSpec, err)
	}
	for _, name := range sp.Load {
		if err := guest.LoadModule(name, sp.Params[name]); err != nil {
			return 0, err
		}
	}
	if guest.Loaded("configfs") {
		if err := unix.Mount("configfs", "/sys/kernel/config", "configfs", 0, ""); err != nil {
			return 0, fmt.Errorf("mount configfs: %w", err)
		}
	}
	if err := os.MkdirAll(guestOut, 0o777); err != nil {
		return 0, err
	}
	fw.Control(fmt.Sprintf("ready %d", time.Since(start).Milliseconds()))
	// The console is quiet otherwise: say where the guest got to, for the
	// tail a failed run shows.
	fmt.Fprintf(os.Stderr, "vmtest init: modules loaded in %v; running %q\n", time.Since(start).Round(time.Millisecond), sp.Argv)

	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(sp.Argv[0], sp.Argv[1:]...)
	cmd.Dir = sp.Dir
	cmd.Env = append([]string{
		"PATH=" + guestBin + ":/bin:/sbin:/usr/bin:/usr/sbin",
		"HOME=/root",
		"TMPDIR=/tmp",
		guest.EnvGuest + "=1",
		"GADGETKIT_OUT=" + guestOut,
	}, sp.Env...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("start %s: %w", sp.Argv[0], err)
	}
	w.Close()
	copied := make(chan struct{})
	go func() {
		io.Copy(fw, r)
		close(copied)
	}()
	var timer *time.Timer
	timedOut := false
	exited := make(chan struct{})
	if sp.TimeoutMS > 0 {
		timer = time.AfterFunc(time.Duration(sp.TimeoutMS)*time.Millisecond, func() {
			timedOut = true
			// A payload stuck in the kernel (a task in D state, which no
			// signal ends) is only explained by the kernel's stacks: sysrq
			// w writes every blocked task's to the kernel log, beside the
			// hung-task detector's reports. Under quiet the console shows
			// only their first lines, and the log is dumped once the
			// payload has exited (below): one that SIGKILL does not end
			// never does, so then the dump is made here.
			fmt.Fprintln(os.Stderr, "vmtest init: payload timed out; blocked tasks (sysrq w):")
			os.WriteFile("/proc/sysrq-trigger", []byte("w"), 0)
			syscall.Kill(-cmd.Process.Pid, syscall.SIGQUIT) // Go binaries dump their goroutines
			time.Sleep(2 * time.Second)
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				fmt.Fprintln(os.Stderr, "vmtest init: the payload outlived SIGKILL by 10 s: stuck in the kernel")
				dumpKernelLog()
			}
		})
	}
	waitErr := cmd.Wait()
	close(exited)
	if timer != nil {
		timer.Stop()
	}
	// Background children may keep the pipe open: give them a moment, then go on.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(waitErr, &exit):
		code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	case waitErr != nil:
		return 0, waitErr
	}
	if timedOut {
		fmt.Fprintf(fw, "\nvmtest init: payload killed after its %v timeout\n", time.Duration(sp.TimeoutMS)*time.Millisecond)
		fw.Control("timeout")
	}
	if err := sendOut(fw); err != nil {
		fmt.Fprintf(fw, "vmtest init: copying results out: %v\n", err)
	}
	return code, nil
}

// sendOut sends the files under /vmtest/out to the host as a base64 tar.gz in
// control lines "out <chunk>" ... "out-end".
func sendOut(fw *frameWriter) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	n := 0
	err := filepath.WalkDir(guestOut, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(guestOut, p)
		n++
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil || n == 0 {
		return err
	}
	tw.Close()
	gz.Close()
	enc := base64.StdEncoding.EncodeToString(buf.Bytes())
	for len(enc) > 0 {
		chunk := enc[:min(len(enc), 1024)]
		enc = enc[len(chunk):]
		if err := fw.Control("out " + chunk); err != nil {
			return err
		}
	}
	return fw.Control("out-end")
}

// extractOut unpacks the results tarball into dir, refusing paths that would
// escape it.
func extractOut(b64 string, dir string) error {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("results: refusing path %q", h.Name)
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.Create(dst)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		f.Close()
		if err != nil {
			return err
		}
	}
}

// dumpKernelLog copies the kernel's log buffer to the console. The guest
// boots with "quiet" because every console byte costs an emulated serial
// exit; when the payload fails, the full log is what explains it.
func dumpKernelLog() {
	f, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(os.Stderr, "vmtest init: payload failed; kernel log follows")
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(int(f.Fd()), buf)
		if err == unix.EPIPE { // a record was overwritten: skip on
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		fmt.Fprint(os.Stderr, formatKmsg(string(buf[:n])))
	}
}

// formatKmsg turns a /dev/kmsg record "6,339,5140900,-;text\n" into
// "[    5.140900] text\n".
func formatKmsg(rec string) string {
	head, text, ok := strings.Cut(rec, ";")
	if !ok {
		return rec
	}
	fields := strings.Split(head, ",")
	if len(fields) < 3 {
		return text
	}
	us, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil {
		return text
	}
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i+1] // continuation lines (" KEY=value") are metadata
	}
	return fmt.Sprintf("[%5d.%06d] %s", us/1e6, us%1e6, text)
}
