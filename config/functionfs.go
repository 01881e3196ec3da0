package config

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gadgetkit/gadgetkit/usb"
)

// maxRequestSize is the largest request f_fs takes: it copies every
// request through a kmalloc'd bounce buffer of at most 4 MiB.
const maxRequestSize = 4 << 20

func (d *decoder) functionFS(o *object, name string) *FunctionFS {
	f := &FunctionFS{
		Mount:  Mount{Dir: "/dev/usb-ffs/" + name},
		Speeds: []usb.Speed{usb.SpeedFull, usb.SpeedHigh, usb.SpeedSuper},
	}
	if n, p := o.get("mount"); n != nil {
		f.Mount = d.mount(n, p, f.Mount)
	}
	if n, p := o.get("speeds"); n != nil {
		f.Speeds = nil
		nodes := d.list(n, p)
		if d.err == nil && len(nodes) == 0 {
			d.failf(n, p, "at least one speed is needed")
		}
		for j, sn := range nodes {
			s := speeds[d.oneOf(sn, index(p, j), "full", "high", "super")]
			if d.err == nil && slices.Contains(f.Speeds, s) {
				d.failf(sn, index(p, j), "%s is listed twice", s)
			}
			f.Speeds = append(f.Speeds, s)
		}
		slices.Sort(f.Speeds)
	}
	if n, p := o.get("flags"); n != nil {
		for j, fn := range d.list(n, p) {
			switch d.oneOf(fn, index(p, j), "virtual_addr", "all_ctrl_recip", "config0_setup") {
			case "virtual_addr":
				f.Flags.VirtualAddr = true
			case "all_ctrl_recip":
				f.Flags.AllCtrlRecip = true
			case "config0_setup":
				f.Flags.Config0Setup = true
			}
		}
	}
	in, ip := o.need("interfaces")
	nodes := d.list(in, ip)
	if d.err == nil && len(nodes) == 0 {
		d.failf(in, ip, "at least one interface is needed")
	}
	eps := &endpointNumbers{next: map[usb.Direction]int{}, used: map[usb.EndpointAddress]bool{}}
	var named []usb.LangID // languages of the first named interface
	namedAt := ""
	for j, n := range nodes {
		p := index(ip, j)
		intf := d.iface(n, p, f.Speeds, eps)
		names := []struct {
			ss   []LangString
			n    *yaml.Node
			path string
		}{{intf.Name, n, p}}
		an, ap := d.object(n, p).get("alt_settings")
		for k, st := range intf.AltSettings {
			names = append(names, struct {
				ss   []LangString
				n    *yaml.Node
				path string
			}{st.Name, find(an, k), index(ap, k)})
		}
		for _, nm := range names {
			if len(nm.ss) == 0 || d.err != nil {
				continue
			}
			langs := langsOf(nm.ss)
			if named == nil {
				named, namedAt = langs, nm.path
			} else if !slices.Equal(langs, named) {
				nn, np := d.object(nm.n, nm.path).get("name")
				d.failf(nn, np, "languages %s differ from %s.name's %s (each language needs every string)",
					langList(langs), namedAt, langList(named))
			}
		}
		f.Interfaces = append(f.Interfaces, intf)
	}
	if an, ap := o.get("associations"); an != nil {
		f.Associations = d.associations(an, ap)
		for j, a := range f.Associations {
			if langs := langsOf(a.Name); len(langs) > 0 && d.err == nil {
				p := index(ap, j)
				if named == nil {
					named, namedAt = langs, p
				} else if !slices.Equal(langs, named) {
					nn, np := d.object(find(an, j), p).get("name")
					d.failf(nn, np, "languages %s differ from %s.name's %s (each language needs every string)",
						langList(langs), namedAt, langList(named))
				}
			}
		}
	}
	pn, pp := o.need("personality")
	f.Personality = d.personality(pn, pp, f.Interfaces)
	return f
}

func langsOf(ss []LangString) []usb.LangID {
	var langs []usb.LangID
	for _, s := range ss {
		langs = append(langs, s.Lang)
	}
	slices.Sort(langs)
	return langs
}

