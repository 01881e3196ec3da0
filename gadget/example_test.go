package gadget_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
)

// Run is gadgetd run: make the gadget of a file, serve it until SIGTERM,
// leave nothing behind.
func ExampleRun() {
	f, err := os.Open("configs/loopback.yaml")
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := config.Parse(f.Name(), f)
	f.Close()
	if err != nil {
		log.Fatal(err) // one line: configs/loopback.yaml:LINE: field: reason
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := gadget.Run(ctx, cfg, gadget.Options{}); err != nil {
		log.Fatal(err)
	}
}

// QueryStatus is gadgetd status: the counters of a running daemon.
func ExampleQueryStatus() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := gadget.QueryStatus(ctx, "/run/gadgetd/loopback.sock")
	if err != nil {
		log.Fatal(err)
	}
	for _, fn := range st.Functions {
		for _, ep := range fn.Endpoints {
			fmt.Printf("%s %s: %d bytes, %d in flight, errors %v\n", fn.Name, ep.Address, ep.Bytes, ep.InFlight, ep.Errors)
		}
	}
}
