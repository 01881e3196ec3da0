// Package ffs drives a Linux FunctionFS function from Go: the descriptors
// and strings blobs, ep0 events and control requests, and the data
// endpoints through kernel AIO with deep queues and cancellation.
//
// # Life of a Function
//
// Mount functionfs, call Open with the descriptors and strings (they are
// written to ep0, which makes f_fs create the endpoint files), bind the
// gadget to a UDC, and call Run, which follows the host through ep0 events
// (BIND, ENABLE, DISABLE, SUSPEND, RESUME, UNBIND) and answers control
// requests with Config.OnControl. State and WaitState tell where the
// Function is; a disconnect brings it back to StateBound and a reconnect to
// StateEnabled without reopening anything. Close releases everything; when
// the last file of the instance closes, f_fs unbinds the gadget.
//
// ep0 is opened O_NONBLOCK and handed to os.NewFile, so Run parks on the
// runtime poller instead of holding an OS thread.
//
// # Alternate settings
//
// An Interface may have AltSettings (at most MaxAltSettings), each with
// endpoints of its own: f_fs binds every endpoint descriptor to a UDC
// endpoint of its own and enables all of them whichever setting the host
// selects, so user space serves them all. A SET_INTERFACE reaches user
// space only as DISABLE and ENABLE, without the setting's number. What
// the host may select depends on the kernel: an f_fs without get_alt
// (Debian's 5.10 and 6.1) makes the composite layer stall SET_INTERFACE to any
// setting but 0 and answer GET_INTERFACE with 0 (the other settings are
// enumerated only); one with get_alt (added upstream in 2024; Debian's
// 6.12 and 7.2) keeps the setting, answers GET_INTERFACE with it, and refuses
// SET_INTERFACE above setting 2. f_fs takes isochronous endpoints like the
// others, but the function binds only on a UDC with isochronous endpoints,
// which dummy_hcd (Debian's 5.10 to 7.2) has none of.
//
// # Control requests
//
// Run hands each SETUP the kernel passes up to Config.OnControl as a
// Control, which checks every answer against the request (direction, exact
// wLength, one answer) before it reaches ep0, and stalls a request the
// handler refuses, leaves unanswered or panics on. ServeControl applies the
// same rules with any ControlStage in place of ep0, so a handler can be
// unit-tested or fuzzed without a kernel (see its example).
//
// # Data transfers
//
// Each data endpoint is an EP with a fixed pool of Config.QueueDepth
// requests. A Request is an iocb and a buffer of Config.RequestSize bytes,
// both in memory mapped once outside the Go heap: the kernel owns them from
// Submit until the completion is reaped, and nothing moves, frees or reuses
// them meanwhile. Four ways to use them:
//
//   - EP.Read and EP.Write: one blocking transfer, cancelled with ctx;
//   - EP.Get, Request.Submit, Request.Wait (or Done and Result), Release:
//     the asynchronous interface, for queues as deep as the pool, with no
//     allocation per request or per cancel; EP.SubmitBatch queues several
//     requests with one io_submit, and SwapBuffers hands a buffer from one
//     request to another without a copy (a loopback);
//   - EP.NewReader and EP.NewWriter: io.Reader and io.Writer that keep every
//     request of the endpoint in flight;
//   - Pump: every request of several endpoints in flight, each completion
//     handed to a function on the caller's goroutine, which blocks in
//     io_getevents itself (no eventfd, poller or reaper in the path): the
//     cheapest per request, what gadgetd's sourcesink uses.
//
// OUT requests are rounded up to a multiple of wMaxPacketSize at the speed
// the host chose (read with FUNCTIONFS_ENDPOINT_DESC on ENABLE), so a full
// packet never overflows a request. A zero-length packet on an IN endpoint
// is sent on demand: EP.WriteZLP, or Submit(0).
//
// One AIO context and one eventfd serve the whole Function, rather than one
// per endpoint: f_fs completes every request of an instance on one ordered
// workqueue anyway, so a single ring and a single reaper goroutine (parked
// on the eventfd through the runtime poller) see completions in the order
// they happen at no extra cost, and the number of goroutines, fds and rings
// does not grow with the number of endpoints. The reaper reads completions
// straight from the ring the kernel maps into the process (falling back to
// io_getevents if the ring's layout is unknown), so the steady state costs
// one eventfd read per wakeup and no other system call; a Wait about to
// block takes its completion from the ring itself when it is already there,
// saving the reaper's wakeup and a goroutine hand-off (a cancelled request
// often is: dummy_hcd completes a dequeue at once). Completions are
// numbered (Request.Seq) under the one lock that reads the ring, in ring
// order, whoever reads it; while a Pump runs, it is that reader. Endpoint files are opened
// O_NONBLOCK, so io_submit on a disabled endpoint fails the request with
// EAGAIN (ErrNotEnabled) instead of blocking.
//
// # Cancellation
//
// A transfer is cancelled by cancelling the context given to Wait (or
// Read, Write, the Reader and Writer). Wait then calls io_cancel and waits
// for that request's completion before it returns, whatever io_cancel
// answered: EINPROGRESS on mainline kernels, 0 on stable kernels that post
// -EINTR, EINVAL when the transfer completed first. The completion decides
// the result, so a cancel that races a completion reports the completion's
// real bytes, never both and never neither. Errors are *TransferError values
// matching a sentinel and the errno, e.g. errors.Is(err, ErrCancelled) and
// errors.Is(err, syscall.ECONNRESET).
//
// Close cancels everything in flight, waits for the completions, calls
// io_destroy, and unmaps the memory once every request taken with Get has
// been released. Stop a process that serves endpoints through Close (on a
// signal such as SIGTERM) rather than letting it die with reads in flight:
// on Linux 6.1, 6.12 and 7.2 as Debian ships them, f_fs can deadlock if the
// process dies while a completed OUT read is being copied to it (README,
// Known problems).
package ffs
