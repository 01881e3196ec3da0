package abortlog

// The abort personality's vendor control requests (docs/abort.md). Those
// naming an endpoint go to the endpoint recipient with wIndex the host's
// endpoint address, which f_fs turns into the endpoint file's number; the
// others go to the interface, wIndex its number.
const (
	// RequestCancel (OUT, endpoint, no data) cancels every request in
	// flight on the endpoint: policy "host".
	RequestCancel = 0xa0
	// RequestRecords (IN, interface) returns the records numbered from
	// wValue (the low 16 bits of a record number, see Log.Resolve) as JSON
	// lines, as many whole lines as fit in wLength; an empty reply means
	// none.
	RequestRecords = 0xa1
	// RequestShape (OUT, endpoint, 8 bytes: queue depth and request size,
	// little-endian uint32 each; 0 keeps the configured one) cancels what
	// is in flight (policy "reshape") and from then on keeps that many
	// requests of that size queued.
	RequestShape = 0xa2
	// RequestNext (IN, interface, 8 bytes) returns the number the next
	// record will get, little-endian uint64.
	RequestNext = 0xa3
	// RequestPolicies (OUT, interface, no data) pauses the configured
	// policies (wValue 0) or resumes them (1), so that a host running its
	// own scenarios sees only the aborts it asked for.
	RequestPolicies = 0xa4
	// RequestDMABuf (IN, endpoint, up to wLength bytes) runs
	// FUNCTIONFS_DMABUF_ATTACH with fd -1 on the endpoint's file (see
	// ffs.EP.DMABufProbe) and answers the errno's name in ASCII: "ENOTTY"
	// (no FunctionFS DMA-BUF in the kernel), "EPERM" (the UDC does not do
	// scatter-gather), "EBADF" (supported), "EAGAIN" (a kernel before 6.9
	// and the endpoint not enabled).
	RequestDMABuf = 0xa5
)
