//go:build cgo

package host

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"
)

// Diff is one field that differs between an expected and a seen Snapshot.
// Path names the field in USB terms, for example
// "config[1].interface[0,0].endpoint[ep1in].wMaxPacketSize".
type Diff struct {
	Path      string
	Want, Got string
}

func (d Diff) String() string {
	return fmt.Sprintf("%s: want %s, got %s", d.Path, d.Want, d.Got)
}

// Compare returns the differences between want and got, field by field.
// Configurations are matched by bConfigurationValue, alternate settings by
// interface number and bAlternateSetting, endpoints by address and strings
// by language and index. ignore holds path.Match patterns of paths to skip,
// such as "device.bcdDevice" or "strings.*".
func Compare(want, got *Snapshot, ignore ...string) []Diff {
	c := &comparer{ignore: ignore}
	c.value("device", reflect.ValueOf(want.Device), reflect.ValueOf(got.Device))
	matchList(c, "config", want.Configs, got.Configs,
		func(x Configuration) string { return fmt.Sprint(x.ConfigurationValue) },
		func(p string, w, g Configuration) {
			c.value(p, reflect.ValueOf(w.ConfigDescriptor), reflect.ValueOf(g.ConfigDescriptor))
			c.value(p+".associations", reflect.ValueOf(w.Associations), reflect.ValueOf(g.Associations))
			c.value(p+".extra", reflect.ValueOf(w.Extra), reflect.ValueOf(g.Extra))
			matchList(c, p+".interface", w.Interfaces, g.Interfaces,
				func(x AltSetting) string { return fmt.Sprintf("%d,%d", x.Number, x.AlternateSetting) },
				func(p string, w, g AltSetting) {
					c.value(p, reflect.ValueOf(w.InterfaceDescriptor), reflect.ValueOf(g.InterfaceDescriptor))
					c.value(p+".extra", reflect.ValueOf(w.Extra), reflect.ValueOf(g.Extra))
					matchList(c, p+".endpoint", w.Endpoints, g.Endpoints,
						func(x Endpoint) string { return x.Address.String() },
						func(p string, w, g Endpoint) {
							c.value(p, reflect.ValueOf(w.EndpointDescriptor), reflect.ValueOf(g.EndpointDescriptor))
							c.value(p+".companion", reflect.ValueOf(w.Companion), reflect.ValueOf(g.Companion))
							c.value(p+".extra", reflect.ValueOf(w.Extra), reflect.ValueOf(g.Extra))
						})
				})
		})
	for _, lang := range sortedKeys(want.Strings, got.Strings) {
		for _, i := range sortedKeys(want.Strings[lang], got.Strings[lang]) {
			p := fmt.Sprintf("strings[%#04x][%d]", uint16(lang), i)
			w, wok := want.Strings[lang][i]
			g, gok := got.Strings[lang][i]
			c.leaf(p, present(w, wok), present(g, gok))
		}
	}
	c.value("bos", reflect.ValueOf(want.BOS), reflect.ValueOf(got.BOS))
	c.value("msos1", reflect.ValueOf(want.MSOS1), reflect.ValueOf(got.MSOS1))
	c.value("msos20", reflect.ValueOf(want.MSOS20), reflect.ValueOf(got.MSOS20))
	return c.diffs
}

func present(s string, ok bool) string {
	if !ok {
		return "(absent)"
	}
	return fmt.Sprintf("%q", s)
}

func sortedKeys[K ~uint8 | ~uint16, V any](a, b map[K]V) []K {
	var ks []K
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}

type comparer struct {
	ignore []string
	diffs  []Diff
}

