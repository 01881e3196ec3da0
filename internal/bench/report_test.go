package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func loadRun(t *testing.T) *Run {
	t.Helper()
	b, err := os.ReadFile("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestRatios(t *testing.T) {
	rs := Ratios(loadRun(t).Points)
	type row struct {
		impl, dir    string
		size, flight int
		mbps, busy   float64
	}
	var got []row
	for _, r := range rs {
		if r.Got.Impl != Reference(r.Ref.Impl) && Reference(r.Got.Impl) != r.Ref.Impl {
			t.Errorf("%s compared with %s", r.Got.Impl, r.Ref.Impl)
		}
		got = append(got, row{r.Got.Impl, r.Got.Dir, r.Got.RequestSize, r.Got.InFlight, math.Round(r.MBps()*1000) / 1000, math.Round(r.Busy()*1000) / 1000})
	}
	// The failed gadgetd point (both) and the one without a kernel
	// reference (512 x32) have no row. Busy: gadgetd used the same CPU
	// seconds for half the bytes at 64K in, so twice the time per MiB.
	want := []row{
		{GadgetdLoopback, "both", 65536, 8, 0.5, 2},
		{GadgetdSourceSink, "in", 512, 1, 0.5, 2},
		{GadgetdSourceSink, "in", 65536, 8, 0.95, 2},
		{GadgetdSourceSink, "out", 65536, 8, 0.8, 1.25},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Ratios:\n got %v\nwant %v", got, want)
	}
	if _, ok := Find(rs, GadgetdSourceSink, "both", 65536, 8); ok {
		t.Error("Find returned the failed point")
	}
}

// svgSeries parses an SVG document strictly and returns each polyline's
// title and its points.
func svgSeries(t *testing.T, doc []byte) map[string][][2]float64 {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	series := map[string][][2]float64{}
	var stack []string
	var points string
	sawRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root element %v, want svg in the SVG namespace", tok.Name)
				}
				sawRoot = true
			}
			stack = append(stack, tok.Name.Local)
			if tok.Name.Local == "polyline" {
				for _, a := range tok.Attr {
					if a.Name.Local == "points" {
						points = a.Value
					}
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) >= 2 && stack[len(stack)-1] == "title" && stack[len(stack)-2] == "polyline" {
				var pts [][2]float64
				for _, p := range strings.Fields(points) {
					x, y, _ := strings.Cut(p, ",")
					fx, err1 := strconv.ParseFloat(x, 64)
					fy, err2 := strconv.ParseFloat(y, 64)
					if err1 != nil || err2 != nil {
						t.Fatalf("polyline point %q", p)
					}
					pts = append(pts, [2]float64{fx, fy})
				}
				series[string(tok)] = pts
			}
		}
	}
	if !sawRoot {
		t.Fatal("no svg element")
	}
	return series
}

