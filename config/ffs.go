package config

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/usb"
)

// Descriptors converts the function into the descriptors and strings
// written to its ep0, checked by package ffs, the home of FunctionFS's
// rules. Names (of interfaces, then of each alternate setting) become the
// strings table, numbered in that order. A sourcesink function asks f_fs
// for every control recipient, because gadget zero's vendor requests
// 0x5b/0x5c are addressed to the device.
func (f *FunctionFS) Descriptors() (*ffs.Descriptors, *ffs.Strings, error) {
	d := &ffs.Descriptors{Speeds: f.Speeds}
	if f.Personality.Kind == PersonalitySourceSink {
		d.Flags |= ffs.FlagAllCtrlRecip
	}
	if f.Flags.VirtualAddr {
		d.Flags |= ffs.FlagVirtualAddr
	}
	if f.Flags.AllCtrlRecip {
		d.Flags |= ffs.FlagAllCtrlRecip
	}
	if f.Flags.Config0Setup {
		d.Flags |= ffs.FlagConfig0Setup
	}
	var langs []usb.LangID
	table := map[usb.LangID][]string{}
	name := func(ss []LangString) uint8 {
		if len(ss) == 0 {
			return 0
		}
		if langs == nil {
			for _, s := range ss {
				langs = append(langs, s.Lang)
			}
		}
		for _, s := range ss {
			table[s.Lang] = append(table[s.Lang], s.Value)
		}
		return uint8(len(table[ss[0].Lang]))
	}
	for _, a := range f.Associations {
		d.Associations = append(d.Associations, ffs.Association{FirstInterface: a.FirstInterface,
			InterfaceCount: a.InterfaceCount, Class: a.Class, SubClass: a.SubClass, Protocol: a.Protocol})
	}
	for i, in := range f.Interfaces {
		fi := ffs.Interface{
			Class:            in.Class,
			SubClass:         in.SubClass,
			Protocol:         in.Protocol,
			Name:             name(in.Name),
			ClassDescriptors: in.ClassDescriptors,
			Endpoints:        endpoints(in.Endpoints),
			CompatibleID:     in.CompatibleID,
			SubCompatibleID:  in.SubCompatibleID,
		}
		for _, p := range in.Properties {
			fp, err := property(p)
			if err != nil {
				return nil, nil, fmt.Errorf("interfaces[%d].os_desc.properties: %w", i, err)
			}
			fi.Properties = append(fi.Properties, fp)
		}
		for _, st := range in.AltSettings {
			fi.AltSettings = append(fi.AltSettings, ffs.AltSetting{Class: st.Class, SubClass: st.SubClass,
				Protocol: st.Protocol, Name: name(st.Name), ClassDescriptors: st.ClassDescriptors,
				Endpoints: endpoints(st.Endpoints)})
		}
		d.Interfaces = append(d.Interfaces, fi)
	}
	for k, a := range f.Associations {
		d.Associations[k].Name = name(a.Name)
	}
	s := &ffs.Strings{}
	for _, l := range langs {
		s.Languages = append(s.Languages, ffs.Language{ID: l, Strings: table[l]})
	}
	if err := d.Validate(); err != nil {
		return nil, nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	if err := d.CheckStrings(s); err != nil {
		return nil, nil, err
	}
	return d, s, nil
}

func endpoints(eps []Endpoint) []ffs.Endpoint {
	var out []ffs.Endpoint
	for _, e := range eps {
		fe := ffs.Endpoint{
			Address:          e.Address,
			Type:             e.Type,
			Interval:         e.Interval,
			IsoAttributes:    e.IsoAttributes,
			MaxBurst:         e.MaxBurst,
			MaxStreams:       e.MaxStreams,
			Mult:             e.Mult,
			BytesPerInterval: e.BytesPerInterval,
		}
		if e.Type == usb.Bulk {
			// High and SuperSpeed bulk sizes are fixed by the spec.
			fe.MaxPacketSize = e.MaxPacket.Full
		} else {
			fe.MaxPacketSize = max(e.MaxPacket.Full, e.MaxPacket.High, e.MaxPacket.Super)
			fe.Transactions = e.Transactions
		}
		out = append(out, fe)
	}
	return out
}

func property(p Property) (ffs.Property, error) {
	switch p.Type {
	case PropSZ, PropExpandSZ, PropLink:
		if len(p.Strings) != 1 {
			return ffs.Property{}, fmt.Errorf("%s: %d strings, want 1", p.Name, len(p.Strings))
		}
		return ffs.Property{Name: p.Name, Type: ffs.PropertyType(p.Type), Data: []byte(p.Strings[0] + "\x00")}, nil
	case PropMultiSZ:
		return ffs.Property{Name: p.Name, Type: ffs.PropMultiString, Data: []byte(strings.Join(p.Strings, "\x00") + "\x00\x00")}, nil
	case PropDWordLittleEndian:
		return ffs.Property{Name: p.Name, Type: ffs.PropDWordLittleEndian, Data: binary.LittleEndian.AppendUint32(nil, p.DWord)}, nil
	case PropDWordBigEndian:
		return ffs.Property{Name: p.Name, Type: ffs.PropDWordBigEndian, Data: binary.BigEndian.AppendUint32(nil, p.DWord)}, nil
	case PropBinary:
		return ffs.Property{Name: p.Name, Type: ffs.PropBinary, Data: p.Binary}, nil
	}
	return ffs.Property{}, fmt.Errorf("%s: unknown property type %d", p.Name, p.Type)
}

// fieldKeys maps package ffs's field names to this schema's keys.
var fieldKeys = map[string][]any{
	"Address":          {"number"},
	"Type":             {"type"},
	"MaxPacketSize":    {"max_packet"},
	"Interval":         {"interval"},
	"Transactions":     {"transactions"},
	"IsoAttributes":    {"iso_attributes"},
	"MaxBurst":         {"burst"},
	"MaxStreams":       {"max_streams"},
	"Mult":             {"mult"},
	"BytesPerInterval": {"bytes_per_interval"},
	"AltSettings":      {"alt_settings"},
	"CompatibleID":     {"os_desc", "compatible_id"},
	"SubCompatibleID":  {"os_desc", "sub_compatible_id"},
}

var associationKeys = map[string]string{"FirstInterface": "first_interface", "InterfaceCount": "interface_count"}

// ffsCheck has package ffs check the descriptors of every FunctionFS
// function and points its errors at the file: the line and field of the
// interface, alternate setting, endpoint and key at fault, as near as the
// file has them.
func (d *decoder) ffsCheck(c *Config, root *yaml.Node) {
	for i, f := range c.Functions {
		if f.FunctionFS == nil || d.err != nil {
			continue
		}
		_, _, err := f.FunctionFS.Descriptors()
		if err == nil {
			continue
		}
		fn, fp := find(root, "functions", i), index("functions", i)
		var de *ffs.DescriptorError
		if errors.As(err, &de) && de.Association >= 0 {
			at, path := find(fn, "associations", de.Association), fp+"."+index("associations", de.Association)
			if key, ok := associationKeys[de.Field]; ok {
				at, path = first(find(at, key), at), path+"."+key
			}
			d.failf(first(at, fn), path, "%s", de.Reason)
			continue
		}
		if de == nil || de.Interface < 0 {
			d.failf(fn, fp, "%v", err)
			continue
		}
		steps := []any{"interfaces", de.Interface}
		path := fp + "." + index("interfaces", de.Interface)
		if de.Alt > 0 {
			steps = append(steps, "alt_settings", de.Alt-1)
			path += "." + index("alt_settings", de.Alt-1)
		}
		if de.Endpoint >= 0 {
			steps = append(steps, "endpoints", de.Endpoint)
			path += "." + index("endpoints", de.Endpoint)
		}
		at := find(fn, steps...)
		keys, ok := fieldKeys[de.Field]
		if name, k, list := strings.Cut(de.Field, "["); list {
			// ClassDescriptors[k], Properties[k]
			n, _ := strconv.Atoi(strings.TrimSuffix(k, "]"))
			keys, ok = map[string][]any{"ClassDescriptors": {"class_descriptors", n},
				"Properties": {"os_desc", "properties", n}}[name]
		}
		if ok {
			if n := find(at, keys...); n != nil {
				at = n
			}
			for _, k := range keys {
				if n, isIndex := k.(int); isIndex {
					path = index(path, n)
				} else {
					path = join(path, k.(string))
				}
			}
		}
		d.failf(first(at, fn), path, "%s", de.Reason)
	}
}
