// Command gadgetd makes a USB gadget from one YAML file, serves its
// FunctionFS functions and leaves nothing behind when it stops.
//
//	gadgetd run -c FILE       set up, serve, tear down on SIGINT/SIGTERM
//	                          (--user U:G: serve the endpoints as U:G)
//	gadgetd validate -c FILE  check a file without touching the kernel
//	gadgetd up -c FILE        configfs tree and functionfs mounts only
//	gadgetd down -c FILE      unbind, unmount, remove the tree
//	gadgetd udc               list the UDCs and what is bound to them
//	gadgetd status            ask a running gadgetd for its counters
//
// Exit status: 0 success, 1 failure (a bad file prints one line naming
// FILE:LINE and the field), 2 usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/gadget"
)

// usageError marks errors that exit with status 2.
type usageError struct{ error }

func main() {
	cmd := newRoot(os.Stdout, os.Stderr)
	err := cmd.Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "gadgetd:", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}

type flags struct {
	file      string
	logFormat string
	logLevel  string
	socket    string
	user      string
	json      bool
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var f flags
	root := &cobra.Command{
		Use:           "gadgetd",
		Short:         "Compose a USB gadget from one YAML file and serve its FunctionFS functions",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&f.logFormat, "log-format", "", "log format: text or json (default: the file's log.format, else text)")
	root.PersistentFlags().StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn, error (default: the file's log.level, else info)")
	fileFlag := func(c *cobra.Command) {
		c.Flags().StringVarP(&f.file, "config", "c", "", "gadget file (YAML), required")
	}

	run := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Set up the gadget, serve it, tear it down on SIGINT or SIGTERM",
		Long: `Set up the gadget, serve it, tear it down on SIGINT or SIGTERM.

With --user (or the file's user key) privileges are separated. This process
stays root: it replaces a stale tree, creates the configfs tree, mounts
functionfs owned by the user (directory 0500, files 0600 where the file
gives no mode), binds the UDC and later tears it all down. A worker process
running as the user, with no supplementary groups, no capabilities and
no_new_privs, writes the descriptors and serves the endpoints and the status
socket. If the worker fails, the gadget is torn down and run exits 1.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o := gadget.Options{StatusSocket: f.socket}
			if f.user != "" {
				u, err := gadget.ParseUser(f.user)
				if err != nil {
					return usageError{fmt.Errorf("--%w", err)}
				}
				o.User = &u
			}
			cfg, log, err := load(&f, stderr)
			if err != nil {
				return err
			}
			o.Logger = log
			if o.User == nil && cfg.User != "" {
				u, err := gadget.ParseUser(cfg.User)
				if err != nil {
					return fmt.Errorf("%s: %w", f.file, err)
				}
				o.User = &u
			}
			// The worker reads no file: it logs as the supervisor was told to.
			o.WorkerArgs = []string{"worker", "--log-format", f.logFormat, "--log-level", f.logLevel}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return gadget.Run(ctx, cfg, o)
		},
	}
	fileFlag(run)
	run.Flags().StringVar(&f.socket, "status-socket", "", "unix socket for `gadgetd status` (default: the file's status_socket)")
	run.Flags().StringVar(&f.user, "user", "", "serve the endpoints as `USER[:GROUP]` (names or numbers) in a worker process; "+
		"configfs, the mounts and the UDC stay with root (default: the file's user)")

	worker := &cobra.Command{
		Use:    "worker",
		Short:  "The unprivileged half of run --user; started by run, not by hand",
		Hidden: true,
		Args:   noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if !gadget.IsWorker() {
				return usageError{errors.New("worker: started by gadgetd run --user, not by hand")}
			}
			log, err := newLogger(stderr, f.logFormat, f.logLevel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return gadget.RunWorker(ctx, log)
		},
	}

	validate := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check a gadget file without touching the kernel",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, _, err := load(&f, stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: ok (gadget %s, %d functions, %d configurations)\n",
				f.file, cfg.Gadget.Name, len(cfg.Functions), len(cfg.Configurations))
			return nil
		},
	}
	fileFlag(validate)

	up := &cobra.Command{
		Use:   "up -c FILE",
		Short: "Create the configfs tree and mount functionfs (bind too if no function is FunctionFS)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, log, err := load(&f, stderr)
			if err != nil {
				return err
			}
			udc, err := gadget.Up(cfg, gadget.Options{Logger: log})
			if err != nil {
				return err
			}
			if udc != "" {
				fmt.Fprintf(stdout, "%s: bound to %s\n", cfg.Gadget.Name, udc)
			} else {
				fmt.Fprintf(stdout, "%s: created; bind it once the FunctionFS functions have written their descriptors\n", cfg.Gadget.Name)
			}
			return nil
		},
	}
	fileFlag(up)

	down := &cobra.Command{
		Use:   "down -c FILE",
		Short: "Unbind, unmount functionfs and remove the configfs tree",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, log, err := load(&f, stderr)
			if err != nil {
				return err
			}
			return gadget.Down(cfg, gadget.Options{Logger: log})
		},
	}
	fileFlag(down)

	udc := &cobra.Command{
		Use:   "udc",
		Short: "List the USB device controllers, their state and the gadget bound to each",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			udcs, err := (&configfs.Root{}).UDCs()
			if err != nil {
				return err
			}
			if f.json {
				return json.NewEncoder(stdout).Encode(udcs)
			}
			tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "UDC\tSTATE\tGADGET")
			for _, u := range udcs {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.State, orDash(u.Gadget))
			}
			return tw.Flush()
		},
	}
	udc.Flags().BoolVar(&f.json, "json", false, "print JSON")

	status := &cobra.Command{
		Use:   "status (--socket PATH | -c FILE)",
		Short: "Print a running gadgetd's per-function and per-endpoint counters",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path := f.socket
			if path == "" {
				if f.file == "" {
					return usageError{errors.New("status: give --socket PATH or -c FILE")}
				}
				cfg, _, err := load(&f, stderr)
				if err != nil {
					return err
				}
				if path = cfg.StatusSocket; path == "" {
					return fmt.Errorf("%s: no status_socket", f.file)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			st, err := gadget.QueryStatus(ctx, path)
			if err != nil {
				return err
			}
			if f.json {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(stdout, st)
			return nil
		},
	}
	status.Flags().StringVar(&f.socket, "socket", "", "the daemon's status socket")
	status.Flags().StringVarP(&f.file, "config", "c", "", "gadget file naming the status socket")
	status.Flags().BoolVar(&f.json, "json", false, "print JSON")

	root.AddCommand(run, worker, validate, up, down, udc, status)
	return root
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", c.Name(), args[0])}
	}
	return nil
}

// load parses and checks the gadget file and makes the logger it asks for
// (flags win over the file).
func load(f *flags, stderr io.Writer) (*config.Config, *slog.Logger, error) {
	if f.file == "" {
		return nil, nil, usageError{errors.New("-c FILE is required")}
	}
	cfg, err := config.ParseFile(f.file)
	if err != nil {
		return nil, nil, err
	}
	if err := gadget.Check(cfg); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.file, err)
	}
	format, level := cfg.Log.Format, cfg.Log.Level
	if f.logFormat != "" {
		format = f.logFormat
	}
	if f.logLevel != "" {
		level = f.logLevel
	}
	log, err := newLogger(stderr, format, level)
	f.logFormat, f.logLevel = format, level
	return cfg, log, err
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if level == "" {
		level = "info"
	}
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", format)}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printStatus(w io.Writer, st *gadget.Status) {
	fmt.Fprintf(w, "gadget %s on %s (%s), up %s\n", st.Gadget, st.UDC, orDash(st.UDCState), time.Since(st.Started).Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, fn := range st.Functions {
		fmt.Fprintf(tw, "function %s\t%s\t%s\tevents: %s\n", fn.Name, fn.Personality, fn.State, counts(fn.Events))
		fmt.Fprintln(tw, "  EP\tADDRESS\tIN FLIGHT\tBYTES\tCOMPLETIONS\tCANCELLED\tERRORS\tLAST ERROR")
		for _, ep := range fn.Endpoints {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", ep.Name, ep.Address, ep.InFlight, ep.Bytes,
				ep.Completions, ep.Cancellations, counts(ep.Errors), orDash(ep.LastError))
		}
	}
	tw.Flush()
}

// counts prints a counter map as "a=1 b=2", sorted, or "-".
func counts(m map[string]uint64) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s = append(s, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return orDash(strings.Join(s, " "))
}
