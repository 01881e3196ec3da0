package usbtest

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gadgetkit/gadgetkit/internal/pattern"
)

// Pattern is the data usbtest writes and expects to read back (its
// "pattern" module parameter, read at the start of every test).
type Pattern int

// The patterns usbtest knows; gadget zero's SourceSink has the same two
// (its "pattern" attribute).
const (
	PatternZeros Pattern = pattern.ParamZeros // all zeroes
	PatternMod63 Pattern = pattern.ParamMod63 // pattern.GadgetZero: byte i of a transfer is (i % wMaxPacketSize) % 63
)

func (p Pattern) String() string {
	switch p {
	case PatternZeros:
		return "zeros"
	case PatternMod63:
		return "mod63"
	}
	return "pattern(" + strconv.Itoa(int(p)) + ")"
}

// PatternParam is where usbtest's pattern parameter lives.
const PatternParam = "/sys/module/usbtest/parameters/pattern"

// GetPattern reads usbtest's current pattern.
func GetPattern() (Pattern, error) {
	b, err := os.ReadFile(PatternParam)
	if errors.Is(err, os.ErrNotExist) {
		return 0, ErrNotLoaded
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: %q: %w", PatternParam, b, err)
	}
	return Pattern(n), nil
}

// SetPattern sets usbtest's pattern for the tests that follow. The
// performance tests 27 and 28 run only with PatternZeros; with
// PatternMod63 every read is checked against the pattern.
func SetPattern(p Pattern) error {
	if p != PatternZeros && p != PatternMod63 {
		return fmt.Errorf("pattern: %d is not a usbtest pattern (0 zeros, 1 mod63)", int(p))
	}
	err := os.WriteFile(PatternParam, []byte(strconv.Itoa(int(p))), 0)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotLoaded
	}
	if err != nil {
		return fmt.Errorf("set usbtest pattern %v: %w", p, err)
	}
	return nil
}
