package usbtest

// SourceSinkSuite is what a gadget zero compatible source/sink function
// must pass, and what the kernel's own SourceSink passes on dummy_hcd: the
// bulk tests (simple, varied, scatterlists, odd addresses), chapter 9 and
// queued control requests, unlinks, halts, the ep0 vendor requests, data
// toggle and the queued performance tests. Iteration counts are sized for
// an emulated guest. Run it with the interface bound as GadgetZero and
// usbtest's pattern equal to the function's: with PatternMod63, tests 27
// and 28 are Unsupported (usbtest runs them with PatternZeros only).
func SourceSinkSuite() []Params {
	const n = 100
	return []Params{
		{Test: 0, Iterations: 1},
		{Test: 1, Iterations: 1000, Length: 512},
		{Test: 2, Iterations: 1000, Length: 512},
		// Varied sizes stay multiples of wMaxPacketSize: a read shorter
		// than the packet the function sends overflows (EOVERFLOW).
		{Test: 3, Iterations: 1000, Length: 4096, Vary: 512},
		{Test: 4, Iterations: 1000, Length: 4096, Vary: 512},
		{Test: 5, Iterations: n, Length: 4096, SGLen: 32},
		{Test: 6, Iterations: n, Length: 4096, SGLen: 32},
		{Test: 7, Iterations: n, Length: 4096, Vary: 512, SGLen: 32},
		{Test: 8, Iterations: n, Length: 4096, Vary: 512, SGLen: 32},
		{Test: 9, Iterations: n},
		{Test: 10, Iterations: n, SGLen: 32},
		{Test: 11, Iterations: n, Length: 4096},
		{Test: 12, Iterations: n, Length: 4096},
		{Test: 13, Iterations: n},
		{Test: 14, Iterations: n, Length: 1024, Vary: 63},
		{Test: 17, Iterations: n, Length: 4096},
		{Test: 18, Iterations: n, Length: 4096},
		{Test: 19, Iterations: n, Length: 4096},
		{Test: 20, Iterations: n, Length: 4096},
		{Test: 21, Iterations: n, Length: 1024, Vary: 63},
		{Test: 24, Iterations: n, Length: 4096, SGLen: 8},
		{Test: 27, Iterations: n, Length: 65536, SGLen: 8},
		{Test: 28, Iterations: n, Length: 65536, SGLen: 8},
		{Test: 29, Iterations: n},
	}
}

// Throughput is tests 27 (host to gadget) and 28 (gadget to host) with
// inflight URBs of length bytes each kept queued, iterations times over.
func Throughput(iterations, length, inflight uint32) []Params {
	return []Params{
		{Test: 27, Iterations: iterations, Length: length, SGLen: inflight},
		{Test: 28, Iterations: iterations, Length: length, SGLen: inflight},
	}
}

// LoopbackSuite is what a gadget zero compatible loopback function passes
// under usbtest. usbtest resets the interface before every test, which
// drops whatever a loopback function holds, and it has no test that reads
// back what it wrote: so only tests that send to the function (within its
// queue: at most 16 transfers here, gadget zero's loopback queues 32) and
// the control tests apply. Run it with the interface bound as UserMode,
// whose entry has no ep0 vendor request tests.
func LoopbackSuite() []Params {
	return []Params{
		{Test: 0, Iterations: 1},
		{Test: 1, Iterations: 16, Length: 512},
		{Test: 3, Iterations: 16, Length: 4096, Vary: 512},
		{Test: 5, Iterations: 1, Length: 4096, SGLen: 8},
		{Test: 9, Iterations: 10},
		{Test: 10, Iterations: 10, SGLen: 32},
		{Test: 12, Iterations: 4, Length: 4096},
		{Test: 17, Iterations: 8, Length: 4096},
		{Test: 19, Iterations: 8, Length: 4096},
		{Test: 24, Iterations: 1, Length: 4096, SGLen: 8},
		{Test: 27, Iterations: 2, Length: 4096, SGLen: 8},
		{Test: 29, Iterations: 4},
	}
}

// AllTests is what testusb -a runs with p: every test number 0..NumTests-1
// with p's iterations, length, vary and sglen, leaving out the numbers
// usbtest would refuse p for (each named in skipped, with the field and
// reason). testusb.c runs those too and reports EINVAL: with its defaults
// (DefaultParams) that is tests 14 and 21, whose vary must be less than
// length.
func AllTests(p Params) (tests []Params, skipped []error) {
	for i := range NumTests {
		p.Test = i
		if err := p.Check(); err != nil {
			skipped = append(skipped, err)
			continue
		}
		tests = append(tests, p)
	}
	return tests, skipped
}
