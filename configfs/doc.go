// Package configfs builds, binds and removes USB gadgets through the kernel's
// configfs interface (libcomposite, /sys/kernel/config/usb_gadget) and mounts
// FunctionFS instances.
//
// A Gadget value describes the whole tree: device fields, strings per
// language, functions (FunctionFS instances and kernel functions such as acm,
// ncm, mass_storage, hid, SourceSink and Loopback), configurations with the
// functions linked into them, and Microsoft OS descriptors. Root.Create makes
// the tree as one transaction: if any step fails, everything made so far is
// removed again in reverse order and the error names the step and the path.
// Root.Remove tears down any gadget tree, including one left behind by a
// process that was killed, in the order configfs requires (unbind, unlink,
// rmdir leaves first).
//
// Attributes are written with O_WRONLY|O_TRUNC and never created: on configfs
// the kernel creates every attribute file when their directory is made, and a
// file that does not exist means the attribute does not exist in this kernel.
//
// Root.UDCs lists the USB device controllers, PickUDC chooses one by name or
// the first one no gadget is bound to, and Bind, Unbind and Rebind attach a
// gadget to it. MountFunctionFS mounts the functionfs instance of an "ffs"
// function so that user space can write its descriptors to ep0 before the
// gadget is bound.
package configfs
