//go:build cgo

package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/gousb"

	"github.com/gadgetkit/gadgetkit/usb"
)

// DefaultControlTimeout bounds every control transfer of a Device unless
// Options.ControlTimeout says otherwise.
const DefaultControlTimeout = 2 * time.Second

// Options says which device Open finds and how it talks to it.
type Options struct {
	Selector       Selector
	SysfsRoot      string        // "" means SysfsRoot
	ControlTimeout time.Duration // 0 means DefaultControlTimeout; never infinite
}

// Device is an open USB device: a gousb Context created after the device
// appeared (a Context sees no hotplug events without udev) and the device
// handle, with at most one claimed interface.
type Device struct {
	// Info is the device as sysfs showed it when it was opened.
	Info SysfsDevice

	opts Options
	usb  *gousb.Context
	dev  *gousb.Device
	cfg  *gousb.Config
	intf *gousb.Interface
}

// Open waits (polling sysfs) until exactly one device matches o.Selector,
// then opens it with a fresh gousb Context. ctx bounds the whole wait.
func Open(ctx context.Context, o Options) (*Device, error) {
	if o.SysfsRoot == "" {
		o.SysfsRoot = SysfsRoot
	}
	if o.ControlTimeout <= 0 {
		o.ControlTimeout = DefaultControlTimeout
	}
	d := &Device{opts: o}
	if err := d.open(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func newContext() (c *gousb.Context, err error) {
	// gousb panics when libusb_init fails (no usbfs, for one).
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("libusb init: %v", r)
		}
	}()
	return gousb.NewContext(), nil
}

func (d *Device) open(ctx context.Context) error {
	for {
		info, err := WaitSysfs(ctx, d.opts.SysfsRoot, d.opts.Selector)
		if err != nil {
			return err
		}
		uc, err := newContext()
		if err != nil {
			return err
		}
		devs, err := uc.OpenDevices(func(desc *gousb.DeviceDesc) bool {
			return desc.Bus == info.Bus && desc.Address == info.Address
		})
		if len(devs) == 1 {
			d.Info, d.usb, d.dev = info, uc, devs[0]
			d.dev.ControlTimeout = d.opts.ControlTimeout
			if err := d.dev.SetAutoDetach(true); err != nil {
				d.Close()
				return fmt.Errorf("open %s: auto-detach kernel drivers: %w", info, err)
			}
			return nil
		}
		for _, dev := range devs {
			dev.Close()
		}
		uc.Close()
		// The device left or re-enumerated between the sysfs scan and
		// libusb's: look again, within ctx.
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("libusb does not list it")
			}
			return fmt.Errorf("%w: open %s: %v (%v)", ErrNotFound, info, err, context.Cause(ctx))
		case <-time.After(PollInterval):
		}
	}
}

// Close releases the interface, the device and the Context. It is safe to
// call more than once.
func (d *Device) Close() error {
	d.Release()
	var errs []error
	if d.dev != nil {
		errs = append(errs, d.dev.Close())
		d.dev = nil
	}
	if d.usb != nil {
		errs = append(errs, d.usb.Close())
		d.usb = nil
	}
	return errors.Join(errs...)
}

// Reopen closes the device and opens it again once the selector matches a
// device in sysfs: after a re-enumeration, a reset or a reconnect.
func (d *Device) Reopen(ctx context.Context) error {
	d.Close()
	return d.open(ctx)
}

// Gone reports whether the device has left sysfs (or re-enumerated at
// another address) since it was opened.
func (d *Device) Gone() bool { return !Present(d.opts.SysfsRoot, d.Info) }

// Classify wraps err with ErrGone when the device disappeared, so callers
// can tell an unplug from a failed check with errors.Is.
func (d *Device) Classify(err error) error {
	if err == nil || errors.Is(err, ErrGone) {
		return err
	}
	if errors.Is(err, gousb.ErrorNoDevice) || errors.Is(err, gousb.TransferNoDevice) || d.Gone() {
		return fmt.Errorf("%w: %s: %w", ErrGone, d.Info, err)
	}
	if errors.Is(err, gousb.ErrorPipe) || errors.Is(err, gousb.TransferStall) {
		return fmt.Errorf("%w: %w", ErrStall, err)
	}
	return err
}

// ErrStall marks a request the device answered with a stall (a protocol
// answer, not a broken device).
var ErrStall = errors.New("stalled")

var errClosed = errors.New("device is closed (a failed Reopen closes it)")

// Control issues a control transfer bounded by the control timeout.
func (d *Device) Control(rType, request uint8, val, idx uint16, data []byte) (int, error) {
	if d.dev == nil {
		return 0, errClosed
	}
	n, err := d.dev.Control(rType, request, val, idx, data)
	if err != nil {
		return n, d.Classify(err)
	}
	return n, nil
}

// Snapshot reads every descriptor the host can see.
func (d *Device) Snapshot() (*Snapshot, error) {
	s, err := ReadSnapshot(d)
	return s, d.Classify(err)
}

// Speed is the speed the device enumerated at, as libusb reports it.
func (d *Device) Speed() usb.Speed {
	if d.dev == nil {
		return usb.SpeedUnknown
	}
	switch d.dev.Desc.Speed {
	case gousb.SpeedLow:
		return usb.SpeedLow
	case gousb.SpeedFull:
		return usb.SpeedFull
	case gousb.SpeedHigh:
		return usb.SpeedHigh
	case gousb.SpeedSuper:
		return usb.SpeedSuper
	}
	return usb.SpeedUnknown
}

