package gadget

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/gadgetkit/gadgetkit/config"
)

// envHelper makes the test binary act as a gadgetd run (see runHelper), so
// tests can signal and kill a daemon process.
const envHelper = "GADGET_TEST_HELPER_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(envHelper); path != "" {
		os.Exit(runHelper(path))
	}
	os.Exit(m.Run())
}

func runHelper(path string) int {
	cfg, err := config.ParseFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Debug level: a test that finds the exit slow shows each teardown step.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := Run(ctx, cfg, Options{Logger: log}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
