package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is a problem with a gadget file, located by line and field.
type Error struct {
	File string
	Line int // 1-based; 0 when the problem has no line
	// Field is the path of the field, e.g.
	// "functions[0].interfaces[0].endpoints[1].max_packet.high"; "" when
	// the problem is with the file as a whole.
	Field string
	Msg   string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Field + ": " + e.Msg
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error into an *Error with its line.
func syntaxError(file string, err error) *Error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// decoder walks the yaml.Node tree. It keeps the first error and ignores
// everything after it, so that the schema code reads straight through.
type decoder struct {
	file string
	err  *Error
	// osDesc is whether the gadget turns on OS descriptors, which
	// functions' OS descriptors need.
	osDesc bool
}

func (d *decoder) failf(n *yaml.Node, field, format string, args ...any) {
	if d.err != nil {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	d.err = &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// describe names what a node holds, for "expected X, got Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int":
			return "the integer " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!float":
			return "the number " + n.Value
		}
		return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
	}
	return "something else"
}

var kindNames = map[yaml.Kind]string{
	yaml.MappingNode:  "a mapping",
	yaml.SequenceNode: "a list",
	yaml.ScalarNode:   "a value",
}

func (d *decoder) is(n *yaml.Node, path string, want yaml.Kind) bool {
	if d.err != nil || n == nil {
		return false
	}
	if n.Kind == yaml.AliasNode {
		d.failf(n, path, "YAML aliases are not supported")
		return false
	}
	if n.Kind != want {
		d.failf(n, path, "expected %s, got %s", kindNames[want], describe(n))
		return false
	}
	return true
}

// object is a mapping being decoded.
type object struct {
	d     *decoder
	node  *yaml.Node
	path  string
	keys  map[string]*yaml.Node
	vals  map[string]*yaml.Node
	order []string
}

func (d *decoder) object(n *yaml.Node, path string) *object {
	o := &object{d: d, node: n, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	if !d.is(n, path, yaml.MappingNode) {
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.failf(k, path, "keys must be plain names, got %s", describe(k))
			return o
		}
		if _, dup := o.vals[k.Value]; dup {
			d.failf(k, join(path, k.Value), "duplicate key")
			return o
		}
		o.keys[k.Value], o.vals[k.Value] = k, v
		o.order = append(o.order, k.Value)
	}
	return o
}

// allow fails on the first key that is not one of allowed.
func (o *object) allow(allowed ...string) {
	for _, k := range o.order {
		if !slices.Contains(allowed, k) {
			o.d.failf(o.keys[k], join(o.path, k), "unknown key (allowed: %s)", strings.Join(allowed, ", "))
			return
		}
	}
}

// get returns the value of key (nil if absent) and its path.
func (o *object) get(key string) (*yaml.Node, string) { return o.vals[key], join(o.path, key) }

// has reports whether key is present.
func (o *object) has(key string) bool { return o.vals[key] != nil }

// need returns the value of key, failing if it is absent.
func (o *object) need(key string) (*yaml.Node, string) {
	n, p := o.get(key)
	if n == nil {
		o.d.failf(o.node, p, "required")
	}
	return n, p
}

func (o *object) str(key string) string     { return o.d.str(o.get(key)) }
func (o *object) needStr(key string) string { return o.d.str(o.need(key)) }
func (o *object) boolean(key string) bool   { return o.d.boolean(o.get(key)) }
func (o *object) u8(key string) uint8       { n, p := o.get(key); return uint8(o.d.bits(n, p, 8)) }
func (o *object) u16(key string) uint16     { n, p := o.get(key); return uint16(o.d.bits(n, p, 16)) }
func (o *object) needU16(key string) uint16 { n, p := o.need(key); return uint16(o.d.bits(n, p, 16)) }
func (o *object) integer(key string, min, max int64) int64 {
	n, p := o.get(key)
	return o.d.integer(n, p, min, max)
}

// oneOf returns the required key's value, one of words.
func (o *object) oneOf(key string, words ...string) string {
	n, p := o.need(key)
	return o.d.oneOf(n, p, words...)
}

func (d *decoder) list(n *yaml.Node, path string) []*yaml.Node {
	if !d.is(n, path, yaml.SequenceNode) {
		return nil
	}
	return n.Content
}

func (d *decoder) str(n *yaml.Node, path string) string {
	if !d.is(n, path, yaml.ScalarNode) {
		return ""
	}
	switch n.ShortTag() {
	case "!!str":
	case "!!int", "!!float", "!!bool":
		d.failf(n, path, "expected a string, got %s (quote it)", describe(n))
		return ""
	default:
		d.failf(n, path, "expected a string, got %s", describe(n))
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	if !d.is(n, path, yaml.ScalarNode) {
		return false
	}
	v, err := strconv.ParseBool(n.Value)
	if n.ShortTag() != "!!bool" || err != nil {
		d.failf(n, path, "expected true or false, got %s", describe(n))
	}
	return v
}

// integer accepts YAML integers (decimal, 0x hex, 0o octal) in min..max.
func (d *decoder) integer(n *yaml.Node, path string, min, max int64) int64 {
	if !d.is(n, path, yaml.ScalarNode) {
		return 0
	}
	if n.ShortTag() != "!!int" {
		d.failf(n, path, "expected an integer, got %s", describe(n))
		return 0
	}
	v, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v < min || v > max {
		d.failf(n, path, "%s is out of range (%d..%d)", n.Value, min, max)
		return 0
	}
	return v
}

// bits accepts an unsigned integer of the given width.
func (d *decoder) bits(n *yaml.Node, path string, width int) uint64 {
	if !d.is(n, path, yaml.ScalarNode) {
		return 0
	}
	if n.ShortTag() != "!!int" {
		d.failf(n, path, "expected an integer, got %s", describe(n))
		return 0
	}
	v, err := strconv.ParseUint(n.Value, 0, width)
	if err != nil {
		d.failf(n, path, "%s does not fit in %d bits (0..%#x)", n.Value, width, uint64(1)<<width-1)
		return 0
	}
	return v
}

func (d *decoder) duration(n *yaml.Node, path string) time.Duration {
	s := d.str(n, path)
	if d.err != nil {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		d.failf(n, path, "%q is not a duration (e.g. 125us, 1ms, 2s)", s)
	}
	return v
}

// oneOf accepts one of the given words.
func (d *decoder) oneOf(n *yaml.Node, path string, words ...string) string {
	s := d.str(n, path)
	if d.err == nil && !slices.Contains(words, s) {
		d.failf(n, path, "%q is not one of %s", s, strings.Join(words, ", "))
	}
	return s
}
