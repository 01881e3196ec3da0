//go:build cgo

package main

import (
	"io"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/host"
	"github.com/gadgetkit/gadgetkit/usb"
)

// expectFromConfig parses a gadget config file and returns what builds the
// expected snapshot once the device's own is read.
func expectFromConfig(name string, r io.Reader) (func(got *host.Snapshot, speed usb.Speed) (*host.Snapshot, error), error) {
	c, err := config.Parse(name, r)
	if err != nil {
		return nil, err
	}
	return func(got *host.Snapshot, speed usb.Speed) (*host.Snapshot, error) { return host.Expect(c, got, speed) }, nil
}
