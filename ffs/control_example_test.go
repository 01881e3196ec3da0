package ffs_test

import (
	"errors"
	"fmt"

	"github.com/gadgetkit/gadgetkit/ffs"
)

// hostStage plays the host's side of a control request: it holds the OUT
// data the host sends and records what the handler answered.
type hostStage struct {
	out     []byte
	reply   []byte
	stalled bool
}

func (h *hostStage) Write(p []byte) (int, error) {
	h.reply = append([]byte(nil), p...)
	return len(p), nil
}

func (h *hostStage) Read(p []byte) (int, error) { return copy(p, h.out), nil }

func (h *hostStage) Stall() error {
	h.stalled = true
	return nil
}

// A handler given to Config.OnControl can be tested without a kernel:
// ServeControl runs it under the same rules as Function.Run, here with a
// stage that plays the host.
func ExampleServeControl() {
	version := []byte{1, 2}
	handler := func(c *ffs.Control) error {
		if c.Request != 0x01 {
			return errors.New("unsupported")
		}
		return c.Write(version[:min(int(c.Length), len(version))])
	}

	get := &hostStage{}
	err := ffs.ServeControl(ffs.Setup{RequestType: 0xc0, Request: 0x01, Length: 64}, get, handler)
	fmt.Printf("version request: reply % x, stalled %v, err %v\n", get.reply, get.stalled, err)

	// The wrong direction: the handler's Write does not fit an OUT
	// request, so nothing is sent and the request is stalled.
	wrong := &hostStage{out: make([]byte, 2)}
	err = ffs.ServeControl(ffs.Setup{RequestType: 0x40, Request: 0x01, Length: 2}, wrong, handler)
	fmt.Printf("OUT request: reply %v, stalled %v\nerr %v\n", wrong.reply, wrong.stalled, err)
	// Output:
	// version request: reply 01 02, stalled false, err <nil>
	// OUT request: reply [], stalled true
	// err ffs: control {bmRequestType 0x40 bRequest 0x01 wValue 0x0000 wIndex 0x0000 wLength 2}: stalled: ffs: control {bmRequestType 0x40 bRequest 0x01 wValue 0x0000 wIndex 0x0000 wLength 2}: Write to an OUT request
}
