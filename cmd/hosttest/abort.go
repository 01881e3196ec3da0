//go:build cgo

package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/host"
)

func newAbort(g *globals) *cobra.Command {
	var (
		pf            pipeFlags
		function      string
		pattern       string
		scenarios     []string
		cancelAfter   time.Duration
		disconnectCmd string
		connectCmd    string
		asJSON        bool
		rf            reportFlags
	)
	c := &cobra.Command{
		Use:   "abort",
		Short: "Provoke aborted transfers and check that the pipe still carries correct data",
		Long: `abort runs scenarios one after another: cancel-read and cancel-write
(a context deadline of --cancel-after on a transfer in flight), halt-in and
halt-out (SET_FEATURE(ENDPOINT_HALT), the transfer stalls, CLEAR_FEATURE),
set-interface, reset (port reset, re-claim), gadget-cancel (needs gadgetd;
skipped) and disconnect (--disconnect-cmd takes the gadget off the bus while a
read is in flight, --connect-cmd brings it back; skipped without them).
After each, the pipe must pass a data check for --function: loopback (round
trips) or sourcesink (IN pattern, OUT pattern the gadget checks). Exit
status 1 when any scenario fails.

--report runs the whole abort matrix against gadgetd's abort personality
(--function abort): the gadget cancels its queued IN and OUT requests at each
of --depths and --sizes on the host's vendor request, then host cancels of a
read and a write, halt and clear-halt of each endpoint, SET_INTERFACE, port
reset and (with the hooks) disconnect. After each, the gadget's records are
fetched over USB and checked against the expected Linux 6.1 behaviour
(io_cancel EINPROGRESS then -ECONNRESET; -ESHUTDOWN when endpoints are
disabled; a cancel that loses the race says EINVAL; the reverted stable
patch's 0 + -EINTR is named), and the data is checked after recovery. The
table shows scenario, expected, observed, cancel-to-completion latency
p50/p99, integrity and verdict. --expect-override SCENARIO:FIELD=VALUE
(test only) sets a deliberately wrong expectation to prove a scenario goes
red.

--probe runs the part of the matrix that answers, for the running kernel
and UDC: what io_cancel returns, what cancelled and disabled requests
complete with, whether a cancelled request keeps the bytes it had, what
io_event.res2 holds (res on 5.10, 0 from 6.1), and what
FUNCTIONFS_DMABUF_ATTACH with fd -1 answers on the gadget (ENOTTY: no
FunctionFS DMA-BUF; EPERM: the UDC does not do scatter-gather; EBADF:
supported).`,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := pf.check(); err != nil {
				return err
			}
			for _, s := range scenarios {
				if !slices.Contains(host.AbortScenarios, s) {
					return usagef("--scenarios: unknown %q (want some of %v)", s, host.AbortScenarios)
				}
			}
			if cancelAfter <= 0 {
				return usagef("--cancel-after %v: must be positive", cancelAfter)
			}
			if (disconnectCmd == "") != (connectCmd == "") {
				return usagef("--disconnect-cmd and --connect-cmd go together")
			}
			sizes, overrides, err := rf.check(scenarios, function)
			if err != nil {
				return err
			}
			if rf.report || rf.probe {
				ro := host.ReportOptions{Interface: pf.iface, Depths: rf.depths, Sizes: sizes, Overrides: overrides}
				if disconnectCmd != "" {
					ro.Disconnect, ro.Connect = shell(disconnectCmd), shell(connectCmd)
				}
				ctx, done, d, err := g.open(c)
				if err != nil {
					return err
				}
				defer done()
				return runReport(ctx, c.OutOrStdout(), d, ro, rf.probe, asJSON)
			}
			var pat host.Pattern
			if pattern != "" {
				if pat, err = host.ParsePattern(pattern); err != nil {
					return usagef("--pattern: %v", err)
				}
			}
			o := host.AbortOptions{Interface: pf.iface, Alt: pf.alt, Scenarios: scenarios, CancelAfter: cancelAfter}
			switch function {
			case "loopback":
				if pattern == "" {
					pat = host.Pattern{Kind: host.PatternRandom, Seed: 1}
				}
				o.Checker = &host.LoopbackChecker{Pattern: pat}
			case "abort":
				return usagef("--function abort goes with --report")
			case "sourcesink":
				if pattern == "" {
					return usagef("--function sourcesink needs --pattern: zero for pattern=0, mod63/512 for pattern=1 at high speed")
				}
				o.Checker = &host.SourceSinkChecker{Pattern: pat}
			default:
				return usagef("--function %q: want loopback or sourcesink", function)
			}
			if disconnectCmd != "" {
				o.Disconnect = shell(disconnectCmd)
				o.Connect = shell(connectCmd)
			}
			ctx, done, d, err := g.open(c)
			if err != nil {
				return err
			}
			defer done()
			results, err := host.Abort(ctx, d, o)
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(results); jerr != nil {
					return jerr
				}
			} else {
				for _, r := range results {
					switch {
					case r.Skipped != "":
						fmt.Fprintf(out, "skip %-13s %s\n", r.Scenario, r.Skipped)
					case r.OK():
						fmt.Fprintf(out, "ok   %-13s %s\n", r.Scenario, r.Provoked)
					default:
						fmt.Fprintf(out, "FAIL %-13s %s: %s\n", r.Scenario, r.Provoked, r.Error)
					}
				}
			}
			if err != nil {
				return err
			}
			failed := 0
			for _, r := range results {
				if !r.OK() {
					failed++
				}
			}
			if failed > 0 {
				return checkError{fmt.Errorf("%d of %d abort scenarios failed", failed, len(results))}
			}
			return nil
		},
	}
	pf.add(c)
	f := c.Flags()
	f.StringVar(&function, "function", "loopback", "what the gadget runs: loopback, sourcesink, or abort (gadgetd's, with --report)")
	f.StringVar(&pattern, "pattern", "", "data pattern (default random for loopback; sourcesink needs zero or mod63/512)")
	f.StringSliceVar(&scenarios, "scenarios", nil, fmt.Sprintf("scenarios to run, in order (default all: %v)", host.AbortScenarios))
	f.DurationVar(&cancelAfter, "cancel-after", 50*time.Millisecond, "deadline of a transfer the cancel scenarios abort")
	f.StringVar(&disconnectCmd, "disconnect-cmd", "", `shell command taking the gadget off the bus, e.g. 'echo > /sys/kernel/config/usb_gadget/g/UDC'`)
	f.StringVar(&connectCmd, "connect-cmd", "", "shell command bringing it back")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	f.BoolVar(&rf.report, "report", false, "run the abort matrix against gadgetd's abort personality and print the report")
	f.BoolVar(&rf.probe, "probe", false, "ask the kernel and UDC how aborts behave, through gadgetd's abort personality (a part of --report)")
	f.IntSliceVar(&rf.depths, "depths", []int{1, 4, 16}, "--report: queue depths of the gadget-cancel scenarios")
	f.StringVar(&rf.sizes, "sizes", "4K,64K", "--report: request sizes of the gadget-cancel scenarios (multiples of 512)")
	f.StringArrayVar(&rf.overrides, "expect-override", nil, "--report, test only: SCENARIO:FIELD=VALUE replaces an expectation (FIELD io_cancel, meaning or records; SCENARIO a name or all)")
	return c
}

func shell(cmd string) func() error {
	return func() error {
		out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%q: %w: %s", cmd, err, out)
		}
		return nil
	}
}
