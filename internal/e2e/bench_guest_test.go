//go:build cgo

package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/gadget"
	"github.com/gadgetkit/gadgetkit/internal/usbtest"
	"github.com/gadgetkit/gadgetkit/vmtest/guest"
)

// BenchmarkSourceSinkThroughput measures gadgetd's sourcesink against the
// kernel's own SourceSink under the same host load, usbtest's tests 27
// (bulk OUT) and 28 (bulk IN) with 8 URBs of 64 KiB in flight, both
// functions with 8 requests of 64 KiB. Run it in the guest:
//
//	go test -exec "$PWD/bin/vmtest exec" -run '^$' -bench . -benchtime 1x ./internal/e2e/
func BenchmarkSourceSinkThroughput(b *testing.B) {
	guest.Require(b)
	// usbtest runs its performance tests only with pattern 0.
	if err := guest.LoadModule("usbtest", "pattern=0"); err != nil {
		b.Fatal(err)
	}
	defer guest.UnloadModule("usbtest")
	b.Run("kernel", func(b *testing.B) {
		g := guest.NewGadget(b, guest.GadgetSpec{VID: 0x0525, PID: 0xa4a0, Functions: []string{"SourceSink.0"},
			Attrs: map[string]string{"functions/SourceSink.0/bulk_buflen": "65536", "functions/SourceSink.0/bulk_qlen": "8"}})
		if err := g.Bind(); err != nil {
			b.Fatal(err)
		}
		measure(b, g.Serial)
	})
	b.Run("gadgetd", func(b *testing.B) {
		path := filepath.Join("..", "..", "configs", "sourcesink.yaml")
		cfg, err := config.ParseFile(path)
		if err != nil {
			b.Fatal(err)
		}
		p := &cfg.Functions[0].FunctionFS.Personality
		p.Pattern, p.QueueDepth, p.RequestSize = config.PatternZeros, 8, 64<<10
		cfg.StatusSocket = ""
		g, err := gadget.Start(cfg, gadget.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer g.Close()
		measure(b, cfg.Gadget.Strings[0].Serial)
	})
}

func measure(b *testing.B, serial string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dev, err := usbtest.Wait(ctx, func(d usbtest.Device) bool { return d.Serial == serial })
	if err != nil {
		b.Fatal(err)
	}
	const iterations = 50 // 25 MiB per direction
	var out, in float64
	b.ResetTimer()
	for range b.N {
		rs, err := usbtest.RunSuite(ctx, dev, usbtest.Throughput(iterations, 64<<10, 8))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			if r.Status != usbtest.Passed {
				b.Fatalf("test %d: %s: %v", r.Params.Test, r.Status, r.Err)
			}
			if r.Params.Test == 27 {
				out += r.MBps()
			} else {
				in += r.MBps()
			}
		}
	}
	b.ReportMetric(out/float64(b.N), "out-MB/s")
	b.ReportMetric(in/float64(b.N), "in-MB/s")
}
