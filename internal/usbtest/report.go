package usbtest

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes one line per result: device node and interface, test,
// outcome, kernel seconds, bulk bytes and MB/s, and the test's name with its
// error if any. Unsupported results are left out unless all is set, as
// testusb does; a closing line counts them.
func WriteTable(w io.Writer, results []Result, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tIF\tTEST\tRESULT\tSECONDS\tBYTES\tMB/s\tWHAT")
	hidden := 0
	for _, r := range results {
		if r.Status == Unsupported && !all {
			hidden++
			continue
		}
		secs, bytes, rate := "-", "-", "-"
		if r.Status == Passed {
			secs = fmt.Sprintf("%.6f", r.Duration.Seconds())
		}
		if r.Bytes > 0 {
			bytes = fmt.Sprint(r.Bytes)
			if mb := r.MBps(); mb > 0 {
				rate = fmt.Sprintf("%.1f", mb)
			}
		}
		what := ""
		if r.Params.Test >= 0 && r.Params.Test < NumTests {
			what = Tests[r.Params.Test].Name
		}
		if r.Err != nil {
			what += ": " + r.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Device.Path, r.Device.Ifnum, r.Params.Test, r.Status, secs, bytes, rate, what)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hidden > 0 {
		_, err := fmt.Fprintf(w, "%d unsupported test runs not shown (EOPNOTSUPP: the interface lacks what they need)\n", hidden)
		return err
	}
	return nil
}
