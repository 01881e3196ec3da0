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
		// Summary: no throughput row has 5 rounds (1 usbtest, 3 hosttest); the cancel p99 of 800 us is under 1 ms.
		"| 6.1.0-56-amd64 | default command line | not recorded | 3.65 5.69 7.49 / 4.00 5.00 7.00 | ? | 0 / 0 / 1 | 0 / 0 / 3 | 1 / 0 |",
		// The derivation names the kernel functions of each pass.
		"| gadgetd-sourcesink | in | f_fs: ffs_epfile_io's copy_from_iter",
		"| kernel-sourcesink | out | f_sourcesink: source_sink_complete's memset(req->buf, 0x55) before the requeue | zero | yes |",
		// usbtest 64K x 8 in: uncalibrated, so held to 0.9; gadgetd 0.25 s + 0 kworker over 100 MiB = 2.5 ms/MiB.
		"| in | 64K | 8 | 1 | 200.0 | 180.0 | 0.90 | - | 0.90 | not counted: 1 round(s), want >= 5 | 0.0 / 2.5 | 5.0 / 10.0 |",
		// hosttest: gadget side 0.5 + 0.3 s over 100 MiB = 8 ms/MiB; host peer 1.5 s of 2 = 75%.
		"| in | 64K | 8 | 1 | 100.0 | 95.0 | 0.95 | - | 0.90 | not counted: 1 round(s), want >= 5 | 1.0 / 8.0 | 7.5 / 12.0 | 75% / 60% | 10.0 / 20.0 |",
		// gadgetd's host peer at 1.6 s of 2: host-bound.
		"| out | 64K | 8 | 1 | 50.0 | 40.0 | 0.80 | - | 1.00 | not counted: host-bound: host peer at 80% of a vCPU; 1 round(s), want >= 5 |",
		// 512 x1: gadgetd's CPU could not be sampled, so neither was its host peer's.
		"| in | 512 | 1 | 1 | 2.0 | 1.0 | 0.50 | - | 0.90 | not counted: host peer's CPU not sampled; 1 round(s), want >= 5 | 0.0 / ? | 0.0 / ? | 0% / ? | 524.3 / ? |",
		"| kernel-sourcesink | usbtest | out | 64K | 8 | 0 | usbtest test 27: fail: broken pipe |",
		"| gadgetd-sourcesink | hosttest | both | 64K | 8 | 0 | hosttest bench: exit status 3: device gone |",
		"| engine p99 < 1 ms at depth 1 | 1 | p99 800 us (p50 300, max 2000, 3000 cancels; host load before / after 3.65 5.69 7.49 / 4.00 5.00 7.00) | **met** |",
		"| 32 | 3000 | 900 | 4000 | 9000 | ECONNRESET 2999, completed 1 | EINPROGRESS 2999, EINVAL 1 |",
		"| 64 | 20 | 10000 | 12000 | 12000 | ESHUTDOWN 1280 |",
		"| pairs | 4 | 64K | 8 | 80.0 | 50% | 12 | 1 | 7 | 40.0 MiB |  |",
		`bench: bind: no endpoint \| left`,
		"- scale: something was not measured",
		"| loopback | both | 64K | 8 | 40.0 | 20.0 | 0.50 |",
		"![MB/s against request size",
		"(benchmarks.svg)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// Nothing says met for a row that was not counted.
	if strings.Count(md, "**met**") != 1 {
		t.Errorf("%d rows say met, want only the cancel row", strings.Count(md, "**met**"))
	}
	if t.Failed() {
		t.Log(md)
	}
}

