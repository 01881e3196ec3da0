// Package abortlog is the record of aborted transfers: one Record per
// request the gadget aborted (io_cancel) or that failed (disconnect,
// reset, halt), encoded as JSON lines; the table of what Linux 6.1 is
// expected to do for each way of aborting a transfer; the check of the
// records of one scenario against it; and the report table.
//
// The format is documented in docs/abort.md. It is pure Go with no kernel
// access, so the gadget (gadgetd's abort personality) and the host
// (hosttest abort --report) share it, and tests run anywhere.
package abortlog
