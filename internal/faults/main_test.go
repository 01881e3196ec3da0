//go:build cgo

package faults

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
)

// envDaemon makes the test binary act as a gadgetd run of the file it
// names, so a test can SIGKILL a daemon process and start another.
const envDaemon = "FAULTS_DAEMON_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(envDaemon); path != "" {
		os.Exit(daemon(path))
	}
	os.Exit(m.Run())
}

func daemon(path string) int {
	cfg, err := config.ParseFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.StatusSocket = ""
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := gadget.Run(ctx, cfg, gadget.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
