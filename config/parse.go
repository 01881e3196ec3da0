package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"go.yaml.in/yaml/v3"

	"github.com/gadgetkit/gadgetkit/usb"
)

// maxFileSize bounds what Parse reads; a gadget file is a few KiB.
const maxFileSize = 1 << 20

// ParseFile is Parse of the file at path, named path in errors.
func ParseFile(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse reads one gadget file. name is used in errors, which are *Error
// values naming name:line and the field.
func Parse(name string, r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes", maxFileSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Line: 1, Msg: "empty file"}
		}
		return nil, syntaxError(name, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(name, err)
		}
		return nil, &Error{File: name, Line: next.Line, Msg: "a second YAML document: a gadget file holds one"}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: name, Line: doc.Line, Msg: "empty file"}
	}
	d := &decoder{file: name}
	c := d.config(doc.Content[0])
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

func (d *decoder) config(n *yaml.Node) *Config {
	c := &Config{}
	o := d.object(n, "")
	o.allow("gadget", "udc", "configurations", "functions", "status_socket", "user", "log")
	c.Gadget = d.gadget(o.need("gadget"))
	d.osDesc = c.Gadget.OSDesc != nil
	c.UDC = o.needStr("udc")
	if n, p := o.get("udc"); d.err == nil && !udcRE.MatchString(c.UDC) {
		d.failf(n, p, "%q is not a UDC name (as in /sys/class/udc, e.g. dummy_udc.0) or auto", c.UDC)
	}
	fnodes := d.list(o.need("functions"))
	for i, fn := range fnodes {
		c.Functions = append(c.Functions, d.function(fn, index("functions", i)))
	}
	cn, cp := o.need("configurations")
	cnodes := d.list(cn, cp)
	if d.err == nil && len(cnodes) == 0 {
		d.failf(cn, cp, "at least one configuration is needed")
	}
	for i, n := range cnodes {
		c.Configurations = append(c.Configurations, d.configuration(n, index("configurations", i), i))
	}
	if n, p := o.get("status_socket"); n != nil {
		c.StatusSocket = d.str(n, p)
		// sun_path holds 108 bytes with the terminating NUL.
		if d.err == nil && (c.StatusSocket == "" || len(c.StatusSocket) > 107) {
			d.failf(n, p, "%q is not a unix socket path (1..107 bytes)", c.StatusSocket)
		}
	}
	if n, p := o.get("user"); n != nil {
		c.User = d.user(n, p)
	}
	c.Log = Log{Format: "text", Level: "info"}
	if n, p := o.get("log"); n != nil {
		lo := d.object(n, p)
		lo.allow("format", "level")
		if n, p := lo.get("format"); n != nil {
			c.Log.Format = d.oneOf(n, p, "text", "json")
		}
		if n, p := lo.get("level"); n != nil {
			c.Log.Level = d.oneOf(n, p, "debug", "info", "warn", "error")
		}
	}
	if d.err == nil {
		d.crossCheck(c, n)
	}
	if d.err == nil {
		d.ffsCheck(c, n)
	}
	return c
}

