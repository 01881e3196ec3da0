//go:build cgo

package host

import (
	"encoding/json"
	"fmt"

	"github.com/gadgetkit/gadgetkit/config"
	"github.com/gadgetkit/gadgetkit/usb"
)

// kernelInterfaces is how many interfaces each kernel function adds; their
// descriptors are the kernel's and taken as seen.
var kernelInterfaces = map[string]int{
	config.TypeACM: 2, config.TypeECM: 2, config.TypeNCM: 2, config.TypeMassStorage: 1, config.TypeHID: 1,
}

// Expect returns the snapshot a host at speed should see from a gadget
// made from c. What c leaves to the kernel is taken from got, the snapshot
// actually seen: bcdDevice and bcdUSB when c does not set them, string
// indices, endpoint numbers (FunctionFS renumbers endpoints to the UDC's),
// wTotalLength, bInterval, SuperSpeed wBytesPerInterval, alternate settings
// other than 0 and the descriptors of kernel
// functions other than SourceSink and Loopback. Compare(Expect(c, got), got)
// then lists only what differs from the file.
func Expect(c *config.Config, got *Snapshot, speed usb.Speed) (*Snapshot, error) {
	want, err := cloneSnapshot(got)
	if err != nil {
		return nil, err
	}
	g := c.Gadget
	d := &want.Device
	d.Vendor, d.Product = g.VendorID, g.ProductID
	if g.BCDDevice != 0 {
		d.Device = usb.BCD(g.BCDDevice)
	}
	if g.BCDUSB != 0 {
		d.USB = usb.BCD(g.BCDUSB)
	}
	d.Class, d.SubClass, d.Protocol = g.Class, g.SubClass, g.Protocol
	d.NumConfigurations = uint8(len(c.Configurations))
	for _, s := range g.Strings {
		want.setString(s.Lang, d.ManufacturerIndex, s.Manufacturer)
		want.setString(s.Lang, d.ProductIndex, s.Product)
		want.setString(s.Lang, d.SerialIndex, s.Serial)
	}
	fns := map[string]config.Function{}
	for _, f := range c.Functions {
		fns[f.Name] = f
	}
	want.Configs = nil
	var compat []MSCompatID
	for _, cc := range c.Configurations {
		var wc Configuration
		for _, gc := range got.Configs {
			if int(gc.ConfigurationValue) == cc.Number {
				wc = gc
			}
		}
		wc.ConfigurationValue = uint8(cc.Number)
		if cc.Attributes != 0 {
			wc.Attributes = cc.Attributes
		}
		// As the kernel's encode_bMaxPower: rounded down, capped at 500 mA
		// (900 at SuperSpeed); 0 on a self-powered configuration means 0,
		// otherwise the kernel's build-time default, taken as seen.
		switch {
		case cc.MaxPowerMA != 0 && speed >= usb.SpeedSuper:
			wc.MaxPower = uint8(min(cc.MaxPowerMA, 900) / 8)
		case cc.MaxPowerMA != 0:
			wc.MaxPower = uint8(min(cc.MaxPowerMA, 500) / 2)
		case wc.Attributes&0x40 != 0:
			wc.MaxPower = 0
		}
		for _, s := range cc.Strings {
			want.setString(s.Lang, wc.ConfigurationIndex, s.Value)
		}
		seen := wc.Interfaces
		wc.Interfaces = nil
		num := 0
		for _, name := range cc.Functions {
			f, ok := fns[name]
			if !ok {
				return nil, fmt.Errorf("configuration %d: no function %q", cc.Number, name)
			}
			var ifs []config.Interface
			switch f.Type {
			case config.TypeFunctionFS:
				ifs = f.FunctionFS.Interfaces
			case config.TypeSourceSink, config.TypeLoopback:
				bulk := config.MaxPacket{Full: 64, High: 512, Super: 1024}
				ifs = []config.Interface{{Class: usb.ClassVendorSpecific, Endpoints: []config.Endpoint{
					{Address: usb.Address(1, usb.In), Type: usb.Bulk, MaxPacket: bulk},
					{Address: usb.Address(1, usb.Out), Type: usb.Bulk, MaxPacket: bulk},
				}}}
			default:
				// Kernel functions with their own descriptors: as seen.
				for range kernelInterfaces[f.Type] {
					wc.Interfaces = append(wc.Interfaces, altsOf(seen, num)...)
					num++
				}
				continue
			}
			for _, ci := range ifs {
				alts := altsOf(seen, num)
				var wa AltSetting
				if len(alts) > 0 {
					wa = alts[0]
				}
				want.expectInterface(&wa, num, ci, speed)
				wc.Interfaces = append(wc.Interfaces, wa)
				for k, st := range ci.AltSettings {
					var ws AltSetting
					if k+1 < len(alts) {
						ws = alts[k+1]
					}
					want.expectInterface(&ws, num, config.Interface{Class: st.Class, SubClass: st.SubClass,
						Protocol: st.Protocol, Name: st.Name, Endpoints: st.Endpoints}, speed)
					ws.AlternateSetting = uint8(k + 1)
					wc.Interfaces = append(wc.Interfaces, ws)
				}
				if len(alts) > 1+len(ci.AltSettings) {
					wc.Interfaces = append(wc.Interfaces, alts[1+len(ci.AltSettings):]...)
				}
				if ci.CompatibleID != "" {
					compat = append(compat, MSCompatID{FirstInterface: uint8(num), CompatibleID: ci.CompatibleID, SubCompatible: ci.SubCompatibleID})
				}
				num++
			}
		}
		wc.NumInterfaces = uint8(num)
		want.Configs = append(want.Configs, wc)
	}
	if g.OSDesc == nil {
		want.MSOS1 = nil
	} else {
		want.MSOS1 = &MSOS1{VendorCode: g.OSDesc.VendorCode, CompatIDs: compat}
		if got.MSOS1 != nil && len(compat) == 0 {
			want.MSOS1.CompatIDs = got.MSOS1.CompatIDs // kernel functions' own
		}
	}
	return want, nil
}

