package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProfileOptions names the tracers of a profiled usbtest round. Either may
// be empty to leave it out.
type ProfileOptions struct {
	Strace string // strace binary: gadgetd's system calls, counted (-c -f)
	Perf   string // perf binary: the whole guest sampled (record -a)
	Dir    string // where the raw outputs are kept
}

type profiler struct {
	o ProfileOptions
}

// startTimeout bounds how long a tracer may take to attach.
const startTimeout = 30 * time.Second

// start attaches the tracers for point p (gadget process pid, 0 for a
// kernel function) and returns the function that stops them and stores
// what they measured in *p.
func (pr *profiler) start(p *Point, pid int) (func() error, error) {
	label := fmt.Sprintf("%s-%s-%s-x%d", p.Impl, p.Dir, SizeLabel(p.RequestSize), p.InFlight)
	var stops []func() error
	stopAll := func() error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i]())
		}
		return errors.Join(errs...)
	}
	if pr.o.Strace != "" && pid > 0 {
		stop, err := startStrace(pr.o.Strace, pid, filepath.Join(pr.o.Dir, "strace-"+label+".txt"), p)
		if err != nil {
			return nil, err
		}
		stops = append(stops, stop)
	}
	if pr.o.Perf != "" {
		stop, err := startPerf(pr.o.Perf, filepath.Join(pr.o.Dir, "perf-"+label), p)
		if err != nil {
			return nil, errors.Join(err, stopAll())
		}
		stops = append(stops, stop)
	}
	return stopAll, nil
}

// startStrace attaches strace -c -f to every thread of pid; it is ready
// once it says so on stderr.
func startStrace(strace string, pid int, out string, p *Point) (func() error, error) {
	cmd := exec.Command(strace, "-c", "-f", "-p", strconv.Itoa(pid), "-o", out)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	attached := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			if !said && strings.Contains(sc.Text(), "attached") {
				said = true
				attached <- nil
			}
		}
		if !said {
			attached <- fmt.Errorf("strace -p %d exited without attaching", pid)
		}
	}()
	select {
	case err := <-attached:
		if err != nil {
			cmd.Wait()
			return nil, err
		}
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("strace -p %d: not attached after %v", pid, startTimeout)
	}
	return func() error {
		cmd.Process.Signal(syscall.SIGINT) // detach and write the summary
		cmd.Wait()
		b, err := os.ReadFile(out)
		if err != nil {
			return fmt.Errorf("strace summary: %w", err)
		}
		p.Syscalls = parseStraceCounts(string(b))
		return nil
	}, nil
}

// parseStraceCounts reads the table of strace -c: calls by system call
// name, and the failed calls as "NAME errors".
func parseStraceCounts(s string) map[string]int64 {
	counts := make(map[string]int64)
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if _, err := strconv.ParseFloat(f[0], 64); err != nil {
			continue
		}
		name := f[len(f)-1]
		if name == "total" {
			continue
		}
		calls, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			continue
		}
		counts[name] += calls
		if len(f) == 6 {
			if n, err := strconv.ParseInt(f[4], 10, 64); err == nil && n > 0 {
				counts[name+" errors"] += n
			}
		}
	}
	return counts
}

// startPerf starts perf record -a with its events disabled and enables
// them through its control fifo, so that the samples cover the point only.
func startPerf(perf, base string, p *Point) (func() error, error) {
	ctl, ack, data := base+".ctl", base+".ack", base+".data"
	for _, f := range []string{ctl, ack} {
		os.Remove(f)
		if err := unix.Mkfifo(f, 0o600); err != nil {
			return nil, fmt.Errorf("mkfifo %s: %w", f, err)
		}
	}
	cmd := exec.Command(perf, "record", "-a", "-g", "-q", "-D", "-1", "--control", "fifo:"+ctl+","+ack, "-o", data)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fail := func(err error) (func() error, error) {
		cmd.Process.Kill()
		<-exited
		return nil, fmt.Errorf("perf record: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	// perf holds ctl open read-write and opens ack for writing, which
	// waits for this reader.
	type opened struct {
		ack, ctl *os.File
		err      error
	}
	ch := make(chan opened, 1)
	go func() {
		a, err := os.OpenFile(ack, os.O_RDONLY, 0)
		if err != nil {
			ch <- opened{err: err}
			return
		}
		c, err := os.OpenFile(ctl, os.O_WRONLY, 0)
		ch <- opened{ack: a, ctl: c, err: err}
	}()
	var o opened
	select {
	case o = <-ch:
	case err := <-exited:
		return nil, fmt.Errorf("perf record exited at start: %v: %s", err, strings.TrimSpace(stderr.String()))
	case <-time.After(startTimeout):
		return fail(fmt.Errorf("control fifos not opened after %v", startTimeout))
	}
	if o.err != nil {
		return fail(o.err)
	}
	command := func(c string) error {
		if _, err := io.WriteString(o.ctl, c+"\n"); err != nil {
			return err
		}
		buf := make([]byte, 16)
		n, err := o.ack.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), "ack") {
			return fmt.Errorf("perf %s: no ack (%q, %v)", c, buf[:n], err)
		}
		return nil
	}
	if err := command("enable"); err != nil {
		o.ctl.Close()
		o.ack.Close()
		return fail(err)
	}
	return func() error {
		err := command("disable")
		o.ctl.Close()
		o.ack.Close()
		cmd.Process.Signal(syscall.SIGINT)
		<-exited
		os.Remove(ctl)
		os.Remove(ack)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, rerr := exec.CommandContext(ctx, perf, "report", "-i", data, "--stdio", "--no-children",
			"--sort", "comm,sym", "--percent-limit", "1", "-g", "graph,0.5,callee,function,percent", "--max-stack", "8").Output()
		os.WriteFile(base+".txt", out, 0o644)
		if rerr != nil {
			return fmt.Errorf("perf report: %w", rerr)
		}
		p.PerfTop = parsePerfReport(string(out))
		return nil
	}, nil
}

// parsePerfReport reads perf report --stdio --sort comm,sym lines such as
// "    12.34%  kworker/u4:1  [k] memcpy_orig".
func parsePerfReport(s string) []PerfSymbol {
	var out []PerfSymbol
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasSuffix(f[0], "%") || !strings.HasPrefix(f[2], "[") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		out = append(out, PerfSymbol{Percent: pct, Comm: f[1], Symbol: f[2] + " " + strings.Join(f[3:], " ")})
	}
	return out
}
