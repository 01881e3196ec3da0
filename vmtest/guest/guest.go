// Package guest is what test code uses to say "this test needs the USB gadget
// kernel stack" and to reach the stack inside the vmtest guest.
//
// A test binary that calls Require is recognised by the vmtest -exec wrapper
// (it looks for this package's symbols) and is run inside a fresh QEMU guest
// booting Debian's stock kernel with configfs, libcomposite, usb_f_fs and
// dummy_hcd loaded. Outside the guest, under plain `go test`, such tests skip
// with a one-line reason, unless GADGETKIT_REQUIRE_GUEST=1, where they fail:
// the README's test command sets it so that kernel tests can never be skipped
// silently.
//
// Inside the guest, NewGadget composes a configfs gadget for one test
// (removed with every FunctionFS mount by the test's cleanup), Bind and
// SoftConnect drive its UDC, WaitHostDevice and DevNode find it from the host
// side that the same kernel plays, and LoadModule, Has and ReloadDummyHCD
// change the kernel's set-up. Package vmtest's documentation says how to run
// such tests from any module.
package guest

import (
	"os"
	"testing"
)

// EnvGuest is set to "1" by the guest's init for every payload it runs.
const EnvGuest = "GADGETKIT_GUEST"

// EnvRequire makes Require fail instead of skip outside the guest.
const EnvRequire = "GADGETKIT_REQUIRE_GUEST"

// InGuest reports whether this process runs inside the vmtest guest.
func InGuest() bool { return os.Getenv(EnvGuest) == "1" }

// needsGuestMarker is what the -exec wrapper looks for in a test binary
// (go test strips symbol tables, so a symbol cannot serve). Only Require uses
// it, so the linker keeps it exactly in binaries that call Require.
var needsGuestMarker = "\x00gadgetkit:vmtest:needs-guest:v1\x00"

// Require skips (or, with GADGETKIT_REQUIRE_GUEST=1, fails) t unless the
// process runs inside the vmtest guest. It also marks the test binary as one
// that the -exec wrapper must boot a guest for, so keep it out of line.
//
//go:noinline
func Require(t testing.TB) {
	t.Helper()
	if needsGuestMarker == "" {
		panic("unreachable: keeps the marker in the binary")
	}
	if InGuest() {
		return
	}
	const why = "needs configfs, usb_f_fs and dummy_hcd: run it in the vmtest guest (go test -exec \"go tool vmtest exec\", with github.com/gadgetkit/gadgetkit/cmd/vmtest as a tool of the module)"
	if os.Getenv(EnvRequire) == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}