func cloneSnapshot(s *Snapshot) (*Snapshot, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	c := &Snapshot{}
	return c, json.Unmarshal(b, c)
}

// setString expects value at index in lang; index 0 (the device has no
// such string) keeps the expectation visible as strings[lang][0].
func (s *Snapshot) setString(lang usb.LangID, index uint8, value string) {
	if value == "" {
		return
	}
	if s.Strings == nil {
		s.Strings = map[usb.LangID]map[uint8]string{}
	}
	if s.Strings[lang] == nil {
		s.Strings[lang] = map[uint8]string{}
	}
	s.Strings[lang][index] = value
}

func altsOf(seen []AltSetting, num int) []AltSetting {
	var alts []AltSetting
	for _, a := range seen {
		if int(a.Number) == num {
			alts = append(alts, a)
		}
	}
	return alts
}

// expectInterface overwrites an alternate setting of interface num with what
// ci says, keeping the endpoint numbers the host saw.
func (s *Snapshot) expectInterface(wa *AltSetting, num int, ci config.Interface, speed usb.Speed) {
	wa.Number, wa.AlternateSetting = uint8(num), 0
	wa.Class, wa.SubClass, wa.Protocol = ci.Class, ci.SubClass, ci.Protocol
	wa.NumEndpoints = uint8(len(ci.Endpoints))
	for _, n := range ci.Name {
		s.setString(n.Lang, wa.InterfaceIndex, n.Value)
	}
	seen := wa.Endpoints
	wa.Endpoints = nil
	for i, ce := range ci.Endpoints {
		var we Endpoint
		if i < len(seen) {
			we = seen[i]
			we.Address = usb.Address(we.Address.Number(), ce.Address.Direction())
		} else {
			we.Address = ce.Address
		}
		if usb.TransferType(we.Attributes&3) != ce.Type {
			we.Attributes = uint8(ce.Type)
		}
		mp := ce.MaxPacket.High
		switch {
		case speed >= usb.SpeedSuper:
			mp = ce.MaxPacket.Super
		case speed <= usb.SpeedFull:
			mp = ce.MaxPacket.Full
		}
		if ce.Type != usb.Bulk && ce.Transactions > 1 && speed == usb.SpeedHigh {
			mp |= uint16(ce.Transactions-1) << 11
		}
		we.MaxPacketSize = mp
		if speed >= usb.SpeedSuper {
			comp := usb.SSEndpointCompanionDescriptor{MaxBurst: ce.MaxBurst}
			switch ce.Type {
			case usb.Bulk:
				comp.Attributes = ce.MaxStreams
			case usb.Isochronous:
				comp.Attributes = ce.Mult
			}
			if we.Companion != nil {
				comp.BytesPerInterval = we.Companion.BytesPerInterval
			}
			we.Companion = &comp
		}
		wa.Endpoints = append(wa.Endpoints, we)
	}
}
