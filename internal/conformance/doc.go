// Package conformance checks, on the running kernel, every claim about
// io_cancel (and its neighbours: io_uring, FUNCTIONFS_DMABUF) that the
// toolkit's cancellation and teardown code stands on, on a real FunctionFS
// endpoint on dummy_hcd in the vmtest guest.
//
// The claims are the catalogue in claims.go: the io_cancel behaviour that
// fs/aio.c's sys_io_cancel implements (the order of its checks: aio_key
// read, key, context lookup, active request lookup, the cancel hook), which
// is what the RFC "kernel/api: add API specification for io_cancel" sets
// out to specify, what f_fs.c does with a cancelled or shut-down USB
// request, and where the man page is wrong (EAGAIN, a filled result). Each guest test records,
// per claim, what it observed and whether that is what the toolkit relies
// on; a departure fails the test after it has been recorded. TestMain
// writes the rows to $GADGETKIT_OUT/conformance/<uname -r>.json, and
// cmd/kernelsdoc merges one such file per kernel into docs/kernels.md.
package conformance
