// Package gadget is gadgetd's logic: it turns a gadget file (package
// config) into a running USB gadget and takes it down again
// without leaving anything behind.
//
// Start validates the file without touching the kernel (Check), removes
// what a killed run of the same file left (its configfs tree and
// functionfs mounts, with a log line saying so), creates the configfs tree
// as one transaction, mounts functionfs for each FunctionFS function,
// writes its descriptors and strings (Descriptors converts them from the
// file), binds the UDC named in the file or the first free one, and serves
// a personality on each FunctionFS function:
//
//   - loopback: OUT data comes back on IN, in order, like gadget zero's
//     loopback function: every OUT request stays queued and each completion
//     is copied into the next IN request; a transfer the host ended with a
//     short packet or a zero-length packet ends the same way on IN. What
//     the host sends after a SET_INTERFACE, reset or reconnect comes back
//     whole; what it sent before and the gadget had not yet returned is
//     dropped, as gadget zero drops it (see loopback.go for how the two are
//     told apart).
//   - sourcesink: IN sources gadget zero's pattern (0: zeros, 1: byte i of
//     each packet is i%63), OUT sinks and checks it; gadget zero's vendor
//     control requests 0x5b (write the test buffer) and 0x5c (read it back)
//     are answered.
//
// Queue depth and request size come from the personality's options. A
// personality runs while the host keeps the function enabled; a host
// unplug, a UDC unbind or a reset shuts its transfers down, and the next
// ENABLE starts it again: the daemon keeps running.
//
// With Options.User, Run separates privileges: the calling process stays
// root to make the configfs tree, mount functionfs owned by the user, bind
// the UDC and take it all down again, while a worker (the same executable
// started again as that user, with no groups, no capabilities and
// no_new_privs; see IsWorker and RunWorker) opens ep0, writes the
// descriptors and serves the personalities and the status socket.
//
// Close tears down in the order the kernel needs: cancel and reap every
// transfer in flight, close the endpoint files and ep0, unbind, unmount,
// remove the tree. Status reports per-function and per-endpoint counters,
// also served as JSON on a unix socket (QueryStatus).
package gadget