func (c *comparer) skip(p string) bool {
	for _, pat := range c.ignore {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

func (c *comparer) leaf(p, want, got string) {
	if want != got && !c.skip(p) {
		c.diffs = append(c.diffs, Diff{Path: p, Want: want, Got: got})
	}
}

// matchList pairs elements of want and got by key, reports missing and
// unexpected ones, and compares pairs with each.
func matchList[T any](c *comparer, prefix string, want, got []T, key func(T) string, each func(p string, w, g T)) {
	gotBy := map[string]T{}
	for _, g := range got {
		gotBy[key(g)] = g
	}
	seen := map[string]bool{}
	for _, w := range want {
		k := key(w)
		seen[k] = true
		p := prefix + "[" + k + "]"
		g, ok := gotBy[k]
		if !ok {
			c.leaf(p, "present", "(absent)")
			continue
		}
		each(p, w, g)
	}
	for _, g := range got {
		if k := key(g); !seen[k] {
			c.leaf(prefix+"["+k+"]", "(absent)", "present")
		}
	}
}

// value compares two values of the same type: structs field by field (with
// USB field names), everything else by its printed form.
func (c *comparer) value(p string, w, g reflect.Value) {
	switch w.Kind() {
	case reflect.Struct:
		t := w.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			c.value(p+"."+fieldName(t.Name(), f.Name), w.Field(i), g.Field(i))
		}
	case reflect.Pointer:
		switch {
		case w.IsNil() && g.IsNil():
		case w.IsNil():
			c.leaf(p, "(absent)", "present")
		case g.IsNil():
			c.leaf(p, "present", "(absent)")
		default:
			c.value(p, w.Elem(), g.Elem())
		}
	case reflect.Slice:
		if w.Type().Elem().Kind() == reflect.Uint8 {
			c.leaf(p, fmt.Sprintf("% x", w.Bytes()), fmt.Sprintf("% x", g.Bytes()))
			return
		}
		if w.Len() != g.Len() {
			c.leaf(p+".count", fmt.Sprint(w.Len()), fmt.Sprint(g.Len()))
			return
		}
		for i := range w.Len() {
			c.value(fmt.Sprintf("%s[%d]", p, i), w.Index(i), g.Index(i))
		}
	default:
		c.leaf(p, printValue(w), printValue(g))
	}
}

func printValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		if s, ok := v.Interface().(fmt.Stringer); ok {
			return fmt.Sprintf("%v (%#x)", s, v.Uint())
		}
		return fmt.Sprintf("%d (%#x)", v.Uint(), v.Uint())
	case reflect.String:
		return fmt.Sprintf("%q", v.String())
	}
	return fmt.Sprint(v.Interface())
}

// usbNames maps the usb package's Go field names to the USB specification's.
var usbNames = map[string]string{
	"DeviceDescriptor.USB":                            "bcdUSB",
	"DeviceDescriptor.Class":                          "bDeviceClass",
	"DeviceDescriptor.SubClass":                       "bDeviceSubClass",
	"DeviceDescriptor.Protocol":                       "bDeviceProtocol",
	"DeviceDescriptor.MaxPacketSize0":                 "bMaxPacketSize0",
	"DeviceDescriptor.Vendor":                         "idVendor",
	"DeviceDescriptor.Product":                        "idProduct",
	"DeviceDescriptor.Device":                         "bcdDevice",
	"DeviceDescriptor.ManufacturerIndex":              "iManufacturer",
	"DeviceDescriptor.ProductIndex":                   "iProduct",
	"DeviceDescriptor.SerialIndex":                    "iSerialNumber",
	"DeviceDescriptor.NumConfigurations":              "bNumConfigurations",
	"ConfigDescriptor.TotalLength":                    "wTotalLength",
	"ConfigDescriptor.NumInterfaces":                  "bNumInterfaces",
	"ConfigDescriptor.ConfigurationValue":             "bConfigurationValue",
	"ConfigDescriptor.ConfigurationIndex":             "iConfiguration",
	"ConfigDescriptor.Attributes":                     "bmAttributes",
	"ConfigDescriptor.MaxPower":                       "bMaxPower",
	"InterfaceDescriptor.Number":                      "bInterfaceNumber",
	"InterfaceDescriptor.AlternateSetting":            "bAlternateSetting",
	"InterfaceDescriptor.NumEndpoints":                "bNumEndpoints",
	"InterfaceDescriptor.Class":                       "bInterfaceClass",
	"InterfaceDescriptor.SubClass":                    "bInterfaceSubClass",
	"InterfaceDescriptor.Protocol":                    "bInterfaceProtocol",
	"InterfaceDescriptor.InterfaceIndex":              "iInterface",
	"EndpointDescriptor.Address":                      "bEndpointAddress",
	"EndpointDescriptor.Attributes":                   "bmAttributes",
	"EndpointDescriptor.MaxPacketSize":                "wMaxPacketSize",
	"EndpointDescriptor.Interval":                     "bInterval",
	"EndpointDescriptor.Refresh":                      "bRefresh",
	"EndpointDescriptor.SynchAddress":                 "bSynchAddress",
	"SSEndpointCompanionDescriptor.MaxBurst":          "bMaxBurst",
	"SSEndpointCompanionDescriptor.Attributes":        "bmAttributes",
	"SSEndpointCompanionDescriptor.BytesPerInterval":  "wBytesPerInterval",
	"InterfaceAssociationDescriptor.FirstInterface":   "bFirstInterface",
	"InterfaceAssociationDescriptor.InterfaceCount":   "bInterfaceCount",
	"InterfaceAssociationDescriptor.FunctionClass":    "bFunctionClass",
	"InterfaceAssociationDescriptor.FunctionSubClass": "bFunctionSubClass",
	"InterfaceAssociationDescriptor.FunctionProtocol": "bFunctionProtocol",
	"InterfaceAssociationDescriptor.FunctionIndex":    "iFunction",
	"RawDescriptor.Type":                              "bDescriptorType",
	"RawDescriptor.Data":                              "data",
}

func fieldName(typ, field string) string {
	if n, ok := usbNames[typ+"."+field]; ok {
		return n
	}
	return strings.ToLower(field[:1]) + field[1:]
}
