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

// ffsGadget is a configfs gadget of one FunctionFS function, instance
// serial, with its functionfs mounted on /dev/usb-ffs/bench-SERIAL: the
// tree, the mount and its mount point are made and removed together.
type ffsGadget struct {
	root    *configfs.Root
	name    string // gadgetName(serial)
	serial  string
	mount   string
	mounted bool
}

func newFFSGadget(serial, product string, vid, pid uint16) (*ffsGadget, error) {
	g := &ffsGadget{root: &configfs.Root{}, name: gadgetName(serial), serial: serial}
	g.mount = filepath.Join("/dev/usb-ffs", g.name)
	if err := g.root.Create(&configfs.Gadget{
		Name:      g.name,
		VendorID:  vid,
		ProductID: pid,
		Strings:   []configfs.DeviceStrings{{Lang: 0x409, Manufacturer: "gadgetkit", Product: product, SerialNumber: serial}},
		Functions: []configfs.Function{configfs.FunctionFS(serial)},
		Configs:   []configfs.Config{{Number: 1, MaxPowerMA: 100, Functions: []string{"ffs." + serial}}},
	}); err != nil {
		return nil, err
	}
	if err := configfs.MountFunctionFS(serial, g.mount, configfs.MountOptions{Mode: 0o600}); err != nil {
		os.Remove(g.mount) // made by MountFunctionFS, if it got that far
		return nil, errors.Join(err, g.root.Remove(g.name))
	}
	g.mounted = true
	return g, nil
}

// remove unmounts functionfs, removes its mount point, then the configfs
// tree. The function's files must be closed and the gadget unbound first.
func (g *ffsGadget) remove() error {
	var errs []error
	if g.mounted {
		if err := configfs.UnmountFunctionFS(g.mount); err != nil {
			errs = append(errs, err)
		} else {
			g.mounted = false
			errs = append(errs, os.Remove(g.mount))
		}
	}
	return errors.Join(append(errs, g.root.Remove(g.name))...)
}

// rig is a gadget with one FunctionFS function driven in this process by
// package ffs: pairs vendor interfaces, each with one bulk IN and one bulk
// OUT endpoint.
type rig struct {
	*ffsGadget
	udc    string
	f      *ffs.Function
	in     []*ffs.EP
	out    []*ffs.EP
	stopFn context.CancelFunc
	ran    chan struct{}
}

func newRig(ctx context.Context, name, udc string, pairs, depth, size int) (rg *rig, err error) {
	rg = &rig{udc: udc}
	if rg.ffsGadget, err = newFFSGadget(name, "bench "+name, benchVID, benchPID); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rg.close())
		}
	}()
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
	errs = append(errs, rg.root.Unbind(rg.name), rg.remove())
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
