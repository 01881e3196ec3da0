package configfs_test

import (
	"log"

	"github.com/gadgetkit/gadgetkit/configfs"
)

// Gadget zero's shape with the kernel's own functions: SourceSink in
// configuration 1, Loopback in configuration 2, bound to the first free UDC.
func Example() {
	r := &configfs.Root{} // /sys/kernel/config/usb_gadget and /sys/class/udc
	g := &configfs.Gadget{
		Name:      "zero",
		VendorID:  0x0525,
		ProductID: 0xa4a0,
		Strings:   []configfs.DeviceStrings{{Lang: 0x409, Manufacturer: "gadgetkit", Product: "zero", SerialNumber: "1"}},
		Functions: []configfs.Function{
			configfs.SourceSink("0", configfs.SourceSinkOptions{Pattern: 1}),
			configfs.Loopback("0", configfs.LoopbackOptions{QLen: 32}),
		},
		Configs: []configfs.Config{
			{Number: 1, MaxPowerMA: 120, Functions: []string{"SourceSink.0"}},
			{Number: 2, MaxPowerMA: 120, Functions: []string{"Loopback.0"}},
		},
	}
	// A tree left by a killed run is in the way: take it down first.
	if ok, err := r.Exists(g.Name); err != nil {
		log.Fatal(err)
	} else if ok {
		if err := r.Remove(g.Name); err != nil {
			log.Fatal(err)
		}
	}
	if err := r.Create(g); err != nil {
		log.Fatal(err) // nothing is left behind
	}
	udc, err := r.PickUDC("auto")
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Bind(g.Name, udc); err != nil {
		log.Fatal(err)
	}
	// ... serve ...
	if err := r.Remove(g.Name); err != nil { // unbinds first
		log.Fatal(err)
	}
}

// A FunctionFS function: make the tree, mount the instance, write the
// descriptors to ep0 (package ffs), then bind.
func ExampleMountFunctionFS() {
	r := &configfs.Root{}
	g := &configfs.Gadget{
		Name:      "vendor",
		VendorID:  0x1d6b,
		ProductID: 0x0104,
		Functions: []configfs.Function{configfs.FunctionFS("vendor")},
		Configs:   []configfs.Config{{Number: 1, Functions: []string{"ffs.vendor"}}},
	}
	if err := r.Create(g); err != nil {
		log.Fatal(err)
	}
	if err := configfs.MountFunctionFS("vendor", "/dev/usb-ffs/vendor", configfs.MountOptions{Mode: 0o600}); err != nil {
		log.Fatal(err)
	}
	// Write the descriptors and strings to /dev/usb-ffs/vendor/ep0 here.
	if err := r.Bind(g.Name, "dummy_udc.0"); err != nil {
		log.Fatal(err)
	}
}
