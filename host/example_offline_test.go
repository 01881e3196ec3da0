//go:build cgo

package host_test

import (
	"encoding/json"
	"fmt"
	"log"

	"github.com/gadgetkit/gadgetkit/host"
)

// Compare two snapshots, as `hosttest verify --expect` does with one that
// `hosttest dump` wrote: each field that differs is one Diff, named in USB
// terms, and fields the kernel chooses can be ignored.
func ExampleCompare() {
	var want, got host.Snapshot
	if err := json.Unmarshal([]byte(`{"Device":{"Vendor":7531,"Product":260,"Device":256,"NumConfigurations":1}}`), &want); err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"Device":{"Vendor":7531,"Product":261,"Device":1537,"NumConfigurations":1}}`), &got); err != nil {
		log.Fatal(err)
	}
	for _, d := range host.Compare(&want, &got, "device.bcdDevice") {
		fmt.Println(d)
	}
	// Output: device.idProduct: want 260 (0x104), got 261 (0x105)
}

// Patterns fill what the host sends and check what it reads: gadget zero's
// pattern 1 (byte i of each packet is i%63) from a stream offset, with a
// mismatch naming the first wrong byte.
func ExamplePattern() {
	p := host.Pattern{Kind: host.PatternMod63, Period: 512}
	buf := make([]byte, 70)
	p.Fill(buf, 0)
	fmt.Println(buf[60:66])
	buf[64] = 0
	fmt.Println(p.Check(buf, 0))
	// Output:
	// [60 61 62 0 1 2]
	// data mismatch at byte 64: want 0x01, got 0x00
}
