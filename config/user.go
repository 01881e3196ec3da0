package config

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// userNameRE matches the user and group names useradd(8) accepts.
var userNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,30}\$?$`)

// user reads USER[:GROUP], each a name or a number. Names are looked up
// when gadgetd starts, not here: parsing does not depend on the machine.
// Root's uid, gid and name are refused.
func (d *decoder) user(n *yaml.Node, path string) string {
	if !d.is(n, path, yaml.ScalarNode) {
		return ""
	}
	if tag := n.ShortTag(); tag != "!!str" && tag != "!!int" {
		d.failf(n, path, "expected USER or USER:GROUP, got %s", describe(n))
		return ""
	}
	s := n.Value
	parts := strings.Split(s, ":")
	if len(parts) > 2 {
		d.failf(n, path, "%q: want USER or USER:GROUP (names or numbers)", s)
		return ""
	}
	for i, part := range parts {
		what := [...]string{"uid", "gid"}[i]
		switch {
		case part == "":
			d.failf(n, path, "%q: want USER or USER:GROUP (names or numbers)", s)
		case strings.Trim(part, "0123456789") == "":
			// 4294967295 is -1 to setuid(2) and setgid(2): "no change".
			if v, err := strconv.ParseUint(part, 10, 32); err != nil || v == 1<<32-1 {
				d.failf(n, path, "%q: %s %s is out of range (1..4294967294)", s, what, part)
			} else if v == 0 {
				d.failf(n, path, "%q: %s 0 is root's; the worker must run unprivileged", s, what)
			}
		case !userNameRE.MatchString(part):
			d.failf(n, path, "%q: %q is not a user or group name", s, part)
		case part == "root":
			d.failf(n, path, "%q: root's; the worker must run unprivileged", s)
		}
		if d.err != nil {
			return ""
		}
	}
	return s
}
