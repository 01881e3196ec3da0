package ffs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gadgetkit/gadgetkit/usb"
)

// Strings is the FunctionFS strings blob: the same numbered strings in one
// or more languages. String index i (as used in Interface.Name) is
// Strings[i-1] of every language.
type Strings struct {
	Languages []Language
}

// Language is one string table.
type Language struct {
	ID      usb.LangID
	Strings []string
}

// maxStringUnits is the most UTF-16 code units a string descriptor holds;
// the composite framework truncates longer strings (USB_MAX_STRING_LEN).
const maxStringUnits = 126

// Validate checks the rules of the strings blob: every language has the
// same number of strings (the blob has one count for all), languages are
// distinct and non-zero, and each string is UTF-8 without NULs that fits a
// string descriptor.
func (s *Strings) Validate() error {
	for i, l := range s.Languages {
		where := fmt.Sprintf("language %d (%s)", i, l.ID)
		if l.ID == 0 {
			return invalid(where, "ID", "0 is not a language")
		}
		for _, prev := range s.Languages[:i] {
			if prev.ID == l.ID {
				return invalid(where, "ID", "listed twice")
			}
		}
		if len(l.Strings) != len(s.Languages[0].Strings) {
			return invalid(where, "Strings", "%d strings, but language %s has %d: every language needs the same strings",
				len(l.Strings), s.Languages[0].ID, len(s.Languages[0].Strings))
		}
		for k, str := range l.Strings {
			field := fmt.Sprintf("Strings[%d]", k)
			if !utf8.ValidString(str) {
				return invalid(where, field, "%q is not UTF-8", str)
			}
			if strings.ContainsRune(str, 0) {
				return invalid(where, field, "%q contains a NUL", str)
			}
			if n := len(utf16.Encode([]rune(str))); n > maxStringUnits {
				return invalid(where, field, "%d UTF-16 code units, a string descriptor holds %d", n, maxStringUnits)
			}
		}
	}
	if len(s.Languages) > 0 && len(s.Languages[0].Strings) == 0 {
		return invalid("", "Languages", "%d languages without strings: both counts must be zero or neither", len(s.Languages))
	}
	return nil
}

// MarshalBinary validates s and encodes the strings blob (magic 2):
// header (magic, length, str_count, lang_count), then per language its
// le16 code and its NUL-terminated strings.
func (s *Strings) MarshalBinary() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	n := 0
	if len(s.Languages) > 0 {
		n = len(s.Languages[0].Strings)
	}
	b := binary.LittleEndian.AppendUint32(nil, MagicStrings)
	b = binary.LittleEndian.AppendUint32(b, 0) // length, filled in below
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Languages)))
	for _, l := range s.Languages {
		b = binary.LittleEndian.AppendUint16(b, uint16(l.ID))
		for _, str := range l.Strings {
			b = append(append(b, str...), 0)
		}
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	return b, nil
}

// ParseStrings decodes a strings blob with the checks f_fs makes (magic,
// length, both counts zero or neither, every string NUL-terminated, no
// bytes left over). It does not require the strings to be valid UTF-8.
func ParseStrings(b []byte) (*Strings, error) {
	r := &reader{b: b}
	magic := r.u32("magic")
	length := r.u32("length")
	strCount := r.u32("str_count")
	langCount := r.u32("lang_count")
	if r.err != nil {
		return nil, r.err
	}
	if magic != MagicStrings {
		return nil, blobErr("magic %d, want %d", magic, MagicStrings)
	}
	if int64(length) != int64(len(b)) {
		return nil, blobErr("length field %d, blob has %d bytes", length, len(b))
	}
	if (strCount == 0) != (langCount == 0) {
		return nil, blobErr("str_count %d and lang_count %d: both zero or neither", strCount, langCount)
	}
	s := &Strings{}
	for range langCount {
		l := Language{ID: usb.LangID(r.u16("language code"))}
		for k := uint32(0); k < strCount && r.err == nil; k++ {
			end := bytes.IndexByte(b[r.off:], 0)
			if end < 0 {
				return nil, blobErr("language %s string %d at offset %d has no terminating NUL", l.ID, k, r.off)
			}
			l.Strings = append(l.Strings, string(r.take(end+1, "string")[:end]))
		}
		if r.err != nil {
			return nil, r.err
		}
		s.Languages = append(s.Languages, l)
	}
	if r.off != len(b) {
		return nil, blobErr("%d bytes left over at offset %d", len(b)-r.off, r.off)
	}
	return s, nil
}

// String prints the tables, one string per line.
func (s *Strings) String() string {
	var sb strings.Builder
	n := 0
	if len(s.Languages) > 0 {
		n = len(s.Languages[0].Strings)
	}
	fmt.Fprintf(&sb, "strings: %d per language, %d languages\n", n, len(s.Languages))
	for _, l := range s.Languages {
		fmt.Fprintf(&sb, "language %s\n", l.ID)
		for k, str := range l.Strings {
			fmt.Fprintf(&sb, "  %d: %q\n", k+1, str)
		}
	}
	return sb.String()
}
