package gadget

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/configfs"
)

// envWorker marks the process Run starts as its worker (see IsWorker).
const envWorker = "GADGETKIT_WORKER"

// The worker's inherited files, after stdin, stdout and stderr.
const (
	fdHandoff = 3 // read: the handoff, JSON, then EOF
	fdReport  = 4 // write: "ready", then possibly "error TEXT" before exiting
	fdStatus  = 5 // the status socket's listener, when there is one
)

// stopTimeout is how long the supervisor waits for the worker to stop
// after SIGTERM before it kills it: teardown takes well under a second.
const stopTimeout = 10 * time.Second

// handoff is what the supervisor tells its worker.
type handoff struct {
	Config  *config.Config
	Dir     string // configfs.Root
	UDCDir  string
	UDC     string // the controller the gadget will be bound to
	Status  bool   // a listener is passed on fdStatus
	Started time.Time
}

// IsWorker reports whether this process was started by Run as the worker
// of a privilege-separated gadget: a program that passes Options.User to
// Run must then call RunWorker instead of doing its usual work.
func IsWorker() bool { return os.Getenv(envWorker) == "1" }

// RunWorker is the worker of a privilege-separated gadget (Options.User):
// it opens ep0 of every FunctionFS function the supervisor mounted, writes
// the descriptors, serves the personalities and the status socket, tells
// the supervisor it is ready to be bound, and serves until ctx is done or
// ep0 fails. It runs as the unprivileged user, with no supplementary
// groups, no capabilities and no_new_privs set.
func RunWorker(ctx context.Context, log *slog.Logger) error {
	if !IsWorker() {
		return errors.New("worker: not started by a privilege-separated gadgetd run")
	}
	report := os.NewFile(fdReport, "report")
	defer report.Close()
	err := runWorker(ctx, log, report)
	if err != nil {
		// The supervisor names the cause when it reports the exit.
		fmt.Fprintf(report, "error %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return err
}

func runWorker(ctx context.Context, log *slog.Logger, report io.Writer) error {
	in := os.NewFile(fdHandoff, "handoff")
	var h handoff
	err := json.NewDecoder(in).Decode(&h)
	in.Close()
	if err == nil && h.Config == nil {
		err = errors.New("no gadget file")
	}
	if err != nil {
		return fmt.Errorf("worker: reading the supervisor's handoff: %w", err)
	}
	var ln net.Listener
	if h.Status {
		f := os.NewFile(fdStatus, "status")
		ln, err = net.FileListener(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("worker: status socket: %w", err)
		}
	}
	log = log.With("gadget", h.Config.Gadget.Name, "worker", os.Getpid())
	s := newServer(h.Config, &configfs.Root{Dir: h.Dir, UDCDir: h.UDCDir}, log)
	s.started = h.Started
	if err := s.open(); err != nil {
		if ln != nil {
			ln.Close()
		}
		return errors.Join(err, s.close())
	}
	s.serve(h.UDC, ln)
	if _, err := io.WriteString(report, "ready\n"); err != nil {
		return errors.Join(fmt.Errorf("worker: telling the supervisor: %w", err), s.close())
	}
	var ferr error
	select {
	case <-ctx.Done():
	case ferr = <-s.fatal:
		log.Error("stopping", "err", ferr)
	}
	return errors.Join(ferr, s.close())
}

// runSeparated is Run with privileges separated: this process makes the
// configfs tree and the functionfs mounts (owned by o.User), starts the
// worker as o.User, binds the UDC once the worker has written the
// descriptors, and tears everything down after the worker has stopped.
func runSeparated(ctx context.Context, c *config.Config, o Options) error {
	if err := Check(c); err != nil {
		return err
	}
	if err := o.User.check(); err != nil {
		return err
	}
	log := o.logger().With("gadget", c.Gadget.Name)
	var ln *net.UnixListener
	if path := o.statusSocket(c); path != "" {
		l, err := listenStatus(path)
		if err != nil {
			return err
		}
		ln = l.(*net.UnixListener)
		// The worker serves the socket; this process removes it at the end.
		ln.SetUnlinkOnClose(false)
		defer os.Remove(path)
		defer ln.Close()
	}
	if err := prepareRecords(c, *o.User); err != nil {
		return err
	}
	s, err := makeSetup(c, o.root(), log, o.User)
	if err != nil {
		return err
	}
	var stopping time.Time
	err = supervise(ctx, s, ln, o, log, &stopping)
	if cerr := s.close(); cerr != nil {
		return errors.Join(err, cerr)
	}
	if err == nil {
		log.Info("gadget removed", "teardown", time.Since(stopping))
	}
	return err
}

// supervise runs the worker of setup s until ctx is done or the worker
// exits, and returns once it has stopped; stopping is when it was asked to.
func supervise(ctx context.Context, s *setup, ln *net.UnixListener, o Options, log *slog.Logger, stopping *time.Time) error {
	udc, err := s.root.PickUDC(s.cfg.UDC)
	if err != nil {
		return err
	}
	h := handoff{Config: s.cfg, Dir: s.root.Dir, UDCDir: s.root.UDCDir, UDC: udc, Status: ln != nil, Started: time.Now()}
	w, err := startWorker(h, ln, o)
	if err != nil {
		return err
	}
	select {
	case msg, ok := <-w.msgs:
		if !ok || msg != "ready" {
			return w.exit(<-w.exited, msg)
		}
	case err := <-w.exited:
		return w.exit(err, "")
	case <-ctx.Done():
		*stopping = time.Now()
		return w.stop()
	}
	if err := s.root.Bind(s.cfg.Gadget.Name, udc); err != nil {
		return errors.Join(err, w.stop())
	}
	log.Info("gadget ready", "udc", udc, "functions", joinNames(s.cfg.Functions),
		"worker", w.cmd.Process.Pid, "user", o.User.String())
	select {
	case <-ctx.Done():
		*stopping = time.Now()
		return w.stop()
	case err := <-w.exited:
		*stopping = time.Now()
		if err == nil {
			// Only a SIGTERM or SIGINT of its own ends the worker with 0
			// (an init system signalling every process, or an operator).
			log.Warn("the worker was stopped; tearing down", "worker", w.cmd.Process.Pid)
			return nil
		}
		log.Error("the worker ended; tearing down", "worker", w.cmd.Process.Pid)
		return w.exit(err, "")
	}
}

// worker is the running worker process, seen from the supervisor.
type worker struct {
	cmd    *exec.Cmd
	msgs   chan string // lines of its report, closed when it exits
	exited chan error  // cmd.Wait's result
}

// startWorker starts this executable again as the worker, running as
// o.User, and hands it h.
func startWorker(h handoff, ln *net.UnixListener, o Options) (*worker, error) {
	exe := exec.Command("/proc/self/exe", o.WorkerArgs...)
	exe.Args[0] = os.Args[0]
	exe.Env = append(os.Environ(), envWorker+"=1")
	exe.Stdout, exe.Stderr = os.Stdout, os.Stderr
	exe.SysProcAttr = &syscall.SysProcAttr{
		// No supplementary groups: Groups is empty, not nil.
		Credential: &syscall.Credential{Uid: o.User.UID, Gid: o.User.GID, Groups: []uint32{}},
		// A supervisor that dies without stopping the worker (SIGKILL)
		// still stops it; the worker's own teardown runs.
		Pdeathsig: syscall.SIGTERM,
		// Its own process group: a terminal's ^C reaches the supervisor
		// only, which stops the worker in order.
		Setpgid: true,
	}
	handR, handW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	defer handR.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		handW.Close()
		return nil, fmt.Errorf("worker: %w", err)
	}
	defer repW.Close()
	exe.ExtraFiles = []*os.File{handR, repW}
	if ln != nil {
		f, err := ln.File()
		if err != nil {
			handW.Close()
			repR.Close()
			return nil, fmt.Errorf("worker: status socket: %w", err)
		}
		defer f.Close()
		exe.ExtraFiles = append(exe.ExtraFiles, f)
	}
	w := &worker{cmd: exe, msgs: make(chan string, 4), exited: make(chan error, 1)}
	started := make(chan error)
	go func() {
		// Both attributes below belong to this thread: Pdeathsig fires
		// when the thread that started the child ends, and no_new_privs
		// set here is inherited by the child and kept across its exec,
		// for every thread of the worker. The thread stays locked (and so
		// ends with this goroutine) until the worker has exited.
		runtime.LockOSThread()
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			started <- fmt.Errorf("worker: prctl(PR_SET_NO_NEW_PRIVS): %w", err)
			return
		}
		if err := exe.Start(); err != nil {
			started <- fmt.Errorf("worker: %w", err)
			return
		}
		started <- nil
		w.exited <- exe.Wait()
	}()
	if err := <-started; err != nil {
		handW.Close()
		repR.Close()
		return nil, err
	}
	go func() {
		defer repR.Close()
		defer close(w.msgs)
		sc := bufio.NewScanner(repR)
		for sc.Scan() {
			w.msgs <- sc.Text()
		}
	}()
	err = json.NewEncoder(handW).Encode(h)
	handW.Close()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("worker: handoff: %w", err), w.stop())
	}
	return w, nil
}

