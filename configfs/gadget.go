package configfs

import (
	"fmt"
	"strings"
)

// Gadget describes one gadget directory under the configfs root.
type Gadget struct {
	// Name is the directory name under the root, e.g. "g1".
	Name string

	VendorID  uint16 // idVendor
	ProductID uint16 // idProduct
	// BCDDevice is bcdDevice; 0 keeps the kernel's default (its version).
	BCDDevice uint16
	// BCDUSB is bcdUSB; 0 keeps the kernel's default. The composite driver
	// raises it for SuperSpeed and LPM on its own.
	BCDUSB   uint16
	Class    uint8 // bDeviceClass
	SubClass uint8 // bDeviceSubClass
	Protocol uint8 // bDeviceProtocol
	// MaxPacketSize0 is bMaxPacketSize0; 0 keeps the kernel's default.
	MaxPacketSize0 uint8
	// MaxSpeed limits the speed, as the kernel names it ("full-speed",
	// "high-speed", "super-speed", ...); "" keeps the UDC's maximum.
	MaxSpeed string

	Strings   []DeviceStrings
	Functions []Function
	Configs   []Config
	// OSDesc enables Microsoft OS descriptors; nil leaves them off.
	OSDesc *OSDesc
}

// DeviceStrings are the device strings in one language.
type DeviceStrings struct {
	Lang         uint16 // USB language ID, e.g. 0x409 for en-US
	Manufacturer string
	Product      string
	SerialNumber string
}

// Config is one configuration, the directory configs/Label.Number.
type Config struct {
	// Label is the name part of the directory; "" means "c".
	Label string
	// Number is bConfigurationValue, 1 or more, unique in the gadget.
	Number int
	// Attributes is bmAttributes; 0 means 0x80 (bus powered). Bit 7 must be
	// set; bits 6 (self powered) and 5 (remote wakeup) are the only others.
	Attributes uint8
	// MaxPowerMA is the current drawn from the bus in mA (MaxPower).
	MaxPowerMA int
	Strings    []ConfigStrings
	// Functions names the functions linked into this configuration, by
	// Function.Dir, in interface order.
	Functions []string
}

// ConfigStrings is the configuration string in one language.
type ConfigStrings struct {
	Lang          uint16
	Configuration string
}

// OSDesc configures the gadget's os_desc directory.
type OSDesc struct {
	VendorCode uint8 // b_vendor_code
	// Sign is qw_sign; "" means "MSFT100".
	Sign string
	// Config is the Number of the configuration that carries the OS
	// descriptors (Windows reads only one).
	Config int
}

// Function is one function directory, functions/Type.Instance. The
// constructors in functions.go fill Attrs for the kernel's own functions;
// any other type can be described directly.
type Function struct {
	Type     string // "ffs", "acm", "ncm", "mass_storage", ...
	Instance string
	// Attrs are written in order after the directory is made.
	Attrs []Attr
	// LUNs are mass_storage logical units; LUNs[0] is lun.0, which the
	// kernel creates with the function, the others are made.
	LUNs []LUN
	// OSDesc are the function's os_desc/interface.NAME entries; the kernel
	// creates those directories for the functions that support them
	// (ncm, rndis).
	OSDesc []InterfaceOSDesc
}

// Dir returns the function's directory name, Type.Instance.
func (f Function) Dir() string { return f.Type + "." + f.Instance }

// Attr is one attribute file and the bytes written to it.
type Attr struct {
	Name  string
	Value string
}

// LUN is one mass_storage logical unit.
type LUN struct {
	File          string // backing file or device; "" leaves it empty
	ReadOnly      bool
	Removable     bool
	CDROM         bool
	NoFUA         bool
	InquiryString string // "" keeps the kernel's default
}

// InterfaceOSDesc is a function's os_desc/interface.Interface entry.
type InterfaceOSDesc struct {
	Interface       string // NAME in interface.NAME, e.g. "ncm"
	CompatibleID    string // e.g. "WINNCM", at most 8 characters
	SubCompatibleID string // at most 8 characters
}

// maxStringLen is the longest string configfs accepts (USB_MAX_STRING_LEN).
const maxStringLen = 126

// maxLUNs is FSG_MAX_LUNS.
const maxLUNs = 16

