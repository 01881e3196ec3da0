// Package vmtest boots Debian's stock kernel under QEMU (TCG, no KVM needed)
// with dummy_hcd, configfs and FunctionFS loaded, runs one payload in it as
// root and reports the payload's exit status: the USB gadget stack and its
// host side, both in one guest, on a machine whose own kernel has neither.
//
// # Testing a gadget from your own module
//
// Mark the tests that need the kernel with guest.Require (package
// vmtest/guest) and run go test through the -exec wrapper, command vmtest.
// With a tool directive in your go.mod (go get -tool
// github.com/gadgetkit/gadgetkit/cmd/vmtest):
//
//	go test -exec "go tool vmtest exec" ./...
//
// or without one, naming a version of this module:
//
//	go test -exec "go run github.com/gadgetkit/gadgetkit/cmd/vmtest@VERSION exec" ./...
//
// A test binary that calls guest.Require boots a fresh guest; every other
// binary runs directly on the host. In the guest the binary runs from its
// package directory with the module's tree mirrored at the same path, so
// testdata is where the test expects it; a cgo binary (one using package host,
// the libusb peer) gets its shared libraries carried along. Settings for the
// guest come from the environment, since go test passes the wrapper nothing
// else: GADGETKIT_VM_KERNEL picks the kernel (bullseye 5.10, bookworm 6.1,
// trixie 6.12, sid 7.x, or an exact package version; see KernelChoice), and
// EnvOptions lists the rest (modules, SuperSpeed, UDC count, timeouts, kernel
// arguments). examples/checksum in this repository is such a module.
//
// The machine needs qemu-system-x86 and busybox-static (the guest's shell),
// and libusb-1.0 for host-side tests. The first run fetches the kernel
// package through apt lists of its own under DefaultCacheDir (the machine's
// apt setup is never touched); later runs work offline.
//
// # Scenarios
//
// Run boots one guest for one command: a script run by the guest's busybox
// sh, or a binary, with more executables on PATH (Options.Bins), files
// copied in (Options.Files) and whatever the guest writes to $GADGETKIT_OUT
// copied back (Options.OutDir). The guest's /init is a vmtest binary
// (Options.Init; by default the running executable, which must then call
// GuestMain when it finds itself to be PID 1, as command vmtest does).
package vmtest
