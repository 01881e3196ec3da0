package gadget

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/ffs"
)

// Options change where and how a gadget is made. The zero value uses the
// kernel's configfs and UDCs and slog's default logger.
type Options struct {
	Root   *configfs.Root
	Logger *slog.Logger
	// StatusSocket overrides the file's status_socket ("" keeps it).
	StatusSocket string
	// User, when set, makes Run separate privileges: this process stays
	// root to make, bind and remove the gadget, and a worker process
	// running as User serves the endpoints (see RunWorker). Start and Up
	// ignore it.
	User *User
	// WorkerArgs are the arguments the worker is started with: it is this
	// executable again (/proc/self/exe), which must call RunWorker when
	// IsWorker reports true (gadgetd: its hidden "worker" command).
	WorkerArgs []string
}

func (o Options) root() *configfs.Root {
	if o.Root == nil {
		return &configfs.Root{}
	}
	return o.Root
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

func (o Options) statusSocket(c *config.Config) string {
	if o.StatusSocket != "" {
		return o.StatusSocket
	}
	return c.StatusSocket
}

// Check finds what the kernel would refuse in a parsed gadget file without
// touching the kernel: the descriptors of every FunctionFS function, its
// personality, and the configfs tree.
func Check(c *config.Config) error {
	for i, f := range c.Functions {
		if f.FunctionFS == nil {
			continue
		}
		if _, _, err := f.FunctionFS.Descriptors(); err != nil {
			return fmt.Errorf("functions[%d] (%s): %w", i, f.Name, err)
		}
		p := f.FunctionFS.Personality
		switch {
		case p.Kind == config.PersonalityLoopback, p.Kind == config.PersonalitySourceSink:
		case p.Kind == config.PersonalityAbort && p.Abort != nil && p.Abort.Action == "cancel":
		case p.Kind == config.PersonalityAbort && p.Abort != nil:
			return fmt.Errorf("functions[%d] (%s): personality.abort.action: %q is not served by this gadgetd (cancel)", i, f.Name, p.Abort.Action)
		default:
			return fmt.Errorf("functions[%d] (%s): personality.kind: %q is not served by this gadgetd (loopback, sourcesink, abort)", i, f.Name, p.Kind)
		}
	}
	if err := Tree(c).Validate(); err != nil {
		return fmt.Errorf("gadget %q: %w", c.Gadget.Name, err)
	}
	return nil
}

// Gadget is a gadget made from a file and served in this process: its
// configfs tree and functionfs mounts (a setup), and its FunctionFS
// functions with their personalities and the status socket (a server).
// Close takes it all down.
type Gadget struct {
	*server
	setup *setup

	closeOnce sync.Once
	closeErr  error
}

// Start makes the gadget described by c and serves it until Close. A tree
// left with the same name by a run that was killed is removed first (and
// logged). Any failure takes down what was made and names the step.
func Start(c *config.Config, o Options) (*Gadget, error) {
	if err := Check(c); err != nil {
		return nil, err
	}
	log := o.logger().With("gadget", c.Gadget.Name)
	s, err := makeSetup(c, o.root(), log, nil)
	if err != nil {
		return nil, err
	}
	g := &Gadget{server: newServer(c, o.root(), log), setup: s}
	if err := g.start(o); err != nil {
		return nil, errors.Join(err, g.Close())
	}
	log.Info("gadget ready", "udc", g.server.udc, "functions", joinNames(c.Functions))
	return g, nil
}

func (g *Gadget) start(o Options) error {
	if err := g.server.open(); err != nil {
		return err
	}
	udc, err := g.setup.bind()
	if err != nil {
		return err
	}
	var ln net.Listener
	if path := o.statusSocket(g.server.cfg); path != "" {
		if ln, err = listenStatus(path); err != nil {
			return err
		}
	}
	g.server.serve(udc, ln)
	return nil
}

// Fatal delivers an error that ends the gadget's service (ep0 failed).
func (g *Gadget) Fatal() <-chan error { return g.server.fatal }

// UDC is the controller the gadget is bound to.
func (g *Gadget) UDC() string { return g.server.udc }

// Status reports the gadget's functions and endpoint counters.
func (g *Gadget) Status() Status { return g.server.status() }

// Close tears the gadget down in the order the kernel needs: stop the
// personalities (cancelling and reaping every request in flight), close
// the endpoint files and ep0, unbind the UDC, unmount functionfs, remove
// the configfs tree. It carries on past failures and reports them all.
func (g *Gadget) Close() error {
	g.closeOnce.Do(func() {
		start := time.Now()
		g.closeErr = errors.Join(g.server.close(), g.setup.close())
		if g.closeErr == nil {
			g.server.log.Info("gadget removed", "teardown", time.Since(start))
		}
	})
	return g.closeErr
}

// Run makes the gadget, serves it until ctx is done (or ep0 fails), then
// tears it down. With o.User set, the endpoints are served by a worker
// process running as that user (see Options.User).
func Run(ctx context.Context, c *config.Config, o Options) error {
	if o.User != nil {
		return runSeparated(ctx, c, o)
	}
	g, err := Start(c, o)
	if err != nil {
		return err
	}
	var ferr error
	select {
	case <-ctx.Done():
	case ferr = <-g.server.fatal:
		g.server.log.Error("stopping", "err", ferr)
	}
	return errors.Join(ferr, g.Close())
}

// setup is the part of a gadget that needs root: its configfs tree, its
// functionfs mounts and the UDC binding.
type setup struct {
	cfg    *config.Config
	root   *configfs.Root
	log    *slog.Logger
	mounts []mount
}

type mount struct {
	dir     string
	created bool // the directory was made for the mount: remove it after
}

// makeSetup removes what a killed run left, creates the configfs tree and
// mounts functionfs for every FunctionFS function, owned by user if it is
// not nil (see userMountOptions). On failure it takes down what it made.
func makeSetup(c *config.Config, root *configfs.Root, log *slog.Logger, user *User) (*setup, error) {
	if err := removeStale(root, c, log); err != nil {
		return nil, err
	}
	if err := root.Create(Tree(c)); err != nil {
		return nil, err
	}
	s := &setup{cfg: c, root: root, log: log}
	for _, f := range c.Functions {
		if f.FunctionFS == nil {
			continue
		}
		m := f.FunctionFS.Mount
		opts := mountOptions(m)
		if user != nil {
			var err error
			if opts, err = userMountOptions(opts, *user); err != nil {
				return nil, errors.Join(fmt.Errorf("function %s: mount: %w", f.Name, err), s.close())
			}
		}
		_, err := os.Stat(m.Dir)
		created := errors.Is(err, fs.ErrNotExist)
		if err := configfs.MountFunctionFS(f.Name, m.Dir, opts); err != nil {
			if created {
				os.Remove(m.Dir)
			}
			return nil, errors.Join(err, s.close())
		}
		s.mounts = append(s.mounts, mount{m.Dir, created})
	}
	return s, nil
}

// bind binds the gadget to the file's UDC (or the first free one). Every
// FunctionFS function must have written its descriptors first.
func (s *setup) bind() (string, error) {
	udc, err := s.root.PickUDC(s.cfg.UDC)
	if err != nil {
		return "", err
	}
	if err := s.root.Bind(s.cfg.Gadget.Name, udc); err != nil {
		return "", err
	}
	return udc, nil
}

// close unbinds the gadget, unmounts functionfs and removes the tree. The
// FunctionFS files must be closed first. It carries on past failures.
func (s *setup) close() error {
	var errs []error
	last := time.Now()
	step := func(what string) {
		s.log.Debug("teardown", "step", what, "took", time.Since(last))
		last = time.Now()
	}
	name := s.cfg.Gadget.Name
	if err := s.root.Unbind(name); err != nil {
		// Closing the last file of a functionfs instance unbinds the
		// gadget too: only a gadget still bound is a failure.
		if udc, _ := s.root.BoundUDC(name); udc != "" {
			errs = append(errs, err)
		}
	}
	step("unbound")
	for i := len(s.mounts) - 1; i >= 0; i-- {
		m := s.mounts[i]
		if err := configfs.UnmountFunctionFS(m.dir); err != nil {
			errs = append(errs, err)
			continue
		}
		if m.created {
			os.Remove(m.dir)
		}
	}
	step("functionfs unmounted")
	if err := s.root.Remove(name); err != nil {
		errs = append(errs, err)
	}
	step("configfs tree removed")
	return errors.Join(errs...)
}

// server is the part of a gadget that needs no privilege once functionfs
// is mounted: ep0 and the endpoint files of every FunctionFS function, the
// personalities and the status socket.
type server struct {
	cfg     *config.Config
	root    *configfs.Root // read only, for the UDC's state
	log     *slog.Logger
	started time.Time

	udc   string
	funcs []*function
	ln    net.Listener

	ctx     context.Context
	cancel  context.CancelFunc // stops the personalities
	serving sync.WaitGroup     // personalities and status server
	ep0     sync.WaitGroup     // ep0 readers
	fatal   chan error
}

func newServer(c *config.Config, root *configfs.Root, log *slog.Logger) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{cfg: c, root: root, log: log, started: time.Now(), ctx: ctx, cancel: cancel,
		fatal: make(chan error, len(c.Functions)+1)}
}

