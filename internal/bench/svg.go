package bench

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// elem is one SVG element; encoding/xml escapes every attribute and text,
// so the output is well-formed whatever the labels hold.
type elem struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []elem
}

func el(name string, kv ...string) elem {
	e := elem{XMLName: xml.Name{Local: name}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: kv[i]}, Value: kv[i+1]})
	}
	return e
}

func (e elem) with(children ...elem) elem { e.Children = append(e.Children, children...); return e }
func (e elem) text(s string) elem         { e.Text = s; return e }

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// Panel geometry in SVG user units.
const (
	panelW, panelH = 460, 300
	marginL        = 60
	marginR        = 20
	marginT        = 30
	marginB        = 45
	legendH        = 40
)

// depthColors distinguish transfers in flight; the implementation is the
// line style (kernel solid, gadgetd dashed).
var depthColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"}

// panel is one personality and direction with one host driver:
// throughput against request size.
type panel struct {
	title  string
	impls  []string
	dir    string
	points []Point
	host   string // "" for hosttest, "usbtest"
}

// WriteSVG plots MB/s (both directions added) against request size, one
// panel per host driver, personality and direction, one line per
// implementation and number of transfers in flight. Each line is a
// <polyline> whose <title> names its series ("gadgetd-sourcesink in x8",
// "usbtest kernel-sourcesink out x8").
func WriteSVG(w io.Writer, r *Run) error {
	return WriteReportSVG(w, Report{Guests: []Guest{{Run: r}}})
}

