package usbtest

import (
	"fmt"
	"math/bits"
)

// NumTests is the number of test numbers usbtest knows (0..NumTests-1), the
// TEST_CASES of tools/usb/testusb.c.
const NumTests = 30

// MaxSGLen is usbtest's MAX_SGLEN: the largest sglen it accepts.
const MaxSGLen = 128

// Info describes one usbtest test number, as usbtest_do_ioctl implements it.
type Info struct {
	Num  int
	Name string
}

// Tests lists every test number usbtest knows, indexed by number.
var Tests = [NumTests]Info{
	{0, "no-op"},
	{1, "bulk write, length bytes x iterations"},
	{2, "bulk read, length bytes x iterations"},
	{3, "bulk write, size varied by vary"},
	{4, "bulk read, size varied by vary"},
	{5, "bulk write, sglen-entry scatterlists"},
	{6, "bulk read, sglen-entry scatterlists"},
	{7, "bulk write, scatterlists, entry size varied"},
	{8, "bulk read, scatterlists, entry size varied"},
	{9, "chapter 9 standard requests"},
	{10, "queued control requests (sglen in flight)"},
	{11, "unlink bulk reads"},
	{12, "unlink bulk writes"},
	{13, "set/clear endpoint halt"},
	{14, "ep0 vendor write 0x5b / read back 0x5c"},
	{15, "iso write, sglen URBs"},
	{16, "iso read, sglen URBs"},
	{17, "bulk write, odd address, core DMA map"},
	{18, "bulk read, odd address, core DMA map"},
	{19, "bulk write, odd address, premapped"},
	{20, "bulk read, odd address, premapped"},
	{21, "ep0 vendor write/read back, odd address"},
	{22, "iso write, odd address"},
	{23, "iso read, odd address"},
	{24, "unlink from a queue of sglen bulk writes"},
	{25, "interrupt write"},
	{26, "interrupt read"},
	{27, "bulk write performance, sglen URBs in flight"},
	{28, "bulk read performance, sglen URBs in flight"},
	{29, "data toggle reset by clear-halt between bulk writes"},
}

// Params are the inputs of one usbtest run (struct usbtest_param).
type Params struct {
	Test       int    `json:"test"`
	Iterations uint32 `json:"iterations"`
	Length     uint32 `json:"length"` // bytes per transfer, URB or scatterlist entry
	Vary       uint32 `json:"vary"`   // size step of the varied tests (3, 4, 7, 8, 14, 21)
	SGLen      uint32 `json:"sglen"`  // scatterlist entries, or URBs/requests in flight
}

// DefaultParams are testusb's defaults: they work at every speed without
// short packets.
func DefaultParams() Params {
	return Params{Iterations: 1000, Length: 512, Vary: 512, SGLen: 32}
}

// Check rejects parameters that usbtest would refuse or that would make it
// misbehave, naming the field.
func (p Params) Check() error {
	if p.Test < 0 || p.Test >= NumTests {
		return fmt.Errorf("test: %d is not a usbtest test number (0..%d)", p.Test, NumTests-1)
	}
	if p.Iterations == 0 {
		return fmt.Errorf("iterations: must be at least 1 (test %d)", p.Test)
	}
	if p.SGLen > MaxSGLen {
		return fmt.Errorf("sglen: %d is more than usbtest's maximum of %d (test %d)", p.SGLen, MaxSGLen, p.Test)
	}
	switch p.Test {
	case 3, 4:
		// simple_io computes the next size modulo length.
		if p.Vary != 0 && p.Length == 0 {
			return fmt.Errorf("length: must be at least 1 when vary is set (test %d divides by it)", p.Test)
		}
	case 14, 21:
		if p.Length == 0 || p.Length > 0xffff {
			return fmt.Errorf("length: %d is not a control transfer length (1..65535) (test %d)", p.Length, p.Test)
		}
		if p.Vary >= p.Length {
			return fmt.Errorf("vary: %d must be less than length %d (test %d)", p.Vary, p.Length, p.Test)
		}
	}
	return nil
}

// Bytes returns the payload bytes a successful run of a bulk data test
// moves, following usbtest's own size sequences; ok is false for tests
// that move no countable bulk payload and when the count does not fit.
func (p Params) Bytes() (n uint64, ok bool) {
	it := uint64(p.Iterations)
	l := uint64(p.Length)
	switch p.Test {
	case 1, 2, 17, 18, 19, 20:
		return mul(it, l)
	case 5, 6, 27, 28:
		n, ok := mul(it, uint64(p.SGLen))
		if !ok {
			return 0, false
		}
		return mul(n, l)
	case 3, 4:
		if p.Vary == 0 || l == 0 {
			return 0, false // usbtest refuses to run these
		}
		return variedSum(it, l, uint64(p.Vary))
	case 7, 8:
		if p.Vary == 0 || l == 0 || p.SGLen == 0 {
			return 0, false
		}
		per, ok := variedSum(uint64(p.SGLen), l, uint64(p.Vary))
		if !ok {
			return 0, false
		}
		return mul(it, per)
	}
	return 0, false
}

func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// nextVaried is the size usbtest uses after size l when varying by vary up
// to max (simple_io and alloc_sglist).
func nextVaried(l, max, vary uint64) uint64 {
	l = (l + vary) % max
	if l == 0 {
		l = min(vary, max)
	}
	return l
}

// cycleLimit bounds the sizes variedSum walks before giving up.
const cycleLimit = 1 << 22

// variedSum adds up the first n sizes of the sequence that starts at max
// and continues with nextVaried. The sequence is periodic: it comes back
// to its first (vary >= max) or second (vary < max) element, so one period
// is walked and multiplied.
func variedSum(n, max, vary uint64) (uint64, bool) {
	start := uint64(0) // index the period starts at
	if vary < max {
		start = 1
	}
	// Walk until the sequence returns to element start, or n terms.
	var (
		sum    uint64
		prefix uint64 // sum of the terms before start
		first  = max
	)
	if start == 1 {
		first = nextVaried(max, max, vary)
	}
	l := max
	var i uint64
	for i = 0; i < n; i++ {
		if i > start && l == first {
			break
		}
		if i >= cycleLimit {
			return 0, false
		}
		if i == start {
			prefix = sum
		}
		var c uint64
		sum, c = bits.Add64(sum, l, 0)
		if c != 0 {
			return 0, false
		}
		l = nextVaried(l, max, vary)
	}
	if i == n {
		return sum, true
	}
	period := i - start
	cycleSum := sum - prefix
	full := (n - start) / period
	rest := (n - start) % period
	total, ok := mul(full, cycleSum)
	if !ok {
		return 0, false
	}
	// The rest is the first terms of the period again.
	l = first
	tail := prefix
	for j := uint64(0); j < rest; j++ {
		tail += l
		l = nextVaried(l, max, vary)
	}
	total, c := bits.Add64(total, tail, 0)
	return total, c == 0
}
