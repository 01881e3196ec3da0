package config

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// DefaultAbortKeep is how many abort records gadgetd keeps in memory when
// the file does not say.
const DefaultAbortKeep = 4096

// abort decodes personality.abort; intfs are the function's interfaces,
// which a policy's endpoint must name.
func (d *decoder) abort(n *yaml.Node, path string, intfs []Interface) *AbortOptions {
	o := d.object(n, path)
	o.allow("action", "count", "records", "keep", "policies")
	a := &AbortOptions{Action: o.oneOf("action", "cancel", "halt", "disconnect"), Keep: DefaultAbortKeep}
	a.Count = int(o.integer("count", 0, 1<<31-1))
	if o.has("records") {
		a.Records = o.str("records")
	}
	if o.has("keep") {
		a.Keep = int(o.integer("keep", 1, 65535))
	}
	pn, pp := o.get("policies")
	for i, n := range d.list(pn, pp) {
		a.Policies = append(a.Policies, d.cancelPolicy(n, index(pp, i), intfs))
	}
	return a
}

func (d *decoder) cancelPolicy(n *yaml.Node, path string, intfs []Interface) CancelPolicy {
	o := d.object(n, path)
	o.allow("endpoint", "after", "after_bytes", "every", "probability", "seed")
	var c CancelPolicy
	if en, ep := o.get("endpoint"); en != nil {
		c.Endpoint = d.str(en, ep)
		found := false
		var names []string
		for _, intf := range intfs {
			for _, e := range intf.Endpoints {
				names = append(names, e.Address.String())
				found = found || e.Address.String() == c.Endpoint
			}
		}
		if d.err == nil && !found {
			d.failf(en, ep, "%q is not an endpoint of this function (%v)", c.Endpoint, names)
		}
	}
	if an, ap := o.get("after"); an != nil {
		c.After = d.duration(an, ap)
	}
	c.AfterBytes = o.integer("after_bytes", 0, 1<<62)
	c.Every = int(o.integer("every", 0, 1<<31-1))
	if pn, pp := o.get("probability"); pn != nil {
		c.Probability = d.probability(pn, pp)
	}
	c.Seed = uint64(o.integer("seed", 0, 1<<63-1))
	if d.err != nil {
		return c
	}
	triggers := 0
	for _, set := range []bool{c.AfterBytes > 0, c.Every > 0, c.Probability > 0} {
		if set {
			triggers++
		}
	}
	switch {
	case triggers > 1:
		d.failf(n, path, "after_bytes, every and probability are different policies: set one")
	case triggers == 0 && c.After == 0:
		d.failf(n, path, "no trigger: set after, after_bytes, every or probability")
	case c.AfterBytes > 0 && c.After > 0:
		d.failf(n, path, "after_bytes cancels at once: after does not apply")
	case o.has("seed") && c.Probability == 0:
		d.failf(n, path, "seed without probability")
	}
	return c
}

// probability accepts a number in (0, 1].
func (d *decoder) probability(n *yaml.Node, path string) float64 {
	if !d.is(n, path, yaml.ScalarNode) {
		return 0
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") || err != nil || v <= 0 || v > 1 {
		d.failf(n, path, "expected a probability in (0, 1], got %s", describe(n))
		return 0
	}
	return v
}