func langList(langs []usb.LangID) string {
	var s []string
	for _, l := range langs {
		s = append(s, fmt.Sprintf("%#x", uint16(l)))
	}
	return strings.Join(s, ", ")
}

func (d *decoder) mount(n *yaml.Node, path string, m Mount) Mount {
	o := d.object(n, path)
	o.allow("dir", "uid", "gid", "mode", "rmode", "fmode", "no_disconnect")
	if n, p := o.get("dir"); n != nil {
		m.Dir = d.str(n, p)
		if d.err == nil && (!filepath.IsAbs(m.Dir) || filepath.Clean(m.Dir) != m.Dir || m.Dir == "/") {
			d.failf(n, p, "%q is not a clean absolute directory path", m.Dir)
		}
	}
	m.UID = uint32(o.integer("uid", 0, 1<<32-2))
	m.GID = uint32(o.integer("gid", 0, 1<<32-2))
	mode := d.mode(o.get("mode"))
	m.RMode, m.FMode = d.mode(o.get("rmode")), d.mode(o.get("fmode"))
	if m.RMode == 0 {
		m.RMode = mode
	}
	if m.FMode == 0 {
		m.FMode = mode
	}
	m.NoDisconnect = o.boolean("no_disconnect")
	return m
}

// mode accepts permission bits, written in octal.
func (d *decoder) mode(n *yaml.Node, path string) fs.FileMode {
	if n == nil || !d.is(n, path, yaml.ScalarNode) {
		return 0
	}
	if n.ShortTag() != "!!int" {
		d.failf(n, path, "expected a mode in octal (e.g. 0o660), got %s", describe(n))
		return 0
	}
	v := d.integer(n, path, 0, 1<<31)
	if d.err == nil && v > 0o777 {
		d.failf(n, path, "%s is not a permission mode (write it in octal, e.g. 0o660)", n.Value)
	}
	return fs.FileMode(v)
}

// endpointNumbers hands out endpoint numbers per direction and finds
// addresses used twice.
type endpointNumbers struct {
	next map[usb.Direction]int
	used map[usb.EndpointAddress]bool
}

var guidRE = regexp.MustCompile(`^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$`)

// setting reads what an interface and each of its alternate settings
// have: class, subclass, protocol, name, class descriptors and endpoints.
func (d *decoder) setting(o *object, speeds []usb.Speed, eps *endpointNumbers) AltSetting {
	st := AltSetting{Class: usb.ClassVendorSpecific}
	if n, p := o.get("class"); n != nil {
		st.Class = d.class(n, p)
	}
	st.SubClass = o.u8("subclass")
	st.Protocol = o.u8("protocol")
	if n, p := o.get("name"); n != nil {
		st.Name = d.langStrings(n, p)
	}
	cn, cp := o.get("class_descriptors")
	for j, n := range d.list(cn, cp) {
		b := d.hexBytes(n, index(cp, j))
		if d.err == nil && (len(b) < 2 || int(b[0]) != len(b)) {
			d.failf(n, index(cp, j), "bLength %d does not match the %d bytes given", b[0], len(b))
		}
		st.ClassDescriptors = append(st.ClassDescriptors, b)
	}
	en, ep := o.get("endpoints")
	for j, n := range d.list(en, ep) {
		st.Endpoints = append(st.Endpoints, d.endpoint(n, index(ep, j), speeds, eps))
	}
	return st
}

