package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/internal/usbtest"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// envAnchor makes the test binary serve the anchor as `benchguest
// anchor-sourcesink` would, so that startAnchor can start it as a child.
const envAnchor = "BENCH_ANCHOR_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(envAnchor) != "" {
		os.Exit(anchorChild(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func anchorChild(args []string) int {
	fs := flag.NewFlagSet("anchor-sourcesink", flag.ContinueOnError)
	mount := fs.String("mount", "", "")
	size := fs.Int("request-size", 0, "")
	queue := fs.Int("queue", 0, "")
	if len(args) == 0 || args[0] != "anchor-sourcesink" || fs.Parse(args[1:]) != nil {
		fmt.Fprintf(os.Stderr, "anchor child: bad arguments %q\n", args)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := ServeAnchor(ctx, *mount, *size, *queue, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestAnchorServesUsbtest starts the throughput anchor as make bench does
// (a child process on a gadget with gadget zero's IDs), has usbtest move
// data both ways through it, and checks that stopping it leaves no gadget,
// mount or process behind.
func TestAnchorServesUsbtest(t *testing.T) {
	guest.Require(t)
	if err := guest.LoadModule("usbtest", ""); err != nil {
		t.Fatal(err)
	}
	defer guest.UnloadModule("usbtest")
	udc, err := guest.FreeUDC()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envAnchor, "1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const size, depth = 4096, 8
	srv, err := Start(ctx, Setup{Impl: AnchorSourceSink, RequestSize: size, Queue: depth, UDC: udc, Serial: "anchortest",
		Benchguest: os.Args[0], Dir: t.TempDir(), GadgetZero: true})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.Stop()
		}
	}()
	dev, err := usbtest.Wait(ctx, func(d usbtest.Device) bool { return d.Serial == "anchortest" })
	if err != nil {
		t.Fatal(err)
	}
	conn, err := usbtest.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	// Each test is preceded by usbtest's SET_INTERFACE, which makes f_fs
	// end every request in flight: the anchor must resubmit through it.
	for _, test := range []int{27, 28, 27, 28} {
		r, err := conn.Run(ctx, usbtest.Params{Test: test, Iterations: 64, Length: size, SGLen: depth})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != usbtest.Passed {
			t.Fatalf("usbtest test %d through the anchor: %s: %v", test, r.Status, r.Err)
		}
	}
	conn.Close()
	stopped = true
	if err := srv.Stop(); err != nil {
		t.Fatalf("stopping the anchor: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/sys/kernel/config/usb_gadget", gadgetName("anchortest"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the anchor's gadget is still in configfs: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/dev/usb-ffs", gadgetName("anchortest"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the anchor's mount point is still there: %v", err)
	}
	if err := syscall.Kill(srv.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the anchor process %d is still there: %v", srv.PID, err)
	}
}
