package conformance

// Claim is one row of the conformance table.
type Claim struct {
	ID       string `json:"id"`
	Text     string `json:"claim"`
	ReliedOn string `json:"relied_on"` // what the toolkit needs to be true
}

// Claims is the catalogue, in the table's order.
var Claims = []Claim{
	{"cancel-pending", "io_cancel of a pending USB request (OUT read, IN write) returns -EINPROGRESS and posts its completion on the ring with res -ECONNRESET",
		"EINPROGRESS with -ECONNRESET, or 0 with -EINTR (stable kernels that carried \"fs/aio: Make io_cancel() generate completions again\"); exactly one event either way"},
	{"cancel-eventfd", "the completion of a cancelled request signals the iocb's IOCB_FLAG_RESFD eventfd (the shutdown rows check it for -ESHUTDOWN completions)",
		"ffs's reaper sleeps on the eventfd and is woken by every completion, cancellations included"},
	{"aio-ring", "the completion ring mapped at the context's address has the known aio_ring header (magic 0xa10a10a1, 32 bytes, no incompatible features); cancelled requests' events read straight from it are whole, and io_getevents then finds none (the kernel sees the head move)",
		"ffs reaps from the ring when the header is the known one and falls back to io_getevents otherwise (decided at run time)"},
	{"result-untouched", "io_cancel does not write its result argument (the event always goes to the ring)",
		"the result argument is never read; linux.Cancel passes a writable scratch event"},
	{"res2", "io_event.res2 of a cancelled and of a completed USB request (reading suggests it repeats res on 5.10 and is 0 from 6.1 on)",
		"nothing: ffs ignores res2 (a value other than 0 or res is recorded as unknown and fails)"},
	{"cancel-twice", "a second io_cancel of the same iocb, before and after its completion is reaped, returns EINVAL and posts nothing",
		"EINVAL, and only one event per request"},
	{"cancel-completed", "io_cancel of a request that already completed returns EINVAL, not the man page's EAGAIN (completed but not reaped, and reaped)",
		"EINVAL; Request.Wait then returns the real result"},
	{"iocb-never-submitted", "io_cancel of an iocb that was never submitted returns EINVAL, with aio_key 0 and with aio_key != 0",
		"EINVAL"},
	{"iocb-null", "io_cancel with a NULL iocb returns EFAULT", "an error, never a crash"},
	{"ctx-invalid", "io_cancel with ctx 0, a destroyed ctx, and another process's ctx returns EINVAL; naming the other process's iocb address fails as well; the other process's request stays pending and cancels normally",
		"EINVAL for a ctx that is not this process's; a context is private to its process"},
	{"partial-out", "a cancelled OUT request that had already received part of its data (one full packet of a larger read) completes with -ECONNRESET; the partial bytes are not copied to the buffer and do not reach the next read",
		"a cancelled request reports 0 bytes and leaves its buffer alone (or, if a kernel reports the bytes, res equals the bytes copied)"},
	{"cancel-race", "io_cancel racing the completion of the same one-packet request, OUT (host writing) and IN (host reading): either EINPROGRESS with -ECONNRESET and the host's packet goes with the next request, or EINVAL with the normal completion; never both, never lost",
		"exactly one event per request; with EINVAL the event is the real result"},
	{"destroy-pending", "io_destroy with an OUT read and an IN write pending returns 0 once both are cancelled: nothing reaches their buffers afterwards, and the endpoints work for a new context",
		"ffs Close leaves what its drain missed to io_destroy, then frees the memory"},
	{"shutdown-disconnect", "requests pending when the host disconnects (soft_connect) complete with -ESHUTDOWN; io_cancel of them afterwards returns EINVAL",
		"-ESHUTDOWN (ErrShutdown), promptly, for every request"},
	{"shutdown-deconfigure", "requests pending when the host deconfigures the device (SET_CONFIGURATION 0: the function is disabled, the link stays up) complete with -ESHUTDOWN; after SET_CONFIGURATION 1 the endpoint carries data again",
		"-ESHUTDOWN (ErrShutdown) for every request; the endpoint works again after the next ENABLE"},
	{"shutdown-unbind", "requests pending when the gadget is unbound from its UDC complete with -ESHUTDOWN",
		"-ESHUTDOWN (ErrShutdown), promptly, for every request"},
	{"submit-disabled", "io_submit of a read on an O_NONBLOCK endpoint file while the gadget is unbound does not block: the request completes at once with -EAGAIN",
		"ffs opens endpoints O_NONBLOCK so that Submit never blocks; -EAGAIN is ErrNotEnabled"},
	{"io-uring-read", "an io_uring IORING_OP_READ on an OUT endpoint file stays pending until the host sends, then completes with the data",
		"nothing (ffs uses kernel AIO); the test relies on it to finish every io_uring request before exit"},
	{"io-uring-cancel", "IORING_OP_ASYNC_CANCEL of that pending read: its result, and whether it reaches usb_ep_dequeue (the read then ends with an error) or not (the read waits for the host)",
		"nothing (ffs does not use io_uring); a consistent pair of results"},
	{"dmabuf-attach", "FUNCTIONFS_DMABUF_ATTACH of a udmabuf on an enabled O_NONBLOCK endpoint: ENOTTY before 6.9; from 6.9 EPERM on dummy_hcd (gadget->sg_supported is not set)",
		"nothing (ffs does not use DMA-BUF); never blocks"},
}

// ClaimByID returns the catalogue entry for id.
func ClaimByID(id string) (Claim, bool) {
	for _, c := range Claims {
		if c.ID == id {
			return c, true
		}
	}
	return Claim{}, false
}