// Validate checks g for everything that can be known before touching the
// kernel; the error names the field and the reason.
func (g *Gadget) Validate() error {
	if err := checkName("name", g.Name); err != nil {
		return err
	}
	if err := checkStrings(g.Strings); err != nil {
		return err
	}
	dirs := make(map[string]bool)
	for i, f := range g.Functions {
		field := fmt.Sprintf("functions[%d]", i)
		if err := checkName(field+".type", f.Type); err != nil {
			return err
		}
		if strings.Contains(f.Type, ".") {
			return fmt.Errorf("%s.type: %q must not contain '.'", field, f.Type)
		}
		if err := checkName(field+".instance", f.Instance); err != nil {
			return err
		}
		if dirs[f.Dir()] {
			return fmt.Errorf("%s: %q is defined twice", field, f.Dir())
		}
		dirs[f.Dir()] = true
		for j, a := range f.Attrs {
			if err := checkName(fmt.Sprintf("%s.attrs[%d].name", field, j), a.Name); err != nil {
				return err
			}
		}
		if len(f.LUNs) > 0 && f.Type != "mass_storage" {
			return fmt.Errorf("%s.luns: only mass_storage has LUNs, not %q", field, f.Type)
		}
		if len(f.LUNs) > maxLUNs {
			return fmt.Errorf("%s.luns: %d LUNs, at most %d", field, len(f.LUNs), maxLUNs)
		}
		for j, d := range f.OSDesc {
			df := fmt.Sprintf("%s.os_desc[%d]", field, j)
			if err := checkName(df+".interface", d.Interface); err != nil {
				return err
			}
			if len(d.CompatibleID) > 8 {
				return fmt.Errorf("%s.compatible_id: %q is longer than 8 characters", df, d.CompatibleID)
			}
			if len(d.SubCompatibleID) > 8 {
				return fmt.Errorf("%s.sub_compatible_id: %q is longer than 8 characters", df, d.SubCompatibleID)
			}
		}
	}
	if len(g.Configs) == 0 {
		return fmt.Errorf("configs: at least one configuration is needed")
	}
	numbers := make(map[int]bool)
	for i, c := range g.Configs {
		field := fmt.Sprintf("configs[%d]", i)
		if c.Label != "" {
			if err := checkName(field+".label", c.Label); err != nil {
				return err
			}
			if strings.Contains(c.Label, ".") {
				return fmt.Errorf("%s.label: %q must not contain '.'", field, c.Label)
			}
		}
		if c.Number < 1 || c.Number > 255 {
			return fmt.Errorf("%s.number: %d is not a bConfigurationValue (1..255)", field, c.Number)
		}
		if numbers[c.Number] {
			return fmt.Errorf("%s.number: %d is used twice", field, c.Number)
		}
		numbers[c.Number] = true
		if a := c.Attributes; a != 0 && (a&0x80 == 0 || a&^0xe0 != 0) {
			return fmt.Errorf("%s.attributes: %#02x must have bit 7 set and no bits other than 7, 6, 5", field, a)
		}
		if c.MaxPowerMA < 0 || c.MaxPowerMA > 0xffff {
			return fmt.Errorf("%s.max_power_ma: %d is out of range", field, c.MaxPowerMA)
		}
		for j, s := range c.Strings {
			if s.Lang == 0 {
				return fmt.Errorf("%s.strings[%d].lang: 0 is not a language ID", field, j)
			}
			if len(s.Configuration) > maxStringLen {
				return fmt.Errorf("%s.strings[%d].configuration: longer than %d bytes", field, j, maxStringLen)
			}
		}
		linked := make(map[string]bool)
		for j, name := range c.Functions {
			if !dirs[name] {
				return fmt.Errorf("%s.functions[%d]: %q is not a defined function", field, j, name)
			}
			if linked[name] {
				return fmt.Errorf("%s.functions[%d]: %q is linked twice", field, j, name)
			}
			linked[name] = true
		}
	}
	if d := g.OSDesc; d != nil {
		if !numbers[d.Config] {
			return fmt.Errorf("os_desc.config: %d is not a defined configuration", d.Config)
		}
		if len(d.Sign) > 7 {
			return fmt.Errorf("os_desc.sign: %q is longer than 7 characters", d.Sign)
		}
	}
	return nil
}

func checkStrings(ss []DeviceStrings) error {
	langs := make(map[uint16]bool)
	for i, s := range ss {
		if s.Lang == 0 {
			return fmt.Errorf("strings[%d].lang: 0 is not a language ID", i)
		}
		if langs[s.Lang] {
			return fmt.Errorf("strings[%d].lang: %#x is used twice", i, s.Lang)
		}
		langs[s.Lang] = true
		for _, v := range []struct{ field, s string }{
			{"manufacturer", s.Manufacturer}, {"product", s.Product}, {"serialnumber", s.SerialNumber},
		} {
			if len(v.s) > maxStringLen {
				return fmt.Errorf("strings[%d].%s: longer than %d bytes", i, v.field, maxStringLen)
			}
		}
	}
	return nil
}

// checkName accepts a single path element.
func checkName(field, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s: empty", field)
	case s == "." || s == "..":
		return fmt.Errorf("%s: %q is not a directory name", field, s)
	case strings.ContainsAny(s, "/\x00\n"):
		return fmt.Errorf("%s: %q must not contain '/', NUL or newline", field, s)
	}
	return nil
}

func (c Config) dir() string {
	label := c.Label
	if label == "" {
		label = "c"
	}
	return fmt.Sprintf("%s.%d", label, c.Number)
}
