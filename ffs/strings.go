package ffs

import "github.com/gadgetkit/gadgetkit/usb"

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

// MarshalBinary validates s and encodes the strings blob (magic 2).
func (s *Strings) MarshalBinary() ([]byte, error) { return nil, errNotYet }

// ParseStrings decodes a strings blob.
func ParseStrings(b []byte) (*Strings, error) { return nil, errNotYet }

// BlobError is the error of a blob write that the kernel rejected: which
// blob, the errno, and what was sent.
type BlobError struct {
	Blob string // "descriptors" or "strings"
	Data []byte // the bytes written to ep0
	Err  error  // the write error, usually a syscall.Errno
}

// WriteError wraps err, the failure of writing data (the named blob) to
// ep0, into a *BlobError.
func WriteError(blob string, data []byte, err error) error {
	return &BlobError{Blob: blob, Data: append([]byte(nil), data...), Err: err}
}

func (e *BlobError) Error() string { return "ffs: ep0 rejected the " + e.Blob + " blob: " + e.Err.Error() }

// Unwrap returns the write error, so errors.Is(err, syscall.EINVAL) works.
func (e *BlobError) Unwrap() error { return e.Err }
