// Package config parses gadgetd's gadget files: one YAML document that
// describes the gadget (IDs, strings, OS descriptors), the UDC to bind to,
// its configurations, kernel functions (acm, ecm, ncm, mass_storage, hid,
// SourceSink, Loopback) and FunctionFS functions (interfaces, endpoints, OS
// descriptors, mount options and the personality gadgetd runs on them).
//
// The file is parsed into a yaml.Node tree first and decoded by hand, so
// that every error is one line naming the file, the line and the field, as
// in
//
//	configs/x.yaml:12: functions[0].interfaces[0].endpoints[1].max_packet: 513 is not allowed for bulk at high speed (must be 512)
//
// Unknown keys, values of the wrong type and values that USB, the kernel or
// gadgetd cannot take are all rejected; a file that parses can be set up
// without surprises from the configuration itself. The rules of FunctionFS
// descriptors live in package ffs, the library: Parse converts each
// FunctionFS function (FunctionFS.Descriptors), has ffs check it, and
// points ffs's error at the line and key of the interface, alternate
// setting or endpoint at fault. What only this schema expresses (e.g.
// max_packet per speed) is checked here. The examples in the repository's
// configs/ directory are tested against this package.
package config