// Pipe is the bulk IN/OUT endpoint pair of the claimed interface, and its
// interrupt pair when it has one.
type Pipe struct {
	In        *gousb.InEndpoint
	Out       *gousb.OutEndpoint
	MaxPacket int // wMaxPacketSize of In (the pair share one at high and SuperSpeed)
	// IntIn and IntOut are the first interrupt IN and OUT endpoints, nil
	// when the setting has none.
	IntIn  *gousb.InEndpoint
	IntOut *gousb.OutEndpoint
}

// Claim claims interface iface in alternate setting alt of the active
// configuration (configuration 1 if none is active) and opens its first
// bulk IN and first bulk OUT endpoints, and its first interrupt ones. The
// setting needs a bulk pair or an interrupt pair (In and Out are nil
// without bulk). A previously claimed interface is released first.
// Claiming sends SET_INTERFACE when the interface has more than one
// alternate setting.
func (d *Device) Claim(iface, alt int) (*Pipe, error) {
	if d.dev == nil {
		return nil, errClosed
	}
	d.Release()
	num, err := d.dev.ActiveConfigNum()
	if err != nil {
		return nil, d.Classify(fmt.Errorf("active configuration: %w", err))
	}
	if num == 0 {
		num = 1
	}
	cfg, err := d.dev.Config(num)
	if err != nil {
		return nil, d.Classify(err)
	}
	intf, err := cfg.Interface(iface, alt)
	if err != nil {
		cfg.Close()
		return nil, d.Classify(err)
	}
	d.cfg, d.intf = cfg, intf
	p := &Pipe{}
	addrs := make([]gousb.EndpointAddress, 0, len(intf.Setting.Endpoints))
	for a := range intf.Setting.Endpoints {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		e := intf.Setting.Endpoints[a]
		in := e.Direction == gousb.EndpointDirectionIn
		switch {
		case e.TransferType == gousb.TransferTypeBulk && in && p.In == nil:
			if p.In, err = intf.InEndpoint(e.Number); err != nil {
				return nil, err
			}
			p.MaxPacket = e.MaxPacketSize
		case e.TransferType == gousb.TransferTypeBulk && !in && p.Out == nil:
			if p.Out, err = intf.OutEndpoint(e.Number); err != nil {
				return nil, err
			}
		case e.TransferType == gousb.TransferTypeInterrupt && in && p.IntIn == nil:
			if p.IntIn, err = intf.InEndpoint(e.Number); err != nil {
				return nil, err
			}
		case e.TransferType == gousb.TransferTypeInterrupt && !in && p.IntOut == nil:
			if p.IntOut, err = intf.OutEndpoint(e.Number); err != nil {
				return nil, err
			}
		}
	}
	if (p.In == nil || p.Out == nil) && (p.IntIn == nil || p.IntOut == nil) {
		d.Release()
		return nil, fmt.Errorf("interface %d alternate setting %d has no bulk or interrupt IN and OUT endpoint pair (%v)", iface, alt, intf.Setting)
	}
	return p, nil
}

// Release releases the claimed interface, if any.
func (d *Device) Release() {
	if d.intf != nil {
		d.intf.Close()
		d.intf = nil
	}
	if d.cfg != nil {
		d.cfg.Close()
		d.cfg = nil
	}
}

// Reset releases the claimed interface and resets the port. When the
// device re-enumerates (libusb reports it not found) or leaves, it is
// opened again within ctx; the result says whether that happened.
func (d *Device) Reset(ctx context.Context) (reenumerated bool, err error) {
	if d.dev == nil {
		return false, errClosed
	}
	d.Release()
	err = d.dev.Reset()
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, gousb.ErrorNotFound) && !errors.Is(err, gousb.ErrorNoDevice) {
		return false, d.Classify(fmt.Errorf("reset: %w", err))
	}
	return true, d.Reopen(ctx)
}

// Standard feature requests on an endpoint.
const (
	reqClearFeature       = 0x01
	reqSetFeature         = 0x03
	featureEndpointHalt   = 0
	rtStandardOutEndpoint = 0x02 // host-to-device, standard, endpoint
)

// SetHalt halts endpoint ep on the device (SET_FEATURE ENDPOINT_HALT).
func (d *Device) SetHalt(ep gousb.EndpointAddress) error {
	_, err := d.Control(rtStandardOutEndpoint, reqSetFeature, featureEndpointHalt, uint16(ep), nil)
	if err != nil {
		return fmt.Errorf("SET_FEATURE(ENDPOINT_HALT) %s: %w", ep, err)
	}
	return nil
}

// ClearHalt clears a halt on endpoint ep (CLEAR_FEATURE ENDPOINT_HALT).
// gousb does not expose libusb_clear_halt, which also resets the host
// controller's data toggle; this request resets only the device's. That is
// exact on dummy_hcd, which has no toggles; on a real controller the next
// transfer after a clear may be dropped as a toggle mismatch.
func (d *Device) ClearHalt(ep gousb.EndpointAddress) error {
	_, err := d.Control(rtStandardOutEndpoint, reqClearFeature, featureEndpointHalt, uint16(ep), nil)
	if err != nil {
		return fmt.Errorf("CLEAR_FEATURE(ENDPOINT_HALT) %s: %w", ep, err)
	}
	return nil
}
