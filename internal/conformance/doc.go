// Package conformance checks, on the running kernel, every claim about
// io_cancel (and its neighbours: io_uring, FUNCTIONFS_DMABUF) that the
// toolkit's cancellation and teardown code stands on, on a real FunctionFS
// endpoint on dummy_hcd in the vmtest guest.
//
// The claims are the catalogue in claims.go: the io_cancel behaviour that
// fs/aio.c implements (and the RFC "kernel/api: add API specification for
// io_cancel" writes down), what f_fs.c does with a cancelled or shut-down
// USB request, and where the man page is wrong. Each guest test records,
// per claim, what it observed and whether that is what the toolkit relies
// on; a departure fails the test after it has been recorded. TestMain
// writes the rows to $GADGETKIT_OUT/conformance/<uname -r>.json, and
// cmd/kernelsdoc merges one such file per kernel into docs/kernels.md.
package conformance
