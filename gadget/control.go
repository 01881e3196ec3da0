package gadget

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/ffs"
)

// Gadget zero's vendor requests (drivers/usb/gadget/function/f_sourcesink.c):
// a control write into a test buffer and a control read back from it, both
// to the device with wValue and wIndex zero.
const (
	requestWriteBuffer = 0x5b
	requestReadBuffer  = 0x5c
	// ctrlBufSize is the composite framework's ep0 buffer
	// (USB_COMP_EP0_BUFSIZ), the longest data stage gadget zero accepts.
	ctrlBufSize = 4096
)

// control answers gadget zero's vendor requests; anything else is stalled.
func (fn *function) control(c *ffs.Control) error {
	fn.mu.Lock()
	fn.events["setup"]++
	fn.mu.Unlock()
	if c.Value != 0 || c.Index != 0 || int(c.Length) > len(fn.ctrl) {
		return fmt.Errorf("unsupported control request %v", c.Setup)
	}
	switch {
	case c.Request == requestWriteBuffer && c.RequestType == 0x40: // vendor, device, OUT
		if c.Length == 0 {
			return c.Ack()
		}
		_, err := c.Read(fn.ctrl[:c.Length])
		return err
	case c.Request == requestReadBuffer && c.RequestType == 0xc0: // vendor, device, IN
		return c.Write(fn.ctrl[:c.Length])
	}
	return fmt.Errorf("unsupported control request %v", c.Setup)
}

// controlError logs a control request that was stalled or failed, once
// per kind (the request's bmRequestType and bRequest, and how it failed)
// and interval: the host chooses how often and which.
func (fn *function) controlError(err error) {
	kind := "control"
	var ce *ffs.ControlError
	if errors.As(err, &ce) {
		kind = fmt.Sprintf("control 0x%02x 0x%02x %s", ce.Setup.RequestType, ce.Setup.Request, ce.Reason)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		kind += " " + unix.ErrnoName(errno)
	}
	troubles.note(fn.log, fn.cfg.Name+" "+kind, "control request", "err", err)
}

// transferError logs a transfer that failed on endpoint ep, once per kind
// of error and interval: a disconnect fails every request in flight.
func (fn *function) transferError(ep string, err error) {
	troubles.note(fn.log, fn.cfg.Name+" "+ep+" "+errorKind(err), "transfer", "ep", ep, "err", err)
}