// A report of several guests has one section per guest, each naming its
// kernel and setting, and a summary row per guest; a row counts only with
// five rounds.
func TestWriteReportGuests(t *testing.T) {
	mk := func(kernel string, ioa bool, gadgetdIN float64) *Run {
		r := &Run{Kernel: kernel, CPUs: 2, UsbtestRounds: 5, InitOnAlloc: &InitOnAlloc{On: ioa, Known: true, Source: "test"},
			Calibration: []PassCost{{Size: 64 << 10, Reps: 5, Bytes: 8 << 20, CopyNs: 2, ZeroNs: 1, CopyBest: 2, ZeroBest: 1}}}
		r.Usbtest = rounds("usbtest", "in", 64<<10, 8, 5, 100, gadgetdIN, 0)
		return r
	}
	rep := Report{Command: "make bench", CPU: "Test CPU x 2", Seconds: 1500, Guests: []Guest{
		{Run: mk("6.1.0-57-amd64", true, 40), Host: Host{Kernel: "bookworm", LoadBefore: "1.00 1.00 1.00", LoadAfter: "2.00 2.00 2.00", Seconds: 360}},
		{Run: mk("6.1.0-57-amd64", false, 40), Host: Host{Kernel: "bookworm", Append: "init_on_alloc=0", Seconds: 350}},
	}}
	var b bytes.Buffer
	if err := WriteReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"(this run: 25 min 00 s on the host below, builds included)",
		// With init_on_alloc on the IN ceiling is 2/5 (threshold 0.36): 0.4x is met;
		// off, 2/4 (threshold 0.45): not met.
		"| 6.1.0-57-amd64 | default command line | on | 1.00 1.00 1.00 / 2.00 2.00 2.00 | 6 min 00 s | 1 / 0 / 0 | 0 / 0 / 0 | 0 / 0 |",
		"| 6.1.0-57-amd64 | `init_on_alloc=0` | off | ? / ? | 5 min 50 s | 0 / 1 / 0 | 0 / 0 / 0 | 0 / 0 |",
		"## 6.1.0-57-amd64, default command line",
		"## 6.1.0-57-amd64, `init_on_alloc=0`",
		"| guest kernel | 6.1.0-57-amd64 (`--kernel bookworm`), 2 vCPU",
		"| 64K | 1.000 (1.000) | 2.000 (2.000) | 5 x 8 MiB | 2.00 / 5.00 | 0.40 | 0.36 | 3.00 / 5.00 | 0.60 | 1.00 |",
		"| 64K | 1.000 (1.000) | 2.000 (2.000) | 5 x 8 MiB | 2.00 / 4.00 | 0.50 | 0.45 | 3.00 / 4.00 | 0.75 | 1.00 |",
		"| in | 64K | 8 | 5 | 100.0 | 40.0 | 0.40 | 0.40 | 0.36 | **met** |",
		"| in | 64K | 8 | 5 | 100.0 | 40.0 | 0.40 | 0.50 | 0.45 | not met |",
		"#### Round by round, usbtest",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
	b.Reset()
	if err := WriteReportSVG(&b, rep); err != nil {
		t.Fatal(err)
	}
	series := svgSeries(t, b.Bytes())
	for _, name := range []string{"6.1.0-57-amd64 usbtest gadgetd-sourcesink in x8", "6.1.0-57-amd64 init_on_alloc=0 usbtest kernel-sourcesink in x8"} {
		if _, ok := series[name]; !ok {
			t.Errorf("the plot lacks series %q: %v", name, series)
		}
	}
}

// TestAnchorTable: the anchor's row sets the medians of the three
// implementations side by side, its failed round left out of its count.
func TestAnchorTable(t *testing.T) {
	pt := func(impl string, round int, mbps float64, err string) Point {
		return Point{Impl: impl, Dir: "in", RequestSize: 4096, InFlight: 8, Round: round, InMBps: mbps, Bytes: 1 << 20, GadgetCPU: 0.5, Err: err}
	}
	points := []Point{
		pt(KernelSourceSink, 0, 100, ""), pt(GadgetdSourceSink, 0, 20, ""), pt(AnchorSourceSink, 0, 25, ""),
		pt(KernelSourceSink, 1, 80, ""), pt(GadgetdSourceSink, 1, 24, ""), pt(AnchorSourceSink, 1, 0, "usbtest timed out"),
		pt(KernelSourceSink, 2, 120, ""), pt(GadgetdSourceSink, 2, 22, ""), pt(AnchorSourceSink, 2, 35, ""),
	}
	var b bytes.Buffer
	anchorTable(&b, points)
	// Medians: kernel 100, gadgetd 22, anchor (two rounds) 30.
	want := "| in | 4K | 8 | 2 | 100.0 | 30.0 | 22.0 | 0.30 | 0.73 | 500.0 / 500.0 |\n"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("anchor table:\n%s\nwant the row\n%s", b.String(), want)
	}
	b.Reset()
	anchorTable(&b, points[:2])
	if b.Len() != 0 {
		t.Errorf("a run without the anchor got an anchor table:\n%s", b.String())
	}
}
