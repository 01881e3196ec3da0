#!/bin/sh
# Runs every Fuzz target of the module for FUZZTIME each (default 60s).
# The checked-in seeds (testdata/fuzz) already run under make test; this
# explores beyond them. A crash leaves its input in testdata/fuzz/FuzzX/:
# fix the bug and commit the input as a regression seed. Minimising each new
# input is capped at 5 s: at Go's default (60 s) a few new inputs can eat
# the whole budget of a target (seen on usb's FuzzParseDescriptors).
set -eu
cd "$(dirname "$0")/.."
t="${FUZZTIME:-60s}"
fail=0
for f in $(grep -l '^func Fuzz' $(git ls-files '*_test.go')); do
	pkg="./$(dirname "$f")"
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		echo "== $pkg $target ($t)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" -fuzzminimizetime 5s "$pkg" || fail=1
	done
done
exit $fail
