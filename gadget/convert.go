package gadget

import (
	"strings"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/configfs"
	"github.com/gadgetkit/gadgetkit/usb"
)

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
