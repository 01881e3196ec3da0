package gadget

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/ffs"
	"github.com/gadgetkit/gadgetkit/internal/config"
	"github.com/gadgetkit/gadgetkit/usb"
)

// Descriptors converts a FunctionFS function of a gadget file into the
// descriptors and strings written to its ep0. Interface names become the
// strings table, numbered in interface order. A sourcesink function asks
// f_fs for every control recipient, because gadget zero's vendor requests
// 0x5b/0x5c are addressed to the device.
func Descriptors(f *config.FunctionFS) (*ffs.Descriptors, *ffs.Strings, error) {
	d := &ffs.Descriptors{Speeds: f.Speeds}
	if f.Personality.Kind == config.PersonalitySourceSink {
		d.Flags |= ffs.FlagAllCtrlRecip
	}
	var langs []usb.LangID
	table := map[usb.LangID][]string{}
	for i, in := range f.Interfaces {
		fi := ffs.Interface{
			Class:           in.Class,
			SubClass:        in.SubClass,
			Protocol:        in.Protocol,
			CompatibleID:    in.CompatibleID,
			SubCompatibleID: in.SubCompatibleID,
		}
		if len(in.Name) > 0 {
			if langs == nil {
				for _, s := range in.Name {
					langs = append(langs, s.Lang)
				}
			}
			for _, s := range in.Name {
				table[s.Lang] = append(table[s.Lang], s.Value)
			}
			fi.Name = uint8(len(table[in.Name[0].Lang]))
		}
		for _, p := range in.Properties {
			fp, err := property(p)
			if err != nil {
				return nil, nil, fmt.Errorf("interfaces[%d].os_desc.properties: %w", i, err)
			}
			fi.Properties = append(fi.Properties, fp)
		}
		for _, e := range in.Endpoints {
			fe := ffs.Endpoint{
				Address:    e.Address,
				Type:       e.Type,
				Interval:   e.Interval,
				MaxBurst:   e.MaxBurst,
				MaxStreams: e.MaxStreams,
				Mult:       e.Mult,
			}
			if e.Type == usb.Bulk {
				// High and SuperSpeed bulk sizes are fixed by the spec.
				fe.MaxPacketSize = e.MaxPacket.Full
			} else {
				fe.MaxPacketSize = max(e.MaxPacket.Full, e.MaxPacket.High, e.MaxPacket.Super)
				fe.Transactions = e.Transactions
			}
			fi.Endpoints = append(fi.Endpoints, fe)
		}
		d.Interfaces = append(d.Interfaces, fi)
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

func property(p config.Property) (ffs.Property, error) {
	switch p.Type {
	case config.PropSZ, config.PropExpandSZ, config.PropLink:
		if len(p.Strings) != 1 {
			return ffs.Property{}, fmt.Errorf("%s: %d strings, want 1", p.Name, len(p.Strings))
		}
		return ffs.Property{Name: p.Name, Type: ffs.PropertyType(p.Type), Data: []byte(p.Strings[0] + "\x00")}, nil
	case config.PropMultiSZ:
		return ffs.Property{Name: p.Name, Type: ffs.PropMultiString, Data: []byte(strings.Join(p.Strings, "\x00") + "\x00\x00")}, nil
	case config.PropDWordLittleEndian:
		return ffs.Property{Name: p.Name, Type: ffs.PropDWordLittleEndian, Data: binary.LittleEndian.AppendUint32(nil, p.DWord)}, nil
	case config.PropDWordBigEndian:
		return ffs.Property{Name: p.Name, Type: ffs.PropDWordBigEndian, Data: binary.BigEndian.AppendUint32(nil, p.DWord)}, nil
	case config.PropBinary:
		return ffs.Property{Name: p.Name, Type: ffs.PropBinary, Data: p.Binary}, nil
	}
	return ffs.Property{}, fmt.Errorf("%s: unknown property type %d", p.Name, p.Type)
}

// Tree converts a gadget file into the configfs tree that makes it.
func Tree(c *config.Config) *configfs.Gadget {
	g := &configfs.Gadget{
		Name:      c.Gadget.Name,
		VendorID:  c.Gadget.VendorID,
		ProductID: c.Gadget.ProductID,
		BCDDevice: c.Gadget.BCDDevice,
		BCDUSB:    c.Gadget.BCDUSB,
		Class:     uint8(c.Gadget.Class),
		SubClass:  c.Gadget.SubClass,
		Protocol:  c.Gadget.Protocol,
	}
	if c.Gadget.MaxSpeed != usb.SpeedUnknown {
		g.MaxSpeed = c.Gadget.MaxSpeed.String()
	}
	for _, s := range c.Gadget.Strings {
		g.Strings = append(g.Strings, configfs.DeviceStrings{
			Lang: uint16(s.Lang), Manufacturer: s.Manufacturer, Product: s.Product, SerialNumber: s.Serial,
		})
	}
	dirs := map[string]string{}
	for _, f := range c.Functions {
		cf := configfsFunction(f)
		dirs[f.Name] = cf.Dir()
		g.Functions = append(g.Functions, cf)
	}
	for _, cc := range c.Configurations {
		gc := configfs.Config{Number: cc.Number, Attributes: cc.Attributes, MaxPowerMA: cc.MaxPowerMA}
		for _, s := range cc.Strings {
			gc.Strings = append(gc.Strings, configfs.ConfigStrings{Lang: uint16(s.Lang), Configuration: s.Value})
		}
		for _, name := range cc.Functions {
			gc.Functions = append(gc.Functions, dirs[name])
		}
		g.Configs = append(g.Configs, gc)
	}
	if od := c.Gadget.OSDesc; od != nil {
		g.OSDesc = &configfs.OSDesc{VendorCode: od.VendorCode, Sign: od.Sign, Config: od.Configuration}
	}
	return g
}

func configfsFunction(f config.Function) configfs.Function {
	switch f.Type {
	case config.TypeFunctionFS:
		return configfs.FunctionFS(f.Name)
	case config.TypeACM:
		return configfs.ACM(f.Name)
	case config.TypeECM, config.TypeNCM:
		o := configfs.NetOptions{DevAddr: f.Net.DevAddr, HostAddr: f.Net.HostAddr, QMult: f.Net.QMult}
		if f.Type == config.TypeECM {
			return configfs.ECM(f.Name, o)
		}
		cf := configfs.NCM(f.Name, o)
		if od := f.Net.OSDesc; od != nil {
			cf.OSDesc = []configfs.InterfaceOSDesc{{Interface: "ncm", CompatibleID: od.CompatibleID, SubCompatibleID: od.SubCompatibleID}}
		}
		return cf
	case config.TypeMassStorage:
		var luns []configfs.LUN
		for _, l := range f.MassStorage.LUNs {
			luns = append(luns, configfs.LUN{File: l.File, ReadOnly: l.ReadOnly, Removable: l.Removable,
				CDROM: l.CDROM, NoFUA: l.NoFUA, InquiryString: l.InquiryString})
		}
		return configfs.MassStorage(f.Name, f.MassStorage.Stall, luns...)
	case config.TypeHID:
		return configfs.HID(f.Name, configfs.HIDOptions{Protocol: f.HID.Protocol, SubClass: f.HID.SubClass,
			ReportLength: f.HID.ReportLength, ReportDesc: f.HID.ReportDesc})
	case config.TypeSourceSink:
		s := f.SourceSink
		return configfs.SourceSink(f.Name, configfs.SourceSinkOptions{Pattern: int(s.Pattern), BulkBufLen: s.BulkBufLen,
			BulkQLen: s.BulkQLen, ISOQLen: s.ISOQLen, ISOCInterval: s.ISOCInterval, ISOCMaxPacket: s.ISOCMaxPacket,
			ISOCMult: s.ISOCMult, ISOCMaxBurst: s.ISOCMaxBurst})
	case config.TypeLoopback:
		return configfs.Loopback(f.Name, configfs.LoopbackOptions{QLen: f.Loopback.QLen, BulkBufLen: f.Loopback.BulkBufLen})
	}
	return configfs.Function{Type: f.Type, Instance: f.Name}
}

// mountOptions converts a FunctionFS mount of a gadget file.
func mountOptions(m config.Mount) configfs.MountOptions {
	return configfs.MountOptions{UID: m.UID, GID: m.GID, RMode: m.RMode, FMode: m.FMode, NoDisconnect: m.NoDisconnect}
}

// joinNames is for log lines listing functions.
func joinNames(fs []config.Function) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Type+"."+f.Name)
	}
	return strings.Join(s, " ")
}
