package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/usb"
)

// rig is a gadget with one FunctionFS function driven in this process by
// package ffs: pairs vendor interfaces, each with one bulk IN and one bulk
// OUT endpoint.
type rig struct {
	root   *configfs.Root
	name   string
	udc    string
	serial string
	mount  string
	f      *ffs.Function
	in     []*ffs.EP
	out    []*ffs.EP
	stopFn context.CancelFunc
	ran    chan struct{}
}

func newRig(ctx context.Context, name, udc string, pairs, depth, size int) (rg *rig, err error) {
	rg = &rig{root: &configfs.Root{}, name: "bench-" + name, udc: udc, serial: name, mount: filepath.Join("/dev/usb-ffs", "bench-"+name)}
	g := &configfs.Gadget{
		Name:      rg.name,
		VendorID:  benchVID,
		ProductID: benchPID,
		Strings:   []configfs.DeviceStrings{{Lang: 0x409, Manufacturer: "gadgetkit", Product: "bench " + name, SerialNumber: name}},
		Functions: []configfs.Function{configfs.FunctionFS(name)},
		Configs:   []configfs.Config{{Number: 1, MaxPowerMA: 100, Functions: []string{"ffs." + name}}},
	}
	if err := rg.root.Create(g); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rg.close())
		}
	}()
	if err := configfs.MountFunctionFS(name, rg.mount, configfs.MountOptions{Mode: 0o600}); err != nil {
		return rg, err
	}
	var ifs []ffs.Interface
	for i := range pairs {
		n := i + 1
		ifs = append(ifs, ffs.Interface{Class: usb.ClassVendorSpecific, Name: 1, Endpoints: []ffs.Endpoint{
			{Address: usb.Address(n, usb.In), Type: usb.Bulk},
			{Address: usb.Address(n, usb.Out), Type: usb.Bulk},
		}})
	}
	rg.f, err = ffs.Open(rg.mount, ffs.Config{
		Descriptors: &ffs.Descriptors{Interfaces: ifs},
		Strings:     &ffs.Strings{Languages: []ffs.Language{{ID: usb.LangEnglishUS, Strings: []string{"bench"}}}},
		QueueDepth:  depth,
		RequestSize: size,
	})
	if err != nil {
		return rg, err
	}
	for _, ep := range rg.f.EPs() {
		if ep.Address().IsIn() {
			rg.in = append(rg.in, ep)
		} else {
			rg.out = append(rg.out, ep)
		}
	}
	runCtx, stop := context.WithCancel(context.Background())
	rg.stopFn, rg.ran = stop, make(chan struct{})
	go func() { rg.f.Run(runCtx); close(rg.ran) }()
	if err := rg.bind(ctx); err != nil {
		return rg, err
	}
	return rg, nil
}

// errBind marks a gadget the UDC refused, e.g. for want of endpoints.
var errBind = errors.New("the UDC refused the gadget")

// bind binds the gadget and waits until the host configured it.
func (rg *rig) bind(ctx context.Context) error {
	if err := rg.root.Bind(rg.name, rg.udc); err != nil {
		return fmt.Errorf("%w: %w", errBind, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := rg.f.WaitState(ctx, ffs.StateEnabled); err != nil {
		return fmt.Errorf("bench: %s on %s: not enabled by the host: %w", rg.name, rg.udc, err)
	}
	return nil
}

// reconnect brings the gadget back after a soft_connect disconnect: Debian
// 6.1's dummy_hcd leaves ep0 mute after "connect", so it rebinds.
func (rg *rig) reconnect(ctx context.Context) error {
	if err := softConnect(rg.udc, true); err != nil {
		return err
	}
	if err := rg.root.Unbind(rg.name); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rg.f.WaitState(wctx, ffs.StateUnbound); err != nil {
		return fmt.Errorf("bench: %s: not unbound: %w", rg.name, err)
	}
	for HostDevice(rg.serial) != "" {
		if wctx.Err() != nil {
			return fmt.Errorf("bench: %s: the host still sees the device after unbind", rg.name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return rg.bind(ctx)
}

func (rg *rig) close() error {
	var errs []error
	if rg.f != nil {
		rg.stopFn()
		errs = append(errs, rg.f.Close())
		<-rg.ran
	}
	errs = append(errs, rg.root.Unbind(rg.name))
	// Unmount before the function's directory goes, as it was made.
	if err := configfs.UnmountFunctionFS(rg.mount); err != nil && rg.f != nil {
		errs = append(errs, err)
	}
	errs = append(errs, rg.root.Remove(rg.name))
	return errors.Join(errs...)
}

// softConnect writes connect or disconnect to the UDC's soft_connect.
func softConnect(udc string, connect bool) error {
	v := "disconnect"
	if connect {
		v = "connect"
	}
	p := filepath.Join("/sys/class/udc", udc, "soft_connect")
	if err := os.WriteFile(p, []byte(v), 0); err != nil {
		return fmt.Errorf("bench: %s %s: %w", p, v, err)
	}
	return nil
}
