package ffs

import (
	"errors"
	"strings"
	"testing"

	"github.com/gadgetkit/gadgetkit/usb"
)

func TestStringsRules(t *testing.T) {
	en := func(s ...string) Language { return Language{ID: usb.LangEnglishUS, Strings: s} }
	de := func(s ...string) Language { return Language{ID: usb.LangGerman, Strings: s} }
	tests := []struct {
		name string
		s    Strings
		msg  string
	}{
		{"language 0", Strings{[]Language{{ID: 0, Strings: []string{"a"}}}},
			"ffs: language 0 (0x0000): ID: 0 is not a language"},
		{"language twice", Strings{[]Language{en("a"), en("b")}},
			"ffs: language 1 (0x0409): ID: listed twice"},
		{"counts differ", Strings{[]Language{en("a", "b"), de("a")}},
			"ffs: language 1 (0x0407): Strings: 1 strings, but language 0x0409 has 2: every language needs the same strings"},
		{"not UTF-8", Strings{[]Language{en("ok", "\xff")}},
			`ffs: language 0 (0x0409): Strings[1]: "\xff" is not UTF-8`},
		{"NUL", Strings{[]Language{en("a\x00b")}},
			`ffs: language 0 (0x0409): Strings[0]: "a\x00b" contains a NUL`},
		{"too long", Strings{[]Language{en(strings.Repeat("é", 127))}},
			"ffs: language 0 (0x0409): Strings[0]: 127 UTF-16 code units, a string descriptor holds 126"},
		{"languages without strings", Strings{[]Language{en(), de()}},
			"ffs: Languages: 2 languages without strings: both counts must be zero or neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.s.MarshalBinary()
			var de *DescriptorError
			if !errors.As(err, &de) || err.Error() != tt.msg {
				t.Fatalf("MarshalBinary() error =\n%v\nwant\n%s", err, tt.msg)
			}
		})
	}
	// The limit counts UTF-16 code units: 126 runes outside the BMP would
	// be 252 units, 63 fit.
	if err := (&Strings{[]Language{en(strings.Repeat("😀", 63))}}).Validate(); err != nil {
		t.Fatalf("63 surrogate pairs: %v", err)
	}
	if err := (&Strings{}).Validate(); err != nil {
		t.Fatalf("no strings at all: %v", err)
	}
}

func TestEmptyStringsBlob(t *testing.T) {
	b, err := (&Strings{}).MarshalBinary()
	want := []byte{
		0x02, 0x00, 0x00, 0x00, // magic: 2
		0x10, 0x00, 0x00, 0x00, // length: 16
		0x00, 0x00, 0x00, 0x00, // str_count: 0
		0x00, 0x00, 0x00, 0x00, // lang_count: 0
	}
	if err != nil || string(b) != string(want) {
		t.Fatalf("got % x, %v", b, err)
	}
}

func TestParseStringsErrors(t *testing.T) {
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), goldenTwoLanguages...)) }
	tests := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"short header", goldenTwoLanguages[:15], "ffs: malformed blob: lang_count at offset 12 needs 4 bytes, 3 left"},
		{"magic", mut(func(b []byte) []byte { b[0] = 3; return b }), "ffs: malformed blob: magic 3, want 2"},
		{"length", mut(func(b []byte) []byte { b[4] = 46; return b }), "ffs: malformed blob: length field 46, blob has 45 bytes"},
		{"one count zero", mut(func(b []byte) []byte { b[8] = 0; return b }),
			"ffs: malformed blob: str_count 0 and lang_count 2: both zero or neither"},
		{"missing NUL", mut(func(b []byte) []byte { b[44] = 'x'; return b }),
			"ffs: malformed blob: language 0x0407 string 1 at offset 39 has no terminating NUL"},
		{"left over", mut(func(b []byte) []byte { b[12] = 1; return b }),
			"ffs: malformed blob: 17 bytes left over at offset 28"},
		{"truncated language", mut(func(b []byte) []byte { b[12] = 3; return b }),
			"ffs: malformed blob: language code at offset 45 needs 2 bytes, 0 left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStrings(tt.b)
			if !errors.Is(err, ErrBlob) || err.Error() != tt.msg {
				t.Fatalf("err =\n%v\nwant\n%s", err, tt.msg)
			}
		})
	}
}

func TestCheckStrings(t *testing.T) {
	d := bulkLoopback()
	d.Associations = []Association{{FirstInterface: 0, InterfaceCount: 1, Name: 2}}
	if err := d.CheckStrings(&Strings{}); err == nil || err.Error() != "ffs: Strings: Languages: none, but the descriptors refer to string 2" {
		t.Fatalf("no languages: %v", err)
	}
	one := &Strings{[]Language{{ID: usb.LangEnglishUS, Strings: []string{"a"}}}}
	if err := d.CheckStrings(one); err == nil || err.Error() != "ffs: Strings: Languages: 1 strings per language, but the descriptors refer to string 2" {
		t.Fatalf("too few: %v", err)
	}
	one.Languages[0].Strings = append(one.Languages[0].Strings, "b")
	if err := d.CheckStrings(one); err != nil {
		t.Fatal(err)
	}
}
