package gadget_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
)

// Run with a User is gadgetd run --user: this process stays root for
// configfs, the mounts and the UDC, and starts itself again as the worker
// that serves the endpoints as nobody. The program must become the worker
// when IsWorker says so, before doing anything else.
func ExampleRun_user() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if gadget.IsWorker() {
		if err := gadget.RunWorker(ctx, slog.Default()); err != nil {
			log.Fatal(err)
		}
		return
	}
	f, err := os.Open("configs/loopback.yaml")
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := config.Parse(f.Name(), f)
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	user, err := gadget.ParseUser("65534:65534")
	if err != nil {
		log.Fatal(err)
	}
	if err := gadget.Run(ctx, cfg, gadget.Options{User: &user}); err != nil {
		log.Fatal(err)
	}
}
