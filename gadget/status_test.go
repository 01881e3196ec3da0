package gadget

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatusSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "gadgetd.sock")
	want := Status{
		Gadget: "g", UDC: "dummy_udc.0", UDCState: "configured", Started: time.Unix(1700000000, 0).UTC(),
		Functions: []FunctionStatus{{Name: "loop", Personality: "loopback", State: "enabled",
			Events: map[string]uint64{"enable": 2},
			Endpoints: []EndpointStatus{{Name: "ep1", Address: "ep1in", InFlight: 3, Bytes: 4096, Completions: 1,
				Cancellations: 5, Errors: map[string]uint64{"shutdown": 8}, LastError: "x"}}}},
	}
	ln, err := listenStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { serveStatus(ln, func() Status { return want }); close(done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := QueryStatus(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("status over the socket (-want +got):\n%s", diff)
	}

	// A second daemon on the same socket is refused while the first listens.
	if _, err := listenStatus(path); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Errorf("second listener: %v", err)
	}
	ln.Close()
	<-done
}

func TestStatusSocketStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	// A socket file nobody listens on, as a killed daemon leaves it.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	ln, err = listenStatus(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
	if _, err := QueryStatus(context.Background(), path); err == nil || !strings.Contains(err.Error(), "is gadgetd running") {
		t.Errorf("query without a daemon: %v", err)
	}
}