func (d *decoder) iface(n *yaml.Node, path string, speeds []usb.Speed, eps *endpointNumbers) Interface {
	o := d.object(n, path)
	o.allow("class", "subclass", "protocol", "name", "class_descriptors", "endpoints", "os_desc", "alt_settings")
	st := d.setting(o, speeds, eps)
	intf := Interface{Class: st.Class, SubClass: st.SubClass, Protocol: st.Protocol, Name: st.Name,
		ClassDescriptors: st.ClassDescriptors, Endpoints: st.Endpoints}
	an, ap := o.get("alt_settings")
	for j, n := range d.list(an, ap) {
		ao := d.object(n, index(ap, j))
		ao.allow("class", "subclass", "protocol", "name", "class_descriptors", "endpoints")
		intf.AltSettings = append(intf.AltSettings, d.setting(ao, speeds, eps))
	}
	if n, p := o.get("os_desc"); n != nil {
		if d.err == nil && !d.osDesc {
			d.failf(n, p, "needs gadget.os_desc, or the host never asks for OS descriptors")
		}
		od := d.object(n, p)
		od.allow("compatible_id", "sub_compatible_id", "properties")
		intf.CompatibleID = d.compatID(od.get("compatible_id"))
		intf.SubCompatibleID = d.compatID(od.get("sub_compatible_id"))
		pn, pp := od.get("properties")
		for j, n := range d.list(pn, pp) {
			intf.Properties = append(intf.Properties, d.property(n, index(pp, j)))
		}
	}
	return intf
}

var propertyTypes = map[string]PropertyType{
	"sz": PropSZ, "expand_sz": PropExpandSZ, "binary": PropBinary, "dword_le": PropDWordLittleEndian,
	"dword_be": PropDWordBigEndian, "link": PropLink, "multi_sz": PropMultiSZ,
}

func (d *decoder) property(n *yaml.Node, path string) Property {
	var pr Property
	o := d.object(n, path)
	o.allow("name", "type", "value")
	nn, np := o.need("name")
	pr.Name = d.str(nn, np)
	if d.err == nil && pr.Name == "" {
		d.failf(nn, np, "empty")
	}
	tn, tp := o.need("type")
	// Which types f_fs serves and how large a property may be are
	// package ffs's rules (see ffsCheck).
	pr.Type = propertyTypes[d.oneOf(tn, tp, "sz", "expand_sz", "binary", "dword_le", "dword_be", "link", "multi_sz")]
	vn, vp := o.need("value")
	if pr.Type == PropBinary {
		pr.Binary = d.hexBytes(vn, vp)
	} else {
		pr.Strings = []string{d.str(vn, vp)}
	}
	if d.err == nil && strings.HasPrefix(pr.Name, "DeviceInterfaceGUID") {
		for _, s := range pr.Strings {
			if !guidRE.MatchString(s) {
				d.failf(vn, vp, "%q is not a GUID like {01234567-89ab-cdef-0123-456789abcdef}", s)
				break
			}
		}
	}
	return pr
}

var transferTypes = map[string]usb.TransferType{
	"bulk": usb.Bulk, "interrupt": usb.Interrupt, "isochronous": usb.Isochronous,
}