// udcRE matches UDC device names such as dummy_udc.0 and fe980000.usb.
var udcRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:-]*$`)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkName accepts names that are safe as a configfs directory or
// functionfs instance: letters, digits, '_' and '-', up to 39 bytes (the
// longest functionfs instance name).
func checkName(s string) error {
	switch {
	case !nameRE.MatchString(s):
		return errors.New("is not a name (letters, digits, '_' and '-')")
	case len(s) > 39:
		return errors.New("is longer than 39 bytes")
	}
	return nil
}

func (d *decoder) name(n *yaml.Node, path string) string {
	s := d.str(n, path)
	if d.err == nil {
		if err := checkName(s); err != nil {
			d.failf(n, path, "%q %v", s, err)
		}
	}
	return s
}

func (d *decoder) gadget(n *yaml.Node, path string) Gadget {
	var g Gadget
	o := d.object(n, path)
	o.allow("name", "vid", "pid", "bcd_device", "bcd_usb", "class", "subclass", "protocol", "max_speed",
		"strings", "os_desc")
	g.Name = d.name(o.need("name"))
	g.VendorID = o.needU16("vid")
	g.ProductID = o.needU16("pid")
	g.BCDDevice = o.u16("bcd_device")
	g.BCDUSB = o.u16("bcd_usb")
	if n, p := o.get("class"); n != nil {
		g.Class = d.class(n, p)
	}
	g.SubClass = o.u8("subclass")
	g.Protocol = o.u8("protocol")
	if n, p := o.get("max_speed"); n != nil {
		g.MaxSpeed = speeds[d.oneOf(n, p, "full", "high", "super", "super-plus")]
	}
	if n, p := o.get("strings"); n != nil {
		d.langMap(n, p, func(lang usb.LangID, v *yaml.Node, vp string) {
			so := d.object(v, vp)
			so.allow("manufacturer", "product", "serial")
			s := DeviceStrings{Lang: lang}
			s.Manufacturer = d.usbString(so.get("manufacturer"))
			s.Product = d.usbString(so.get("product"))
			s.Serial = d.usbString(so.get("serial"))
			g.Strings = append(g.Strings, s)
		})
	}
	if n, p := o.get("os_desc"); n != nil {
		od := d.object(n, p)
		od.allow("vendor_code", "sign", "configuration")
		g.OSDesc = &OSDesc{Sign: "MSFT100", Configuration: 1}
		vn, vp := od.need("vendor_code")
		g.OSDesc.VendorCode = uint8(d.bits(vn, vp, 8))
		if n, p := od.get("sign"); n != nil {
			g.OSDesc.Sign = d.str(n, p)
			if d.err == nil && (g.OSDesc.Sign == "" || len(g.OSDesc.Sign) > 7) {
				d.failf(n, p, "%q is not 1..7 characters", g.OSDesc.Sign)
			}
		}
		if od.has("configuration") {
			g.OSDesc.Configuration = int(od.integer("configuration", 1, 255))
		}
	}
	return g
}

var speeds = map[string]usb.Speed{
	"full": usb.SpeedFull, "high": usb.SpeedHigh, "super": usb.SpeedSuper, "super-plus": usb.SpeedSuperPlus,
}

// class accepts a class code or its name as usb.Class prints it.
func (d *decoder) class(n *yaml.Node, path string) usb.Class {
	if d.is(n, path, yaml.ScalarNode) && n.ShortTag() == "!!str" {
		for c := range 256 {
			if usb.Class(c).String() == n.Value {
				return usb.Class(c)
			}
		}
		d.failf(n, path, "%q is not a class code or name (e.g. 0xff, vendor-specific)", n.Value)
		return 0
	}
	return usb.Class(d.bits(n, path, 8))
}

// langMap decodes a mapping from language IDs (0x409) to values.
func (d *decoder) langMap(n *yaml.Node, path string, each func(usb.LangID, *yaml.Node, string)) {
	o := d.object(n, path)
	for _, k := range o.order {
		p := join(path, k)
		v, err := strconv.ParseUint(k, 0, 16)
		if err != nil || v == 0 {
			d.failf(o.keys[k], p, "%q is not a USB language ID (e.g. 0x409)", k)
			return
		}
		each(usb.LangID(v), o.vals[k], p)
	}
}

// langStrings accepts a string (in en-US, 0x409) or a mapping from
// language IDs to strings.
func (d *decoder) langStrings(n *yaml.Node, path string) []LangString {
	if n.Kind == yaml.ScalarNode {
		return []LangString{{usb.LangEnglishUS, d.usbString(n, path)}}
	}
	var out []LangString
	d.langMap(n, path, func(lang usb.LangID, v *yaml.Node, vp string) {
		out = append(out, LangString{lang, d.usbString(v, vp)})
	})
	return out
}

// usbString accepts a string that fits a string descriptor: 126 UTF-16
// code units.
func (d *decoder) usbString(n *yaml.Node, path string) string {
	s := d.str(n, path)
	if units := len(utf16.Encode([]rune(s))); d.err == nil && units > 126 {
		d.failf(n, path, "%d UTF-16 code units, a string descriptor holds 126", units)
	}
	return s
}

func (d *decoder) configuration(n *yaml.Node, path string, i int) Configuration {
	c := Configuration{Number: i + 1, Attributes: 0x80}
	o := d.object(n, path)
	o.allow("number", "attributes", "max_power_ma", "strings", "functions")
	if o.has("number") {
		c.Number = int(o.integer("number", 1, 255))
	}
	if n, p := o.get("attributes"); n != nil {
		c.Attributes = d.configAttributes(n, p)
	}
	c.MaxPowerMA = int(o.integer("max_power_ma", 0, 900))
	if n, p := o.get("strings"); n != nil {
		c.Strings = d.langStrings(n, p)
	}
	fn, fp := o.need("functions")
	for j, f := range d.list(fn, fp) {
		c.Functions = append(c.Functions, d.str(f, index(fp, j)))
	}
	if d.err == nil && len(c.Functions) == 0 {
		d.failf(fn, fp, "a configuration needs at least one function")
	}
	return c
}

// configAttributes accepts bmAttributes as a number or a list of
// self_powered and remote_wakeup.
func (d *decoder) configAttributes(n *yaml.Node, path string) uint8 {
	if n.Kind == yaml.SequenceNode {
		a := uint8(0x80)
		for j, f := range n.Content {
			switch d.oneOf(f, index(path, j), "self_powered", "remote_wakeup") {
			case "self_powered":
				a |= 0x40
			case "remote_wakeup":
				a |= 0x20
			}
		}
		return a
	}
	a := uint8(d.bits(n, path, 8))
	if d.err == nil && (a&0x80 == 0 || a&^0xe0 != 0) {
		d.failf(n, path, "%#02x must have bit 7 set and no bits but 7, 6 (self powered) and 5 (remote wakeup)", a)
	}
	return a
}

var functionKeys = map[string][]string{
	TypeFunctionFS:  {"mount", "speeds", "flags", "associations", "interfaces", "personality"},
	TypeACM:         nil,
	TypeECM:         {"dev_addr", "host_addr", "qmult"},
	TypeNCM:         {"dev_addr", "host_addr", "qmult", "os_desc"},
	TypeMassStorage: {"stall", "luns"},
	TypeHID:         {"protocol", "subclass", "report_length", "report_desc"},
	TypeSourceSink: {"pattern", "bulk_buflen", "bulk_qlen", "iso_qlen", "isoc_interval", "isoc_maxpacket",
		"isoc_mult", "isoc_maxburst"},
	TypeLoopback: {"qlen", "bulk_buflen"},
}

func (d *decoder) function(n *yaml.Node, path string) Function {
	var f Function
	o := d.object(n, path)
	tn, tp := o.need("type")
	f.Type = d.str(tn, tp)
	keys, ok := functionKeys[f.Type]
	if d.err == nil && !ok {
		types := make([]string, 0, len(functionKeys))
		for t := range functionKeys {
			types = append(types, t)
		}
		slices.Sort(types)
		d.failf(tn, tp, "%q is not a function type (%s)", f.Type, strings.Join(types, ", "))
	}
	o.allow(append([]string{"name", "type"}, keys...)...)
	f.Name = d.name(o.need("name"))
	switch f.Type {
	case TypeFunctionFS:
		f.FunctionFS = d.functionFS(o, f.Name)
	case TypeECM, TypeNCM:
		f.Net = &Net{DevAddr: d.mac(o.get("dev_addr")), HostAddr: d.mac(o.get("host_addr"))}
		f.Net.QMult = int(o.integer("qmult", 0, 100))
		if n, p := o.get("os_desc"); n != nil {
			if d.err == nil && !d.osDesc {
				d.failf(n, p, "needs gadget.os_desc, or the host never asks for OS descriptors")
			}
			od := d.object(n, p)
			od.allow("compatible_id", "sub_compatible_id")
			f.Net.OSDesc = &InterfaceOSDesc{
				CompatibleID:    d.compatID(od.get("compatible_id")),
				SubCompatibleID: d.compatID(od.get("sub_compatible_id")),
			}
		}
	case TypeMassStorage:
		f.MassStorage = &MassStorage{Stall: true}
		if o.has("stall") {
			f.MassStorage.Stall = o.boolean("stall")
		}
		ln, lp := o.get("luns")
		luns := d.list(ln, lp)
		if d.err == nil && len(luns) > 16 {
			d.failf(ln, lp, "%d LUNs, at most 16", len(luns))
		}
		for j, l := range luns {
			lo := d.object(l, index(lp, j))
			lo.allow("file", "ro", "removable", "cdrom", "nofua", "inquiry_string")
			lun := LUN{
				File:      lo.str("file"),
				ReadOnly:  lo.boolean("ro"),
				Removable: lo.boolean("removable"),
				CDROM:     lo.boolean("cdrom"),
				NoFUA:     lo.boolean("nofua"),
			}
			if n, p := lo.get("inquiry_string"); n != nil {
				lun.InquiryString = d.str(n, p)
				// 8 bytes vendor, 16 product, 4 revision.
				if d.err == nil && len(lun.InquiryString) > 28 {
					d.failf(n, p, "%q is longer than 28 bytes", lun.InquiryString)
				}
			}
			f.MassStorage.LUNs = append(f.MassStorage.LUNs, lun)
		}
	case TypeHID:
		f.HID = &HID{Protocol: o.u8("protocol"), SubClass: o.u8("subclass")}
		rn, rp := o.need("report_length")
		f.HID.ReportLength = uint16(d.integer(rn, rp, 1, 0xffff))
		dn, dp := o.need("report_desc")
		f.HID.ReportDesc = d.hexBytes(dn, dp)
	case TypeSourceSink:
		f.SourceSink = &SourceSink{
			Pattern:       d.pattern(o.get("pattern")),
			BulkBufLen:    int(o.integer("bulk_buflen", 0, 1<<20)),
			BulkQLen:      int(o.integer("bulk_qlen", 0, 1024)),
			ISOQLen:       int(o.integer("iso_qlen", 0, 1024)),
			ISOCInterval:  int(o.integer("isoc_interval", 1, 16)),
			ISOCMaxPacket: int(o.integer("isoc_maxpacket", 0, 1024)),
			ISOCMult:      int(o.integer("isoc_mult", 0, 2)),
			ISOCMaxBurst:  int(o.integer("isoc_maxburst", 0, 15)),
		}
	case TypeLoopback:
		f.Loopback = &Loopback{
			QLen:       int(o.integer("qlen", 0, 1024)),
			BulkBufLen: int(o.integer("bulk_buflen", 0, 1<<20)),
		}
	}
	return f
}

func (d *decoder) mac(n *yaml.Node, path string) string {
	s := d.str(n, path)
	if d.err == nil && n != nil {
		if hw, err := net.ParseMAC(s); err != nil || len(hw) != 6 {
			d.failf(n, path, "%q is not a MAC address (e.g. 02:00:00:00:00:01)", s)
		}
	}
	return s
}

// compatID accepts a Microsoft compatible ID: up to 8 ASCII letters and
// digits.
func (d *decoder) compatID(n *yaml.Node, path string) string {
	s := d.str(n, path)
	if d.err == nil && (len(s) > 8 || strings.IndexFunc(s, func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_'
	}) >= 0) {
		d.failf(n, path, "%q is not a compatible ID (up to 8 upper-case letters, digits, '_')", s)
	}
	return s
}

// hexBytes accepts bytes as hex, optionally separated by spaces or ':'.
func (d *decoder) hexBytes(n *yaml.Node, path string) []byte {
	s := d.str(n, path)
	clean := strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(clean)
	if d.err == nil && (err != nil || len(b) == 0) {
		d.failf(n, path, "expected bytes in hex (e.g. \"05 01 09 06\")")
	}
	return b
}

// pattern accepts gadget zero's pattern numbers or their names.
func (d *decoder) pattern(n *yaml.Node, path string) Pattern {
	if n == nil {
		return PatternZeros
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		return Pattern(d.integer(n, path, 0, 2))
	}
	switch d.oneOf(n, path, "zeros", "mod63", "none") {
	case "mod63":
		return PatternMod63
	case "none":
		return PatternNone
	}
	return PatternZeros
}
