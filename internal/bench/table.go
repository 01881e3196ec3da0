package bench

import (
	"cmp"
	"slices"
)

// Ratio pairs a gadgetd point with the kernel's at the same direction,
// request size and transfers in flight, from the same run.
type Ratio struct {
	Got, Ref Point
}

// MBps is gadgetd's throughput over the kernel's (0 when the kernel moved
// nothing).
func (r Ratio) MBps() float64 { return div(r.Got.MBps(), r.Ref.MBps()) }

// Busy is gadgetd's whole-guest CPU time per MiB over the kernel's.
func (r Ratio) Busy() float64 {
	return div(r.Got.PerMiB(r.Got.BusyCPU), r.Ref.PerMiB(r.Ref.BusyCPU))
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Ratios pairs every successful gadgetd point with its kernel reference,
// ordered by implementation, direction, request size and transfers in
// flight. Points without a successful reference are left out.
func Ratios(points []Point) []Ratio {
	type key struct {
		impl, dir    string
		size, flight int
	}
	ref := make(map[key]Point)
	for _, p := range points {
		if Reference(p.Impl) == "" && p.Err == "" {
			ref[key{p.Impl, p.Dir, p.RequestSize, p.InFlight}] = p
		}
	}
	var out []Ratio
	for _, p := range points {
		r := Reference(p.Impl)
		if r == "" || p.Err != "" {
			continue
		}
		if k, ok := ref[key{r, p.Dir, p.RequestSize, p.InFlight}]; ok {
			out = append(out, Ratio{Got: p, Ref: k})
		}
	}
	slices.SortStableFunc(out, func(a, b Ratio) int {
		return cmp.Or(
			cmp.Compare(a.Got.Impl, b.Got.Impl),
			cmp.Compare(dirOrder(a.Got.Dir), dirOrder(b.Got.Dir)),
			cmp.Compare(a.Got.RequestSize, b.Got.RequestSize),
			cmp.Compare(a.Got.InFlight, b.Got.InFlight),
		)
	})
	return out
}

func dirOrder(d string) int {
	return slices.Index([]string{"in", "out", "both"}, d)
}

// Find returns the ratio at one point, if it was measured.
func Find(rs []Ratio, impl, dir string, size, flight int) (Ratio, bool) {
	for _, r := range rs {
		if r.Got.Impl == impl && r.Got.Dir == dir && r.Got.RequestSize == size && r.Got.InFlight == flight {
			return r, true
		}
	}
	return Ratio{}, false
}
