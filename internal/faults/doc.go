// Package faults holds guest tests of gadgetd's loopback under a hostile
// or unreliable host: control request floods and malformed requests, zero
// length packets everywhere, and the fault matrix (disconnect, UDC
// rebind, reset, configuration and interface changes, deauthorisation,
// clear-halt, SIGKILL and restart, a move between UDCs). After each, the
// loopback must carry a checked stream with no byte lost or repeated, and
// the process must hold no more goroutines, fds, mounts or configfs
// entries than before. The package has no code of its own; the tests run
// in a guest: go test -exec "$PWD/bin/vmtest exec" ./internal/faults.
package faults