// open writes the descriptors of every FunctionFS function to its ep0 and
// starts reading its events, so that the gadget can be bound.
func (s *server) open() error {
	for _, f := range s.cfg.Functions {
		if f.FunctionFS == nil {
			continue
		}
		fn, err := openFunction(f, s.log)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.Name, err)
		}
		s.funcs = append(s.funcs, fn)
		s.ep0.Go(func() {
			err := fn.f.Run(s.ctx)
			if err != nil && !errors.Is(err, ffs.ErrClosed) && s.ctx.Err() == nil {
				fn.log.Error("ep0 failed", "err", err)
				s.fatal <- fmt.Errorf("function %s: ep0: %w", f.Name, err)
			}
		})
	}
	return nil
}

// serve starts the personalities and, if ln is not nil, answers status
// requests on it; udc is the controller the gadget is bound to.
func (s *server) serve(udc string, ln net.Listener) {
	s.udc = udc
	for _, fn := range s.funcs {
		s.serving.Go(func() { fn.run(s.ctx) })
	}
	if ln != nil {
		s.ln = ln
		s.serving.Go(func() { serveStatus(ln, s.status) })
	}
}

func (s *server) status() Status {
	st := Status{Gadget: s.cfg.Gadget.Name, UDC: s.udc, Started: s.started, Functions: []FunctionStatus{}}
	if udcs, err := s.root.UDCs(); err == nil {
		for _, u := range udcs {
			if u.Name == s.udc {
				st.UDCState = u.State
			}
		}
	}
	for _, fn := range s.funcs {
		st.Functions = append(st.Functions, fn.status())
	}
	return st
}

