//go:build cgo

package host

import "github.com/gadgetkit/gadgetkit/internal/pattern"

// The data patterns live in internal/pattern, shared with the gadget side;
// these names keep the host API as it was.
type (
	PatternKind   = pattern.Kind
	Pattern       = pattern.Pattern
	MismatchError = pattern.MismatchError
)

// The patterns (see internal/pattern).
const (
	PatternZero   = pattern.Zero
	PatternMod63  = pattern.Mod63
	PatternRandom = pattern.Random
)

// ParsePattern parses "zero", "mod63", "random" with an optional
// "/PERIOD" and, for random, ":SEED": "mod63/4096", "random:7".
func ParsePattern(s string) (Pattern, error) { return pattern.Parse(s) }
