package abortlog

import (
	"fmt"
	"strconv"
	"strings"
)

// Kinds of abort, by what the gadget's requests see.
const (
	// KindGadgetCancel: the gadget io_cancels requests queued on an idle
	// endpoint. f_fs dequeues them (usb_ep_dequeue); the UDC completes
	// each with -ECONNRESET.
	KindGadgetCancel = "gadget-cancel"
	// KindShutdown: the endpoints are disabled under the requests
	// (disconnect, port reset, SET_INTERFACE); each completes with
	// -ESHUTDOWN and nothing is cancelled.
	KindShutdown = "shutdown"
	// KindHostOnly: the abort stays on the host side (a cancelled URB, a
	// halt and clear-halt handled by the UDC); no gadget request fails.
	KindHostOnly = "host-only"
)

// Expectation is what one scenario's gadget records should show.
type Expectation struct {
	IOCancel string // every record's io_cancel answer; "" for none issued
	Meaning  string // every record's completion meaning
	Records  int    // how many records; AtLeastOne for any but zero
}

// AtLeastOne is Expectation.Records for "one or more".
const AtLeastOne = -1

// Expected is Linux 6.1's documented behaviour (f_fs.c, fs/aio.c,
// dummy_hcd.c) for each kind; the gadget-cancel record count is the
// queue depth, set by the scenario.
var Expected = map[string]Expectation{
	KindGadgetCancel: {IOCancel: "EINPROGRESS", Meaning: "ECONNRESET", Records: AtLeastOne},
	KindShutdown:     {Meaning: "ESHUTDOWN", Records: AtLeastOne},
	KindHostOnly:     {Records: 0},
}

func (e Expectation) String() string {
	n := strconv.Itoa(e.Records)
	switch e.Records {
	case 0:
		return "no gadget record"
	case AtLeastOne:
		n = ">=1"
	}
	return n + " x " + shape(e.IOCancel, e.Meaning)
}

func shape(ioCancel, meaning string) string {
	res := "-" + meaning
	if meaning == "bytes" {
		res = "bytes"
	}
	if ioCancel == "" {
		return res
	}
	return "io_cancel " + ioCancel + " then " + res
}

// Deviation names of known kernel behaviours that differ from Expected.
const (
	DevRevertedPatch = "io_cancel returned 0 and posted -EINTR: kernel carries the reverted io_cancel-completions patch (fs/aio: Make io_cancel() generate completions again)"
)

// Outcome is how one scenario's records compare with its expectation.
type Outcome struct {
	Observed string   // the records grouped by shape, "4 x io_cancel EINPROGRESS then -ECONNRESET"
	Notes    []string // accepted variations: cancels that lost the race
	Diffs    []string // each difference from the expectation, named
}

// OK reports whether the records matched.
func (o Outcome) OK() bool { return len(o.Diffs) == 0 }

// Check compares the records of one scenario with e. A cancel that lost
// the race (io_cancel EINVAL or none, the transfer's own bytes) is
// accepted and noted, and so is a request resubmitted just after its
// endpoint was disabled (-EAGAIN where -ESHUTDOWN is expected); the
// reverted stable patch's shape is a named deviation.
func Check(e Expectation, recs []Record) Outcome {
	var o Outcome
	type key struct{ ioc, meaning string }
	count := map[key]int{}
	var order []key
	for _, r := range recs {
		k := key{r.IOCancel, r.Meaning}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	var obs []string
	for _, k := range order {
		obs = append(obs, fmt.Sprintf("%d x %s", count[k], shape(k.ioc, k.meaning)))
	}
	o.Observed = strings.Join(obs, ", ")
	if len(recs) == 0 {
		o.Observed = "no gadget record"
	}
	switch {
	case e.Records == AtLeastOne && len(recs) == 0:
		o.Diffs = append(o.Diffs, "expected gadget records, observed none")
	case e.Records >= 0 && len(recs) != e.Records:
		o.Diffs = append(o.Diffs, fmt.Sprintf("expected %d records, observed %d", e.Records, len(recs)))
	}
	for _, k := range order {
		n := count[k]
		switch {
		case e.Records == 0: // the count says it all
		case k.ioc == e.IOCancel && k.meaning == e.Meaning:
		case e.IOCancel != "" && (k.ioc == "EINVAL" || k.ioc == "none") && k.meaning == "bytes":
			o.Notes = append(o.Notes, fmt.Sprintf("%d cancels lost the race (the transfer completed first)", n))
		case e.Meaning == "ESHUTDOWN" && k.ioc == "" && k.meaning == "EAGAIN":
			o.Notes = append(o.Notes, fmt.Sprintf("%d requests submitted after the endpoint was disabled completed at once with -EAGAIN (O_NONBLOCK)", n))
		case e.IOCancel == "EINPROGRESS" && k.ioc == "0" && k.meaning == "EINTR":
			o.Diffs = append(o.Diffs, fmt.Sprintf("%d of %d records: %s", n, len(recs), DevRevertedPatch))
		default:
			o.Diffs = append(o.Diffs, fmt.Sprintf("expected %s, observed %s on %d of %d records",
				shape(e.IOCancel, e.Meaning), shape(k.ioc, k.meaning), n, len(recs)))
		}
	}
	return o
}

// Override replaces part of a scenario's expectation: the test-only way to
// prove that a wrong expectation turns a scenario red.
type Override struct {
	Scenario string // a scenario name, or "all"
	Field    string // "io_cancel", "meaning" or "records"
	Value    string
}

// ParseOverride parses SCENARIO:FIELD=VALUE, e.g.
// "gadget-cancel-in-d4-64k:meaning=ESHUTDOWN".
func ParseOverride(s string) (Override, error) {
	scen, rest, ok1 := strings.Cut(s, ":")
	field, value, ok2 := strings.Cut(rest, "=")
	if !ok1 || !ok2 || scen == "" {
		return Override{}, fmt.Errorf("expectation override %q: want SCENARIO:FIELD=VALUE", s)
	}
	o := Override{Scenario: scen, Field: field, Value: value}
	if _, err := o.Apply(Expectation{}); err != nil {
		return Override{}, err
	}
	return o, nil
}

// Apply returns e with the override's field replaced.
func (o Override) Apply(e Expectation) (Expectation, error) {
	switch o.Field {
	case "io_cancel":
		e.IOCancel = o.Value
	case "meaning":
		e.Meaning = o.Value
	case "records":
		n, err := strconv.Atoi(o.Value)
		if err != nil || n < AtLeastOne {
			return e, fmt.Errorf("expectation override %s: records %q: want a count, or -1 for at least one", o.Scenario, o.Value)
		}
		e.Records = n
	default:
		return e, fmt.Errorf("expectation override %s: field %q: want one of io_cancel, meaning, records", o.Scenario, o.Field)
	}
	return e, nil
}

// Matches reports whether the override is for scenario.
func (o Override) Matches(scenario string) bool {
	return o.Scenario == "all" || o.Scenario == scenario
}

// ApplyAll applies every matching override in order.
func ApplyAll(e Expectation, scenario string, os []Override) Expectation {
	for _, o := range os {
		if o.Matches(scenario) {
			e, _ = o.Apply(e) // fields were checked by ParseOverride
		}
	}
	return e
}
