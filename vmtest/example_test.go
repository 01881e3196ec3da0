package vmtest_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/gadgetkit/gadgetkit/vmtest"
)

// The kernel a guest boots comes from GADGETKIT_VM_KERNEL: a Debian suite
// name, an exact package version, or empty for what the machine's own apt
// sources resolve linux-image-amd64 to. A name that is neither is an error
// naming the variable.
func ExampleKernelChoice() {
	for _, v := range []string{"trixie", "6.1.192-3", "", "hardy"} {
		os.Setenv(vmtest.EnvKernel, v)
		choice, err := vmtest.KernelChoice()
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%q\n", choice)
	}
	os.Unsetenv(vmtest.EnvKernel)
	// Output:
	// "trixie"
	// "6.1.192-3"
	// ""
	// GADGETKIT_VM_KERNEL="hardy": want one of bullseye, bookworm, trixie, sid, an exact kernel package version (e.g. 6.12.118-1), or empty for the machine's own apt sources
}

// Boot Debian 12's kernel with dummy_hcd and run a script in it, with a
// gadget daemon on PATH and its output copied back. (Not run by go test: it
// boots a guest.)
func ExampleRun() {
	ctx := context.Background()
	k, err := vmtest.ResolveKernel(ctx, vmtest.DefaultCacheDir(), "bookworm", log.Printf)
	if err != nil {
		log.Fatal(err)
	}
	res, err := vmtest.Run(ctx, vmtest.Options{
		Kernel: k,
		Init:   "bin/vmtest", // a vmtest binary is the guest's /init
		Argv:   []string{"scripts/my-scenario.sh"},
		Bins:   []string{"bin/gadgetd"},
		Files:  []vmtest.File{{Host: "configs/loopback.yaml", Guest: "/etc/gadgetd.yaml"}},
		OutDir: "out",
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, vmtest.ErrGuest) when the guest itself failed
	}
	fmt.Println("exit status", res.ExitCode)
}
