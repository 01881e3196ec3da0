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

	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/config"
)

// Options change where and how a gadget is made. The zero value uses the
// kernel's configfs and UDCs and slog's default logger.
type Options struct {
	Root   *configfs.Root
	Logger *slog.Logger
	// StatusSocket overrides the file's status_socket ("" keeps it).
	StatusSocket string
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

// Check finds what the kernel would refuse in a parsed gadget file without
// touching the kernel: the descriptors of every FunctionFS function, its
// personality, and the configfs tree.
func Check(c *config.Config) error {
	for i, f := range c.Functions {
		if f.FunctionFS == nil {
			continue
		}
		if _, _, err := Descriptors(f.FunctionFS); err != nil {
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

// Gadget is a gadget made from a file and served: its configfs tree, its
// functionfs mounts, one ffs.Function per FunctionFS function with its
// personality, and the status socket. Close takes it all down.
type Gadget struct {
	cfg     *config.Config
	root    *configfs.Root
	log     *slog.Logger
	started time.Time

	udc     string
	mounts  []mount
	funcs   []*function
	ln      net.Listener
	sockets string

	cancel  context.CancelFunc // stops the personalities
	serving sync.WaitGroup     // personalities and status server
	ep0     sync.WaitGroup     // ep0 readers
	fatal   chan error

	closeOnce sync.Once
	closeErr  error
}

type mount struct {
	dir     string
	created bool // the directory was made for the mount: remove it after
}

// Start makes the gadget described by c and serves it until Close. A tree
// left with the same name by a run that was killed is removed first (and
// logged). Any failure takes down what was made and names the step.
func Start(c *config.Config, o Options) (*Gadget, error) {
	if err := Check(c); err != nil {
		return nil, err
	}
	g := &Gadget{cfg: c, root: o.root(), log: o.logger().With("gadget", c.Gadget.Name), started: time.Now(),
		fatal: make(chan error, len(c.Functions)+1)}
	if err := removeStale(g.root, c, g.log); err != nil {
		return nil, err
	}
	if err := g.root.Create(Tree(c)); err != nil {
		return nil, err
	}
	if err := g.start(o); err != nil {
		return nil, errors.Join(err, g.Close())
	}
	g.log.Info("gadget ready", "udc", g.udc, "functions", joinNames(c.Functions))
	return g, nil
}

func (g *Gadget) start(o Options) error {
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	for _, f := range g.cfg.Functions {
		if f.FunctionFS == nil {
			continue
		}
		m := f.FunctionFS.Mount
		_, err := os.Stat(m.Dir)
		created := errors.Is(err, fs.ErrNotExist)
		if err := configfs.MountFunctionFS(f.Name, m.Dir, mountOptions(m)); err != nil {
			if created {
				os.Remove(m.Dir)
			}
			return err
		}
		g.mounts = append(g.mounts, mount{m.Dir, created})
		fn, err := openFunction(f, g.log)
		if err != nil {
			return fmt.Errorf("function %s: %w", f.Name, err)
		}
		g.funcs = append(g.funcs, fn)
		g.ep0.Go(func() {
			err := fn.f.Run(ctx)
			if err != nil && !errors.Is(err, ffs.ErrClosed) && ctx.Err() == nil {
				fn.log.Error("ep0 failed", "err", err)
				g.fatal <- fmt.Errorf("function %s: ep0: %w", f.Name, err)
			}
		})
	}
	udc, err := g.root.PickUDC(g.cfg.UDC)
	if err != nil {
		return err
	}
	if err := g.root.Bind(g.cfg.Gadget.Name, udc); err != nil {
		return err
	}
	g.udc = udc
	for _, fn := range g.funcs {
		g.serving.Go(func() { fn.run(ctx) })
	}
	path := o.StatusSocket
	if path == "" {
		path = g.cfg.StatusSocket
	}
	if path != "" {
		ln, err := listenStatus(path)
		if err != nil {
			return err
		}
		g.ln, g.sockets = ln, path
		g.serving.Go(func() { serveStatus(ln, g.Status) })
	}
	return nil
}

// Fatal delivers an error that ends the gadget's service (ep0 failed).
func (g *Gadget) Fatal() <-chan error { return g.fatal }

// UDC is the controller the gadget is bound to.
func (g *Gadget) UDC() string { return g.udc }

// Status reports the gadget's functions and endpoint counters.
func (g *Gadget) Status() Status {
	st := Status{Gadget: g.cfg.Gadget.Name, UDC: g.udc, Started: g.started, Functions: []FunctionStatus{}}
	if udcs, err := g.root.UDCs(); err == nil {
		for _, u := range udcs {
			if u.Name == g.udc {
				st.UDCState = u.State
			}
		}
	}
	for _, fn := range g.funcs {
		st.Functions = append(st.Functions, fn.status())
	}
	return st
}

// Close tears the gadget down in the order the kernel needs: stop the
// personalities (cancelling and reaping every request in flight), close
// the endpoint files and ep0, unbind the UDC, unmount functionfs, remove
// the configfs tree. It carries on past failures and reports them all.
func (g *Gadget) Close() error {
	g.closeOnce.Do(func() {
		var errs []error
		start, last := time.Now(), time.Now()
		step := func(what string) {
			g.log.Debug("teardown", "step", what, "took", time.Since(last))
			last = time.Now()
		}
		if g.cancel != nil {
			g.cancel()
		}
		if g.ln != nil {
			g.ln.Close()
		}
		g.serving.Wait()
		if g.sockets != "" {
			os.Remove(g.sockets)
		}
		step("personalities stopped, transfers reaped")
		for _, fn := range g.funcs {
			if err := fn.f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("function %s: close: %w", fn.cfg.Name, err))
			}
		}
		g.ep0.Wait()
		step("endpoint files and ep0 closed")
		name := g.cfg.Gadget.Name
		if err := g.root.Unbind(name); err != nil {
			// Closing the last file of a functionfs instance unbinds the
			// gadget too: only a gadget still bound is a failure.
			if udc, _ := g.root.BoundUDC(name); udc != "" {
				errs = append(errs, err)
			}
		}
		step("unbound")
		for i := len(g.mounts) - 1; i >= 0; i-- {
			m := g.mounts[i]
			if err := configfs.UnmountFunctionFS(m.dir); err != nil {
				errs = append(errs, err)
				continue
			}
			if m.created {
				os.Remove(m.dir)
			}
		}
		step("functionfs unmounted")
		if err := g.root.Remove(name); err != nil {
			errs = append(errs, err)
		}
		step("configfs tree removed")
		g.closeErr = errors.Join(errs...)
		if g.closeErr == nil {
			g.log.Info("gadget removed", "teardown", time.Since(start))
		}
	})
	return g.closeErr
}

// Run makes the gadget, serves it until ctx is done (or ep0 fails), then
// tears it down.
func Run(ctx context.Context, c *config.Config, o Options) error {
	g, err := Start(c, o)
	if err != nil {
		return err
	}
	var ferr error
	select {
	case <-ctx.Done():
	case ferr = <-g.fatal:
		g.log.Error("stopping", "err", ferr)
	}
	return errors.Join(ferr, g.Close())
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
	root, log := o.root(), o.logger().With("gadget", c.Gadget.Name)
	if err := removeStale(root, c, log); err != nil {
		return "", err
	}
	if err := root.Create(Tree(c)); err != nil {
		return "", err
	}
	undo := func(err error) (string, error) {
		return "", errors.Join(err, Down(c, o))
	}
	ffsCount := 0
	for _, f := range c.Functions {
		if f.FunctionFS == nil {
			continue
		}
		ffsCount++
		m := f.FunctionFS.Mount
		if err := configfs.MountFunctionFS(f.Name, m.Dir, mountOptions(m)); err != nil {
			return undo(err)
		}
	}
	if ffsCount > 0 {
		return "", nil
	}
	if udc, err = root.PickUDC(c.UDC); err != nil {
		return undo(err)
	}
	if err := root.Bind(c.Gadget.Name, udc); err != nil {
		return undo(err)
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
