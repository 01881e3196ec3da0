package config

import (
	"errors"
	"strings"
	"testing"
)

// base is a valid file; the cases below edit it. Line numbers:
//
//	 1 gadget:
//	 5 udc: auto
//	 7   - functions: [loop]
//	 9   - name: loop
//	13       - endpoints:
//	16           - direction: out
//	18             max_packet: 512
//	20       kind: loopback
const base = `gadget:
  name: g
  vid: 0x1d6b
  pid: 0x0104
udc: auto
configurations:
  - functions: [loop]
functions:
  - name: loop
    type: ffs
    speeds: [high]
    interfaces:
      - endpoints:
          - direction: in
            type: bulk
          - direction: out
            type: bulk
            max_packet: 512
    personality:
      kind: loopback
`

func TestBaseIsValid(t *testing.T) {
	if _, err := Parse("bad.yaml", strings.NewReader(base)); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string // edit of base; old "" replaces the whole file with new
		want     string
	}{
		{"bulk 513 at high speed", "max_packet: 512", "max_packet: 513",
			"bad.yaml:18: functions[0].interfaces[0].endpoints[1].max_packet: 513 is not allowed for bulk at high speed (must be 512)"},
		{"bulk 512 at full speed", "speeds: [high]", "speeds: [full, high]",
			"bad.yaml:18: functions[0].interfaces[0].endpoints[1].max_packet: 512 is not allowed for bulk at full speed (must be 8, 16, 32 or 64)"},
		{"bulk per speed", "max_packet: 512", "max_packet: {full: 64, high: 1024}",
			"bad.yaml:18: functions[0].interfaces[0].endpoints[1].max_packet.high: 1024 is not allowed for bulk at high speed (must be 512)"},
		{"endpoint 16", "          - direction: out\n", "          - number: 16\n            direction: out\n",
			"bad.yaml:16: functions[0].interfaces[0].endpoints[1].number: 16 is not an endpoint number (1..15)"},
		{"no number left", "          - direction: in\n", "          - direction: out\n            number: 15\n",
			"bad.yaml:17: functions[0].interfaces[0].endpoints[1].number: no out endpoint number is left (1..15)"},
		{"address twice", "          - direction: out\n", "          - direction: in\n            number: 1\n",
			"bad.yaml:17: functions[0].interfaces[0].endpoints[1].number: ep1in is used twice"},
		{"missing udc", "udc: auto\n", "",
			"bad.yaml:1: udc: required"},
		{"empty udc", "udc: auto", "udc:",
			"bad.yaml:5: udc: expected a string, got nothing"},
		{"bad udc", "udc: auto", "udc: ../x",
			`bad.yaml:5: udc: "../x" is not a UDC name (as in /sys/class/udc, e.g. dummy_udc.0) or auto`},
		{"unknown top-level key", "udc: auto\n", "udc: auto\nudcs: auto\n",
			"bad.yaml:6: udcs: unknown key (allowed: gadget, udc, configurations, functions, status_socket, user, log)"},
		{"unknown endpoint key", "max_packet: 512", "max_packet_size: 512",
			"bad.yaml:18: functions[0].interfaces[0].endpoints[1].max_packet_size: unknown key (allowed: number, direction, type, max_packet, interval, transactions, burst, max_streams, mult, iso_attributes, bytes_per_interval)"},
		{"vid string", "vid: 0x1d6b", "vid: linux",
			`bad.yaml:3: gadget.vid: expected an integer, got the string "linux"`},
		{"vid too big", "vid: 0x1d6b", "vid: 0x11d6b",
			"bad.yaml:3: gadget.vid: 0x11d6b does not fit in 16 bits (0..0xffff)"},
		{"gadget a list", "gadget:\n  name: g\n  vid: 0x1d6b\n  pid: 0x0104\n", "gadget: [g]\n",
			"bad.yaml:1: gadget: expected a mapping, got a list"},
		{"serial as a number", "  pid: 0x0104\n", "  pid: 0x0104\n  strings:\n    0x409:\n      serial: 0001\n",
			"bad.yaml:7: gadget.strings.0x409.serial: expected a string, got the integer 0001 (quote it)"},
		{"bad language", "  pid: 0x0104\n", "  pid: 0x0104\n  strings:\n    en:\n      serial: x\n",
			`bad.yaml:6: gadget.strings.en: "en" is not a USB language ID (e.g. 0x409)`},
		{"long string", "  pid: 0x0104\n", "  pid: 0x0104\n  strings:\n    0x409:\n      product: " + strings.Repeat("x", 127) + "\n",
			"bad.yaml:7: gadget.strings.0x409.product: 127 UTF-16 code units, a string descriptor holds 126"},
		{"duplicate key", "  name: g\n", "  name: g\n  name: h\n",
			"bad.yaml:3: gadget.name: duplicate key"},
		{"bad gadget name", "name: g", "name: g/h",
			`bad.yaml:2: gadget.name: "g/h" is not a name (letters, digits, '_' and '-')`},
		{"unknown function type", "type: ffs", "type: fs",
			`bad.yaml:10: functions[0].type: "fs" is not a function type (Loopback, SourceSink, acm, ecm, ffs, hid, mass_storage, ncm)`},
		{"missing function", "[loop]", "[loop, nope]",
			`bad.yaml:7: configurations[0].functions[1]: "nope" is not the name of a function (loop)`},
		{"function twice in a configuration", "[loop]", "[loop, loop]",
			`bad.yaml:7: configurations[0].functions[1]: "loop" is listed twice`},
		{"function in no configuration", "      kind: loopback\n", "      kind: loopback\n  - name: GS0\n    type: acm\n",
			`bad.yaml:21: functions[1]: acm "GS0" is in no configuration`},
		{"function name twice", "      kind: loopback\n", "      kind: loopback\n  - name: loop\n    type: acm\n",
			`bad.yaml:21: functions[1].name: "loop" is also the name of functions[0]`},
		{"configuration number twice", "  - functions: [loop]\n", "  - functions: [loop]\n  - functions: [loop]\n    number: 1\n",
			"bad.yaml:9: configurations[1].number: 1 is also the number of configurations[0]"},
		{"no configurations", "  - functions: [loop]\n", "",
			"bad.yaml:6: configurations: expected a list, got nothing"},
		{"attributes without bit 7", "  - functions: [loop]\n", "  - functions: [loop]\n    attributes: 0x40\n",
			"bad.yaml:8: configurations[0].attributes: 0x40 must have bit 7 set and no bits but 7, 6 (self powered) and 5 (remote wakeup)"},
		{"attribute name", "  - functions: [loop]\n", "  - functions: [loop]\n    attributes: [bus_powered]\n",
			`bad.yaml:8: configurations[0].attributes[0]: "bus_powered" is not one of self_powered, remote_wakeup`},
		{"max power", "  - functions: [loop]\n", "  - functions: [loop]\n    max_power_ma: 1000\n",
			"bad.yaml:8: configurations[0].max_power_ma: 1000 is out of range (0..900)"},
		{"interrupt without interval", "            type: bulk\n            max_packet: 512", "            type: interrupt\n            max_packet: 512",
			"bad.yaml:16: functions[0].interfaces[0].endpoints[1].interval: required for interrupt endpoints"},
		{"interval not a power of two", "max_packet: 512", "max_packet: 512\n          - {direction: in, type: interrupt, max_packet: 64, interval: 3ms}",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[2].interval: 3ms is not 125µs times a power of two up to 4.096s"},
		{"interrupt packet too large", "max_packet: 512", "max_packet: 512\n          - {direction: in, type: interrupt, max_packet: 1025, interval: 1ms}",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[2].max_packet: 1025: interrupt allows at most 1024"},
		{"interval not a duration", "            type: bulk\n            max_packet: 512", "            type: interrupt\n            max_packet: 512\n            interval: 8",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[1].interval: expected a string, got the integer 8 (quote it)"},
		{"bulk interval", "max_packet: 512", "max_packet: 512\n            interval: 1ms",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[1].interval: bulk endpoints have no interval"},
		{"interrupt per-speed size", "            type: bulk\n            max_packet: 512", "            type: interrupt\n            max_packet: {high: 64}\n            interval: 1ms",
			"bad.yaml:18: functions[0].interfaces[0].endpoints[1].max_packet: interrupt endpoints have one size at every speed"},
		{"bulk streams out of range", "max_packet: 512", "max_packet: 512\n            max_streams: 17",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[1].max_streams: 17: at most 16 (2^16 streams)"},
		{"mult on bulk", "max_packet: 512", "max_packet: 512\n            mult: 1",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[1].mult: not for bulk endpoints (isochronous only)"},
		{"burst 16", "max_packet: 512", "max_packet: 512\n            burst: 16",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[1].burst: 16: at most 15"},
		{"bytes per interval on bulk", "max_packet: 512", "max_packet: 512\n            bytes_per_interval: 512",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[1].bytes_per_interval: not for bulk endpoints (periodic only)"},
		{"direction", "direction: out", "direction: up",
			`bad.yaml:16: functions[0].interfaces[0].endpoints[1].direction: "up" is not one of in, out`},
		{"no bulk out for loopback", "          - direction: out\n            type: bulk\n            max_packet: 512\n", "",
			"bad.yaml:17: functions[0].personality.kind: loopback needs a bulk in and a bulk out endpoint"},
		{"request too large", "      kind: loopback\n", "      kind: loopback\n      request_size: 8388608\n",
			"bad.yaml:21: functions[0].personality.request_size: 8388608 is larger than f_fs's 4 MiB bounce buffer"},
		{"pattern on loopback", "      kind: loopback\n", "      kind: loopback\n      pattern: mod63\n",
			"bad.yaml:21: functions[0].personality.pattern: unknown key (allowed: kind, queue_depth, request_size)"},
		{"bad pattern", "      kind: loopback\n", "      kind: sourcesink\n      pattern: 3\n",
			"bad.yaml:21: functions[0].personality.pattern: 3 is out of range (0..2)"},
		{"abort without options", "kind: loopback", "kind: abort",
			"bad.yaml:20: functions[0].personality.abort: required"},
		{"mode in decimal", "    speeds: [high]\n", "    speeds: [high]\n    mount: {mode: 660}\n",
			"bad.yaml:12: functions[0].mount.mode: 660 is not a permission mode (write it in octal, e.g. 0o660)"},
		{"relative mount", "    speeds: [high]\n", "    speeds: [high]\n    mount: {dir: ffs}\n",
			`bad.yaml:12: functions[0].mount.dir: "ffs" is not a clean absolute directory path`},
		{"speed twice", "speeds: [high]", "speeds: [high, high]",
			"bad.yaml:11: functions[0].speeds[1]: high-speed is listed twice"},
		{"os_desc without gadget os_desc", "      - endpoints:\n", "      - os_desc: {compatible_id: WINUSB}\n        endpoints:\n",
			"bad.yaml:13: functions[0].interfaces[0].os_desc: needs gadget.os_desc, or the host never asks for OS descriptors"},
		{"bad GUID", "      - endpoints:\n",
			"      - os_desc:\n          properties:\n            - {name: DeviceInterfaceGUID, type: sz, value: nope}\n        endpoints:\n",
			`bad.yaml:16: functions[0].interfaces[0].os_desc.properties[0].value: "nope" is not a GUID like {01234567-89ab-cdef-0123-456789abcdef}`},
		{"multi_sz", "      - endpoints:\n",
			"      - os_desc:\n          properties:\n            - {name: Labels, type: multi_sz, value: x}\n        endpoints:\n",
			"bad.yaml:16: functions[0].interfaces[0].os_desc.properties[0]: Type REG_MULTI_SZ: f_fs takes it but Linux stalls the host's request for it; use REG_SZ or REG_BINARY"},
		{"dword_le", "      - endpoints:\n",
			"      - os_desc:\n          properties:\n            - {name: Count, type: dword_le, value: \"1\"}\n        endpoints:\n",
			"bad.yaml:16: functions[0].interfaces[0].os_desc.properties[0]: Type REG_DWORD_LITTLE_ENDIAN: f_fs takes it but Linux stalls the host's request for it; use REG_SZ or REG_BINARY"},
		{"property too large", "      - endpoints:\n",
			"      - os_desc:\n          properties:\n            - {name: Label, type: sz, value: " + strings.Repeat("x", 235) + "}\n        endpoints:\n",
			"bad.yaml:16: functions[0].interfaces[0].os_desc.properties[0]: 256 bytes encoded; f_fs handles at most 255 per property"},
		{"os_desc configuration", "  pid: 0x0104\n", "  pid: 0x0104\n  os_desc: {vendor_code: 0xcd, configuration: 2}\n",
			"bad.yaml:5: gadget.os_desc.configuration: 2 is not the number of a configuration"},
		{"kernel function key on ffs", "    speeds: [high]\n", "    speeds: [high]\n    qlen: 4\n",
			"bad.yaml:12: functions[0].qlen: unknown key (allowed: name, type, mount, speeds, flags, associations, interfaces, personality)"},
		{"flag", "    speeds: [high]\n", "    speeds: [high]\n    flags: [eventfd]\n",
			`bad.yaml:12: functions[0].flags[0]: "eventfd" is not one of virtual_addr, all_ctrl_recip, config0_setup`},
		{"class descriptor length", "      - endpoints:\n", "      - class_descriptors: [\"09 21 11 01\"]\n        endpoints:\n",
			"bad.yaml:13: functions[0].interfaces[0].class_descriptors[0]: bLength 9 does not match the 4 bytes given"},
		{"class descriptor type", "      - endpoints:\n", "      - class_descriptors: [\"04 24 00 01\"]\n        endpoints:\n",
			"bad.yaml:13: functions[0].interfaces[0].class_descriptors[0]: type 0x24 is rejected by f_fs, which accepts only 0x21 for HID and CCID interfaces"},
		{"three alternate settings", "    personality:\n",
			"        alt_settings: [{endpoints: [{direction: in, type: bulk}]}, {}, {}]\n    personality:\n",
			"bad.yaml:19: functions[0].interfaces[0].alt_settings: 3 alternate settings besides 0; f_fs refuses SET_INTERFACE beyond setting 2"},
		{"alternate setting reuses an address", "    personality:\n",
			"        alt_settings:\n          - endpoints:\n              - {number: 1, direction: in, type: interrupt, max_packet: 64, interval: 1ms}\n    personality:\n",
			"bad.yaml:21: functions[0].interfaces[0].alt_settings[0].endpoints[0].number: ep1in is used twice"},
		{"alternate setting interrupt interval", "    personality:\n",
			"        alt_settings:\n          - endpoints:\n              - {direction: in, type: interrupt, max_packet: 64, interval: 3ms}\n    personality:\n",
			"bad.yaml:21: functions[0].interfaces[0].alt_settings[0].endpoints[0].interval: 3ms is not 125µs times a power of two up to 4.096s"},
		{"alternate setting class descriptor", "    personality:\n",
			"        alt_settings:\n          - class_descriptors: [\"04 24 00 01\"]\n    personality:\n",
			"bad.yaml:20: functions[0].interfaces[0].alt_settings[0].class_descriptors[0]: type 0x24 is rejected by f_fs, which accepts only 0x21 for HID and CCID interfaces"},
		{"alternate setting unknown key", "    personality:\n",
			"        alt_settings: [{os_desc: {}}]\n    personality:\n",
			"bad.yaml:19: functions[0].interfaces[0].alt_settings[0].os_desc: unknown key (allowed: class, subclass, protocol, name, class_descriptors, endpoints)"},
		{"association past the interfaces", "    personality:\n", "    associations: [{first_interface: 0, interface_count: 2}]\n    personality:\n",
			"bad.yaml:19: functions[0].associations[0].interface_count: 2 from interface 0 runs past the last interface 0"},
		{"associations overlap", "    personality:\n", "    associations: [{first_interface: 0, interface_count: 1}, {first_interface: 0, interface_count: 1}]\n    personality:\n",
			"bad.yaml:19: functions[0].associations[1].first_interface: interface 0 is already in association 0"},
		{"iso attributes on bulk", "max_packet: 512", "max_packet: 512\n            iso_attributes: 0x04",
			"bad.yaml:19: functions[0].interfaces[0].endpoints[1].iso_attributes: not for bulk endpoints (isochronous only)"},
		{"interface name languages", "      - endpoints:\n", "      - name: {0x409: a}\n        endpoints: []\n      - name: {0x407: b}\n        endpoints:\n",
			"bad.yaml:15: functions[0].interfaces[1].name: languages 0x407 differ from functions[0].interfaces[0].name's 0x409 (each language needs every string)"},
		{"status socket too long", "udc: auto\n", "udc: auto\nstatus_socket: /" + strings.Repeat("s", 107) + "\n",
			`bad.yaml:6: status_socket: "/` + strings.Repeat("s", 107) + `" is not a unix socket path (1..107 bytes)`},
		{"user root", "udc: auto\n", "udc: auto\nuser: root\n",
			`bad.yaml:6: user: "root": root's; the worker must run unprivileged`},
		{"user root group", "udc: auto\n", "udc: auto\nuser: nobody:root\n",
			`bad.yaml:6: user: "nobody:root": root's; the worker must run unprivileged`},
		{"uid 0", "udc: auto\n", "udc: auto\nuser: \"0:65534\"\n",
			`bad.yaml:6: user: "0:65534": uid 0 is root's; the worker must run unprivileged`},
		{"gid 0", "udc: auto\n", "udc: auto\nuser: \"65534:0\"\n",
			`bad.yaml:6: user: "65534:0": gid 0 is root's; the worker must run unprivileged`},
		{"uid out of range", "udc: auto\n", "udc: auto\nuser: 4294967295\n",
			`bad.yaml:6: user: "4294967295": uid 4294967295 is out of range (1..4294967294)`},
		{"user without group", "udc: auto\n", "udc: auto\nuser: \"nobody:\"\n",
			`bad.yaml:6: user: "nobody:": want USER or USER:GROUP (names or numbers)`},
		{"user three parts", "udc: auto\n", "udc: auto\nuser: \"1:2:3\"\n",
			`bad.yaml:6: user: "1:2:3": want USER or USER:GROUP (names or numbers)`},
		{"user name", "udc: auto\n", "udc: auto\nuser: \"no body\"\n",
			`bad.yaml:6: user: "no body": "no body" is not a user or group name`},
		{"user list", "udc: auto\n", "udc: auto\nuser: [nobody]\n",
			`bad.yaml:6: user: expected a value, got a list`},
		{"log format", "udc: auto\n", "udc: auto\nlog: {format: xml}\n",
			`bad.yaml:6: log.format: "xml" is not one of text, json`},
		{"alias", "configurations:\n  - functions: [loop]\n", "configurations:\n  - functions: &f [loop]\n  - functions: *f\n",
			"bad.yaml:8: configurations[1].functions: YAML aliases are not supported"},
		// yaml.v3 reports syntax errors at the line of the enclosing
		// construct, which can be the line above the offending character.
		{"invalid YAML", "  vid: 0x1d6b\n", "  vid: [0x1d6b\n",
			"bad.yaml:2: invalid YAML: did not find expected ',' or ']'"},
		{"tab indentation", "  vid: 0x1d6b\n", "\tvid: 0x1d6b\n",
			"bad.yaml:2: invalid YAML: found a tab character that violates indentation"},
		{"two documents", "", base + "---\n" + base,
			"bad.yaml:21: a second YAML document: a gadget file holds one"},
		{"empty file", "", "",
			"bad.yaml:1: empty file"},
		{"a scalar", "", "42\n",
			"bad.yaml:1: expected a mapping, got the integer 42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.new
			if tc.old != "" {
				if !strings.Contains(base, tc.old) {
					t.Fatalf("base does not contain %q", tc.old)
				}
				in = strings.Replace(base, tc.old, tc.new, 1)
			}
			if tc.name == "bad GUID" || tc.name == "multi_sz" || tc.name == "dword_le" || tc.name == "property too large" {
				// OS descriptors of a function need the gadget's.
				in = strings.Replace(in, "  pid: 0x0104\n", "  pid: 0x0104\n  os_desc: {vendor_code: 0xcd}\n", 1)
			}
			_, err := Parse("bad.yaml", strings.NewReader(in))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", in)
			}
			if err.Error() != tc.want {
				t.Fatalf("Parse error\n got: %s\nwant: %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "bad.yaml" {
				t.Fatalf("error %T does not unwrap to *Error for bad.yaml", err)
			}
		})
	}
}
