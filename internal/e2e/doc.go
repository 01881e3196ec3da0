// Package e2e holds end-to-end tests run in the vmtest guest: gadgetd's
// gadget package serves a gadget file on dummy_hcd while package
// host (gousb, cgo) talks to it from the guest's own USB host
// stack. It has no code of its own; cgo is allowed here and in
// host only.
package e2e
