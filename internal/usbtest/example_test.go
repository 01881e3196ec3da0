package usbtest_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/usbtest"
)

// Wait for usbtest to claim the gadget with a given serial number, run the
// gadget zero suite on it and print the table.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dev, err := usbtest.Wait(ctx, func(d usbtest.Device) bool { return d.Serial == "my-gadget" })
	if err != nil {
		fmt.Println(err)
		return
	}
	results, err := usbtest.RunSuite(ctx, dev, usbtest.SourceSinkSuite())
	usbtest.WriteTable(os.Stdout, results, false)
	if err != nil {
		fmt.Println(err)
	}
	for _, r := range results {
		if r.Status != usbtest.Passed {
			fmt.Printf("test %d: %s: %v\n", r.Params.Test, r.Status, r.Err)
		}
	}
}