// close stops the personalities (cancelling and reaping every request in
// flight), the status server, and closes the endpoint files and ep0.
func (s *server) close() error {
	var errs []error
	last := time.Now()
	step := func(what string) {
		s.log.Debug("teardown", "step", what, "took", time.Since(last))
		last = time.Now()
	}
	s.cancel()
	if s.ln != nil {
		// A listener made by net.Listen removes its socket file.
		s.ln.Close()
	}
	s.serving.Wait()
	step("personalities stopped, transfers reaped")
	for _, fn := range s.funcs {
		if err := fn.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("function %s: close: %w", fn.cfg.Name, err))
		}
	}
	s.ep0.Wait()
	step("endpoint files and ep0 closed")
	return errors.Join(errs...)
}

// removeStale takes away what a killed run of the same file left: its
// functionfs mounts and its configfs tree.
func removeStale(root *configfs.Root, c *config.Config, log *slog.Logger) error {
	mounts, err := configfs.FunctionFSMounts()
	if err != nil {
		return err
	}
	for _, f := range c.Functions {
		if f.FunctionFS == nil {
			continue
		}
		for _, m := range mounts {
			if m.Instance == f.Name && m.Dir == f.FunctionFS.Mount.Dir {
				log.Warn("unmounting a stale functionfs mount (left by a killed run?)", "instance", m.Instance, "dir", m.Dir)
				if err := configfs.UnmountFunctionFS(m.Dir); err != nil {
					return err
				}
			}
		}
	}
	exists, err := root.Exists(c.Gadget.Name)
	if err != nil || !exists {
		return err
	}
	log.Warn("replacing a stale gadget tree (left by a killed run?)", "path", root.Path(c.Gadget.Name))
	return root.Remove(c.Gadget.Name)
}

// Up makes the configfs tree and mounts functionfs, for an init system that
// starts the FunctionFS programs itself. A gadget with no FunctionFS
// function is bound at once; otherwise binding waits for those programs to
// write their descriptors.
func Up(c *config.Config, o Options) (udc string, err error) {
	if err := Check(c); err != nil {
		return "", err
	}
	s, err := makeSetup(c, o.root(), o.logger().With("gadget", c.Gadget.Name), nil)
	if err != nil {
		return "", err
	}
	if len(s.mounts) > 0 {
		return "", nil
	}
	if udc, err = s.bind(); err != nil {
		return "", errors.Join(err, Down(c, o))
	}
	return udc, nil
}

// Down undoes Up (or a killed Run): unbind, unmount functionfs, remove the
// tree. What is already gone is not an error.
func Down(c *config.Config, o Options) error {
	root := o.root()
	var errs []error
	exists, err := root.Exists(c.Gadget.Name)
	if err != nil {
		return err
	}
	if exists {
		errs = append(errs, root.Unbind(c.Gadget.Name))
	}
	mounts, err := configfs.FunctionFSMounts()
	errs = append(errs, err)
	for _, f := range c.Functions {
		if f.FunctionFS == nil {
			continue
		}
		for _, m := range mounts {
			if m.Instance == f.Name && m.Dir == f.FunctionFS.Mount.Dir {
				errs = append(errs, configfs.UnmountFunctionFS(m.Dir))
			}
		}
	}
	if exists {
		errs = append(errs, root.Remove(c.Gadget.Name))
	}
	return errors.Join(errs...)
}