func (d *decoder) endpoint(n *yaml.Node, path string, speeds []usb.Speed, eps *endpointNumbers) Endpoint {
	var ep Endpoint
	o := d.object(n, path)
	o.allow("number", "direction", "type", "max_packet", "interval", "transactions", "burst", "max_streams", "mult",
		"iso_attributes", "bytes_per_interval")
	dir := usb.Out
	if o.oneOf("direction", "in", "out") == "in" {
		dir = usb.In
	}
	ep.Type = transferTypes[o.oneOf("type", "bulk", "interrupt", "isochronous")]
	var num int
	if nn, np := o.get("number"); nn != nil {
		num = int(d.integer(nn, np, 0, 1<<31))
		if d.err == nil && (num < 1 || num > 15) {
			d.failf(nn, np, "%d is not an endpoint number (1..15)", num)
		}
		if d.err == nil && eps.used[usb.Address(num, dir)] {
			d.failf(nn, np, "%s is used twice", usb.Address(num, dir))
		}
	} else if d.err == nil {
		num = eps.next[dir] + 1
		for num <= 15 && eps.used[usb.Address(num, dir)] {
			num++
		}
		if num > 15 {
			d.failf(o.node, join(path, "number"), "no %s endpoint number is left (1..15)", dir)
		}
	}
	ep.Address = usb.Address(num, dir)
	eps.used[ep.Address] = true
	eps.next[dir] = max(eps.next[dir], num)

	ep.MaxPacket = d.maxPacket(o, ep.Type, speeds)
	periodic := ep.Type != usb.Bulk
	in, ip := o.get("interval")
	switch {
	case periodic && in == nil:
		d.failf(o.node, ip, "required for %s endpoints", ep.Type)
	case !periodic && in != nil:
		d.failf(in, ip, "bulk endpoints have no interval")
	case periodic:
		ep.Interval = d.interval(in, ip, slices.Contains(speeds, usb.SpeedFull))
	}
	ep.Transactions = 1
	if tn, tp := o.get("transactions"); tn != nil {
		if d.err == nil && !periodic {
			d.failf(tn, tp, "only interrupt and isochronous endpoints have several transactions per microframe")
		}
		ep.Transactions = uint8(d.integer(tn, tp, 1, 3))
	}
	// What these may be is package ffs's to say (see ffsCheck); here they
	// only have to fit their fields.
	ep.MaxBurst = uint8(o.integer("burst", 0, 255))
	ep.MaxStreams = uint8(o.integer("max_streams", 0, 255))
	ep.Mult = uint8(o.integer("mult", 0, 255))
	if an, ap := o.get("iso_attributes"); an != nil {
		ep.IsoAttributes = uint8(d.bits(an, ap, 8))
	}
	if bn, bp := o.get("bytes_per_interval"); bn != nil {
		ep.BytesPerInterval = uint16(d.bits(bn, bp, 16))
	}
	return ep
}

// maxPacket reads max_packet: one size for every speed, or (bulk only) a
// mapping of full, high and super; bulk defaults to 64, 512 and 1024.
func (d *decoder) maxPacket(o *object, t usb.TransferType, speeds []usb.Speed) MaxPacket {
	n, path := o.get("max_packet")
	mp := MaxPacket{64, 512, 1024}
	at := map[usb.Speed]*yaml.Node{}
	atPath := map[usb.Speed]string{}
	switch {
	case n == nil && t != usb.Bulk:
		d.failf(o.node, path, "required for %s endpoints", t)
		return mp
	case n == nil:
		return mp
	case n.Kind == yaml.MappingNode:
		if t != usb.Bulk {
			d.failf(n, path, "%s endpoints have one size at every speed", t)
			return mp
		}
		so := d.object(n, path)
		so.allow("full", "high", "super")
		for _, f := range []struct {
			name  string
			speed usb.Speed
			dst   *uint16
		}{{"full", usb.SpeedFull, &mp.Full}, {"high", usb.SpeedHigh, &mp.High}, {"super", usb.SpeedSuper, &mp.Super}} {
			if v, p := so.get(f.name); v != nil {
				*f.dst = uint16(d.bits(v, p, 16))
				at[f.speed], atPath[f.speed] = v, p
			}
		}
	default:
		v := uint16(d.bits(n, path, 16))
		mp = MaxPacket{v, v, v}
		for _, s := range speeds {
			at[s], atPath[s] = n, path
		}
	}
	for _, s := range speeds {
		v := map[usb.Speed]uint16{usb.SpeedFull: mp.Full, usb.SpeedHigh: mp.High, usb.SpeedSuper: mp.Super}[s]
		if why := checkMaxPacket(t, s, v); why != "" && at[s] != nil {
			d.failf(at[s], atPath[s], "%d is not allowed for %s at %s speed (%s)", v, t, speedWord[s], why)
		}
	}
	return mp
}

var speedWord = map[usb.Speed]string{usb.SpeedFull: "full", usb.SpeedHigh: "high", usb.SpeedSuper: "super"}

