// Package usb is the USB vocabulary shared by the gadget and host sides of
// gadgetkit: descriptor types, classes, endpoint addresses and directions,
// transfer types, speeds and BCD versions, each printable, and the standard
// descriptors (device, configuration, interface, endpoint, SuperSpeed
// endpoint companion, interface association, BOS) with little-endian
// MarshalBinary/UnmarshalBinary that check every length before reading.
//
// The package is pure Go with no system dependencies, so firmware built for
// arm and arm64 and host-side tools use the same definitions.
package usb
