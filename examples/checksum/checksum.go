// Package checksum is a custom USB function written outside gadgetkit's
// module, as a gadget firmware project would write one: a vendor-specific
// interface where every bulk OUT transfer is answered on bulk IN with its
// CRC-32 (IEEE, 4 bytes little-endian), and a vendor IN request (0xc1, 1)
// that answers how many transfers were summed (4 bytes little-endian).
//
// Its test (checksum_guest_test.go) composes a gadget in configfs, binds it
// to dummy_hcd and drives it from the host side with gadgetkit's host
// library, in the vmtest guest: go test -exec "go tool vmtest exec" ./...
package checksum

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync/atomic"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/usb"
)

// MaxTransfer is the longest OUT transfer the function sums; the host ends
// a shorter one with a short (or zero-length) packet.
const MaxTransfer = 4096

// RequestCount is the vendor IN request that reads the transfer count.
const (
	RequestCount     = 1
	RequestTypeCount = 0xc1 // device-to-host, vendor, interface
)

// Function is one checksum function on a mounted FunctionFS instance.
type Function struct {
	f     *ffs.Function
	count atomic.Uint32
}

// Open writes the function's descriptors and strings to the FunctionFS
// instance mounted at dir; the gadget can be bound once it returns.
func Open(dir string) (*Function, error) {
	c := &Function{}
	f, err := ffs.Open(dir, ffs.Config{
		Descriptors: &ffs.Descriptors{Interfaces: []ffs.Interface{{
			Class: usb.ClassVendorSpecific, Name: 1,
			Endpoints: []ffs.Endpoint{
				{Address: usb.Address(1, usb.Out), Type: usb.Bulk},
				{Address: usb.Address(2, usb.In), Type: usb.Bulk},
			},
		}}},
		Strings:     &ffs.Strings{Languages: []ffs.Language{{ID: usb.LangEnglishUS, Strings: []string{"checksum"}}}},
		QueueDepth:  2,
		RequestSize: MaxTransfer,
		OnControl:   c.control,
	})
	if err != nil {
		return nil, fmt.Errorf("checksum: %w", err)
	}
	c.f = f
	return c, nil
}

func (c *Function) control(r *ffs.Control) error {
	if r.RequestType != RequestTypeCount || r.Request != RequestCount || r.Length < 4 {
		return r.Stall()
	}
	return r.Write(binary.LittleEndian.AppendUint32(nil, c.count.Load()))
}

// Serve follows the host until ctx ends or ep0 fails: on every ENABLE it
// answers each OUT transfer with its checksum until the host disconnects,
// resets or deconfigures. It returns nil once ctx is cancelled, ep0's error
// otherwise.
func (c *Function) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- c.f.Run(ctx); cancel() }()
	out, in := c.f.EP("ep1"), c.f.EP("ep2")
	buf := make([]byte, MaxTransfer)
	for c.f.WaitState(ctx, ffs.StateEnabled) == nil {
		for {
			n, err := out.Read(ctx, buf)
			if err != nil {
				break // ffs.ErrShutdown: the host went away; wait for the next ENABLE
			}
			sum := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(buf[:n]))
			// Counted before the sum is sent: the host can ask for the
			// count as soon as it has read the sum, before Write returns.
			c.count.Add(1)
			if _, err := in.Write(ctx, sum); err != nil {
				break
			}
		}
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		return fmt.Errorf("checksum: ep0: %w", err)
	}
	return nil
}

// Close releases the endpoint files and ep0; call it after Serve returned.
func (c *Function) Close() error { return c.f.Close() }