// checkMaxPacket returns what a bulk wMaxPacketSize must be at speed s, or
// "" if v is allowed (USB 2.0 5.8.3; USB 3.2 9.6.6). Only this schema can
// give bulk sizes per speed; interrupt and isochronous sizes, one for
// every speed, are package ffs's to check.
func checkMaxPacket(t usb.TransferType, s usb.Speed, v uint16) string {
	if t != usb.Bulk {
		return ""
	}
	switch s {
	case usb.SpeedFull:
		if v != 8 && v != 16 && v != 32 && v != 64 {
			return "must be 8, 16, 32 or 64"
		}
	case usb.SpeedHigh:
		if v != 512 {
			return "must be 512"
		}
	default:
		if v != 1024 {
			return "must be 1024"
		}
	}
	return ""
}

// interval reads a periodic endpoint's interval, at least 1ms when full
// speed is described (package ffs would round it up there). That it is
// 125µs times a power of two is package ffs's rule.
func (d *decoder) interval(n *yaml.Node, path string, full bool) time.Duration {
	v := d.duration(n, path)
	if d.err == nil && full && v < time.Millisecond {
		d.failf(n, path, "%v is shorter than a full-speed frame (1ms)", v)
	}
	return v
}

var personalityKeys = map[PersonalityKind][]string{
	PersonalityLoopback:   {"kind", "queue_depth", "request_size"},
	PersonalitySourceSink: {"kind", "queue_depth", "request_size", "pattern"},
	PersonalityAbort:      {"kind", "queue_depth", "request_size", "abort"},
}

func (d *decoder) personality(n *yaml.Node, path string, intfs []Interface) Personality {
	// gadget zero's defaults: qlen 32, buflen 4096.
	p := Personality{QueueDepth: 32, RequestSize: 4096}
	o := d.object(n, path)
	kn, kp := o.need("kind")
	p.Kind = PersonalityKind(d.oneOf(kn, kp, "loopback", "sourcesink", "abort"))
	o.allow(personalityKeys[p.Kind]...)
	if o.has("queue_depth") {
		p.QueueDepth = int(o.integer("queue_depth", 1, 1024))
	}
	if n, np := o.get("request_size"); n != nil {
		v := d.integer(n, np, 1, 1<<40)
		if d.err == nil && v > maxRequestSize {
			d.failf(n, np, "%d is larger than f_fs's 4 MiB bounce buffer", v)
		}
		p.RequestSize = int(v)
	}
	p.Pattern = d.pattern(o.get("pattern"))
	if an, ap := o.get("abort"); an != nil {
		p.Abort = d.abort(an, ap, intfs)
	} else if p.Kind == PersonalityAbort {
		o.need("abort")
	}
	if d.err != nil {
		return p
	}
	var bulkIn, bulkOut, any bool
	for _, intf := range intfs {
		for _, ep := range intf.Endpoints {
			any = true
			if ep.Type == usb.Bulk {
				bulkIn = bulkIn || ep.Address.IsIn()
				bulkOut = bulkOut || !ep.Address.IsIn()
			}
		}
	}
	switch {
	case p.Kind != PersonalityAbort && !(bulkIn && bulkOut):
		d.failf(kn, kp, "%s needs a bulk in and a bulk out endpoint", p.Kind)
	case p.Kind == PersonalityAbort && !any:
		d.failf(kn, kp, "abort needs an endpoint")
	}
	return p
}

// associations reads interface association descriptors. That each groups
// interfaces the function has, and no two overlap, is package ffs's rule.
func (d *decoder) associations(n *yaml.Node, path string) []Association {
	var out []Association
	for j, an := range d.list(n, path) {
		p := index(path, j)
		o := d.object(an, p)
		o.allow("first_interface", "interface_count", "class", "subclass", "protocol", "name")
		fn, fp := o.need("first_interface")
		a := Association{FirstInterface: uint8(d.integer(fn, fp, 0, 255))}
		cn, cp := o.need("interface_count")
		a.InterfaceCount = uint8(d.integer(cn, cp, 1, 255))
		if cl, clp := o.get("class"); cl != nil {
			a.Class = d.class(cl, clp)
		}
		a.SubClass, a.Protocol = o.u8("subclass"), o.u8("protocol")
		if nn, np := o.get("name"); nn != nil {
			a.Name = d.langStrings(nn, np)
		}
		out = append(out, a)
	}
	return out
}