func TestWriteSVG(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSVG(&b, loadRun(t)); err != nil {
		t.Fatal(err)
	}
	series := svgSeries(t, b.Bytes())
	var names []string
	for k := range series {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{
		"gadgetd-loopback both x8",
		"gadgetd-sourcesink in x1",
		"gadgetd-sourcesink in x32",
		"gadgetd-sourcesink in x8",
		"gadgetd-sourcesink out x8",
		"kernel-loopback both x8",
		"kernel-sourcesink both x8",
		"kernel-sourcesink in x1",
		"kernel-sourcesink in x8",
		"kernel-sourcesink out x8",
		"usbtest gadgetd-sourcesink in x8",
		"usbtest kernel-sourcesink in x8",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("series:\n got %q\nwant %q", names, want)
	}
	// In the "SourceSink in" panel, kernel x8 (100 MB/s) is drawn higher
	// (smaller y) than gadgetd x8 (95), and 64K right of 512.
	k, g := series["kernel-sourcesink in x8"], series["gadgetd-sourcesink in x8"]
	if len(k) != 1 || len(g) != 1 || !(k[0][1] < g[0][1]) {
		t.Errorf("kernel in x8 %v should be above gadgetd in x8 %v", k, g)
	}
	if s := series["kernel-sourcesink in x1"]; len(s) != 1 || !(s[0][0] < k[0][0]) {
		t.Errorf("512 B point %v should be left of the 64K point %v", s, k)
	}
	// A failed point draws nothing: gadgetd's "both" series is absent (above).
	if strings.Contains(b.String(), "device gone") {
		t.Error("an error message leaked into the plot")
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	h := Host{CPU: "Xeon x 2", LoadBefore: "3.65 5.69 7.49", LoadAfter: "4.00 5.00 7.00", Command: "make bench", SVG: "benchmarks.svg"}
	if err := WriteMarkdown(&b, loadRun(t), h); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"Reproduce: `make bench`",
		"| date | 2026-11-25 14:00 UTC |",
		"| guest kernel | 6.1.0-56-amd64, 2 vCPU (QEMU TCG CPU version 2.5+) |",
		"| host load average (1/5/15 min) | before 3.65 5.69 7.49, after 4.00 5.00 7.00 |",
		// Goals: 0.95 meets 0.9, 0.8 does not, "both" failed.
		"64K x 8, in | 0.95x (95.0 vs 100.0 MB/s) | yes |",
		"64K x 8, out | 0.80x (40.0 vs 50.0 MB/s) | **no** |",
		"64K x 8, both | not measured |",
		"depth 1 | p99 800 us (p50 300, max 2000, 3000 cancels) | yes |",
		"depth 32 | p99 4000 us (p50 900, max 9000, 3000 cancels) | **no** |",
		"4 endpoint pairs (one function) | 1 reaper goroutine(s), 7 OS threads | yes |",
		"![MB/s against request size",
		"(benchmarks.svg)",
		// gadget ms/MiB: 0.5 s over 100 MiB = 5 ms/MiB; kworker 0.2 s over 200 MiB = 1 ms.
		"| sourcesink | in | 64K | 8 | 100.0 | 95.0 | 0.95 | 5.0 (2.0) | 1.0 / 3.0 | 7.5 / 12.0 | 10.0 / 20.0 | 2.00 | 20.0 MiB |",
		"| gadgetd-sourcesink | both | 64K | 8 | hosttest bench: exit status 3: device gone |",
		"| 32 | 3000 | 900 | 4000 | 9000 | ECONNRESET 2999, completed 1 | EINPROGRESS 2999, EINVAL 1 |",
		"| 64 | 20 | 10000 | 12000 | 12000 | ESHUTDOWN 1280 |",
		"| pairs | 4 | 64K | 8 | 80.0 | 50% | 12 | 1 | 7 | 40.0 MiB |  |",
		`bench: bind: no endpoint \| left`,
		"- scale: something was not measured",
		// usbtest 64K x 8 in: 0.25 s over 1 s and 100 MiB.
		"64K x 8 in under usbtest: 2.5 ms of its own CPU per MiB, 80% of it in kernel",
		"at 180.0 MB/s that is 25% of one vCPU for the process.",
		// Host CPU shares of the 9 sampled points: 0 x4, .5, .6, .75, .8, .9.
		"median of 50% of one vCPU during its timed runs (9 points)",
		// 512 x1: gadgetd's CPU could not be sampled, its throughput counts.
		"| sourcesink | in | 512 | 1 | 2.0 | 1.0 | 0.50 | ? (?) | 0.0 / ? | 0.0 / ? | 524.3 / ? | ? | - |", // 2 s over 4e6 bytes,
		"`?`: too few CPU samples",
		// usbtest: its own table, without the host column, and a goal row.
		"## gadgetd against the kernel with the kernel's usbtest as the host",
		"| sourcesink | in | 64K | 8 | 200.0 | 180.0 | 0.90 | 2.5 (2.0) | 0.0 / 0.0 | 5.0 / 10.0 | 2.00 | - |",
		"| the same, host = kernel usbtest (test 28), in | 0.90x (180.0 vs 200.0 MB/s) | yes |",
		"| kernel-sourcesink | out | 64K | 8 | usbtest test 27: fail: broken pipe |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}