// WriteReportSVG plots every guest of a report, one row of panels each,
// medians of the rounds; with several guests each panel and series title
// starts with the guest's kernel and setting.
func WriteReportSVG(w io.Writer, rep Report) error {
	var panels []panel
	var all []Point
	for _, g := range rep.Guests {
		r := g.Run
		label := ""
		if len(rep.Guests) > 1 {
			label = r.Kernel
			if g.Host.Append != "" {
				label += " " + g.Host.Append
			}
		}
		for _, host := range []struct {
			name   string
			points []Point
		}{{"", MedianPoints(r.Points)}, {"usbtest", MedianPoints(r.Usbtest)}} {
			all = append(all, host.points...)
			for _, pers := range []struct{ name, kernel, gadgetd string }{
				{"SourceSink", KernelSourceSink, GadgetdSourceSink},
				{"Loopback", KernelLoopback, GadgetdLoopback},
			} {
				for _, dir := range []string{"in", "out", "both"} {
					if slices.ContainsFunc(host.points, func(p Point) bool {
						return (p.Impl == pers.kernel || p.Impl == pers.gadgetd) && p.Dir == dir && p.Err == ""
					}) {
						title := pers.name + " " + dir
						if host.name != "" {
							title += ", host " + host.name
						}
						series := host.name
						if label != "" {
							title = label + ": " + title
							series = strings.TrimSpace(label + " " + host.name)
						}
						panels = append(panels, panel{title, []string{pers.kernel, pers.gadgetd}, dir, host.points, series})
					}
				}
			}
		}
	}
	var depths []int
	for _, p := range all {
		if !slices.Contains(depths, p.InFlight) {
			depths = append(depths, p.InFlight)
		}
	}
	slices.Sort(depths)

	cols := 2
	rows := (len(panels) + cols - 1) / cols
	width, height := cols*panelW, rows*panelH+legendH
	root := el("svg", "xmlns", "http://www.w3.org/2000/svg", "width", strconv.Itoa(width), "height", strconv.Itoa(height),
		"viewBox", fmt.Sprintf("0 0 %d %d", width, height), "font-family", "sans-serif", "font-size", "11")
	root = root.with(el("rect", "width", strconv.Itoa(width), "height", strconv.Itoa(height), "fill", "white"))
	for i, pn := range panels {
		x0, y0 := float64(i%cols*panelW), float64(legendH+i/cols*panelH)
		root = root.with(plotPanel(pn, depths, x0, y0))
	}
	root = root.with(legend(depths))
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	if err := enc.Encode(root); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func legend(depths []int) elem {
	g := el("g", "class", "legend")
	x := 10.0
	for _, s := range []struct{ label, dash string }{{"kernel", ""}, {"gadgetd", "6,4"}} {
		line := el("line", "x1", num(x), "y1", "15", "x2", num(x+30), "y2", "15", "stroke", "black", "stroke-width", "2")
		if s.dash != "" {
			line.Attrs = append(line.Attrs, xml.Attr{Name: xml.Name{Local: "stroke-dasharray"}, Value: s.dash})
		}
		g = g.with(line, el("text", "x", num(x+35), "y", "19").text(s.label))
		x += 100
	}
	for i, d := range depths {
		c := depthColors[i%len(depthColors)]
		g = g.with(el("rect", "x", num(x), "y", "9", "width", "12", "height", "12", "fill", c),
			el("text", "x", num(x+16), "y", "19").text(fmt.Sprintf("x%d in flight", d)))
		x += 90
	}
	return g
}

func plotPanel(pn panel, depths []int, x0, y0 float64) elem {
	var sel []Point
	for _, p := range pn.points {
		if slices.Contains(pn.impls, p.Impl) && p.Dir == pn.dir && p.Err == "" {
			sel = append(sel, p)
		}
	}
	minS, maxS, maxY := math.Inf(1), math.Inf(-1), 1.0
	for _, p := range sel {
		s := math.Log2(float64(p.RequestSize))
		minS, maxS, maxY = min(minS, s), max(maxS, s), max(maxY, p.MBps())
	}
	if maxS == minS {
		maxS = minS + 1
	}
	maxY = niceCeil(maxY)
	pw, ph := float64(panelW-marginL-marginR), float64(panelH-marginT-marginB)
	px := func(size int) float64 { return x0 + marginL + (math.Log2(float64(size))-minS)/(maxS-minS)*pw }
	py := func(v float64) float64 { return y0 + marginT + ph - v/maxY*ph }

	g := el("g", "class", "panel")
	g = g.with(el("text", "x", num(x0+marginL), "y", num(y0+marginT-10), "font-size", "13", "font-weight", "bold").text(pn.title + ": MB/s"))
	g = g.with(el("rect", "x", num(x0+marginL), "y", num(y0+marginT), "width", num(pw), "height", num(ph), "fill", "none", "stroke", "#999"))
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		g = g.with(el("line", "x1", num(x0+marginL), "y1", num(py(v)), "x2", num(x0+marginL+pw), "y2", num(py(v)), "stroke", "#eee"),
			el("text", "x", num(x0+marginL-5), "y", num(py(v)+4), "text-anchor", "end").text(strconv.FormatFloat(v, 'f', -1, 64)))
	}
	var sizes []int
	for _, p := range sel {
		if !slices.Contains(sizes, p.RequestSize) {
			sizes = append(sizes, p.RequestSize)
		}
	}
	slices.Sort(sizes)
	for _, s := range sizes {
		g = g.with(el("text", "x", num(px(s)), "y", num(y0+marginT+ph+15), "text-anchor", "middle").text(SizeLabel(s)))
	}
	g = g.with(el("text", "x", num(x0+marginL+pw/2), "y", num(y0+marginT+ph+32), "text-anchor", "middle").text("request size (log scale)"))
	for di, d := range depths {
		for _, impl := range pn.impls {
			var pts []string
			for _, p := range sel {
				if p.Impl == impl && p.InFlight == d {
					pts = append(pts, num(px(p.RequestSize))+","+num(py(p.MBps())))
				}
			}
			if len(pts) == 0 {
				continue
			}
			line := el("polyline", "points", strings.Join(pts, " "), "fill", "none",
				"stroke", depthColors[di%len(depthColors)], "stroke-width", "1.8")
			if Reference(impl) != "" {
				line.Attrs = append(line.Attrs, xml.Attr{Name: xml.Name{Local: "stroke-dasharray"}, Value: "6,4"})
			}
			title := fmt.Sprintf("%s %s x%d", impl, pn.dir, d)
			if pn.host != "" {
				title = pn.host + " " + title
			}
			g = g.with(line.with(el("title").text(title)))
		}
	}
	return g
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// SizeLabel writes a byte count as 512, 4K, 1M.
func SizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return strconv.Itoa(n)
}