// stop asks the worker to stop with SIGTERM and waits for it; it is killed
// if it takes longer than stopTimeout.
func (w *worker) stop() error {
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("worker: %w", err)
	}
	select {
	case err := <-w.exited:
		// A worker signalled before it set up its handler dies of the
		// SIGTERM: stopped as asked all the same.
		var ee *exec.ExitError
		if err == nil || errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM {
			return nil
		}
		return w.exit(err, "")
	case <-time.After(stopTimeout):
		w.cmd.Process.Kill()
		<-w.exited
		return fmt.Errorf("worker (pid %d) did not stop within %v of SIGTERM: killed", w.cmd.Process.Pid, stopTimeout)
	}
}

// exit describes the worker's failure: its wait status and the last error
// it reported. msg is a report line already read.
func (w *worker) exit(waitErr error, msg string) error {
	for m := range w.msgs {
		msg = m
	}
	why := "exited before it was ready"
	if waitErr != nil {
		why = waitErr.Error()
	}
	err := fmt.Errorf("worker (pid %d): %s", w.cmd.Process.Pid, why)
	if text, ok := strings.CutPrefix(msg, "error "); ok {
		err = fmt.Errorf("%w: %s", err, printable(text))
	}
	return err
}

// maxReport bounds the worker's words in the supervisor's error.
const maxReport = 1024

// printable keeps the worker's report from writing control sequences to
// the supervisor's log or terminal: the worker faces the host, and the
// supervisor trusts nothing it says.
func printable(s string) string {
	if len(s) > maxReport {
		s = s[:maxReport] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}

// prepareRecords makes each abort records file (and its directory) before
// the worker starts, and gives the file to u: the worker writes it at exit
// as u, which may not create files where root put it (/run/gadgetd).
func prepareRecords(c *config.Config, u User) error {
	for _, f := range c.Functions {
		if f.FunctionFS == nil || f.FunctionFS.Personality.Abort == nil || f.FunctionFS.Personality.Abort.Records == "" {
			continue
		}
		path := f.FunctionFS.Personality.Abort.Records
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		var file *os.File
		if err == nil {
			file, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
		}
		if err == nil {
			err = file.Chown(int(u.UID), int(u.GID))
			if cerr := file.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("functions %s: personality.abort.records: the worker's file: %w", f.Name, err)
		}
	}
	return nil
}
