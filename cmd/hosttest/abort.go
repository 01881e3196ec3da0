package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/gadgetkit/internal/host"
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
status 1 when any scenario fails.`,
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
			var pat host.Pattern
			var err error
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
	f.StringVar(&function, "function", "loopback", "what the gadget runs: loopback or sourcesink")
	f.StringVar(&pattern, "pattern", "", "data pattern (default random for loopback; sourcesink needs zero or mod63/512)")
	f.StringSliceVar(&scenarios, "scenarios", nil, fmt.Sprintf("scenarios to run, in order (default all: %v)", host.AbortScenarios))
	f.DurationVar(&cancelAfter, "cancel-after", 50*time.Millisecond, "deadline of a transfer the cancel scenarios abort")
	f.StringVar(&disconnectCmd, "disconnect-cmd", "", `shell command taking the gadget off the bus, e.g. 'echo > /sys/kernel/config/usb_gadget/g/UDC'`)
	f.StringVar(&connectCmd, "connect-cmd", "", "shell command bringing it back")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
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
