package vmtest

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// cpioWriter writes a newc ("070701") cpio archive, the format the kernel
// unpacks as an initramfs. Directories are not implied: add each parent before
// its children (Initramfs does this for you).
type cpioWriter struct {
	w     io.Writer
	ino   uint32
	off   int64
	err   error
	ended bool
}

// newCPIOWriter returns a writer that emits the archive to w.
func newCPIOWriter(w io.Writer) *cpioWriter { return &cpioWriter{w: w, ino: 1} }

// File modes as cpio stores them (the S_IF* bits of st_mode).
const (
	cpioDir     = 0o040000
	cpioRegular = 0o100000
	cpioSymlink = 0o120000
)

// Dir adds a directory entry.
func (c *cpioWriter) Dir(name string, perm uint32) error {
	return c.entry(name, cpioDir|perm&0o7777, nil)
}

// File adds a regular file with the given contents.
func (c *cpioWriter) File(name string, perm uint32, data []byte) error {
	return c.entry(name, cpioRegular|perm&0o7777, data)
}

// Symlink adds a symbolic link name -> target.
func (c *cpioWriter) Symlink(name, target string) error {
	return c.entry(name, cpioSymlink|0o777, []byte(target))
}

// Close writes the trailer. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	if c.ended {
		return c.err
	}
	c.ended = true
	return c.entry("TRAILER!!!", 0, nil)
}

func (c *cpioWriter) entry(name string, mode uint32, data []byte) error {
	if c.err != nil {
		return c.err
	}
	if name != "TRAILER!!!" {
		clean := strings.TrimPrefix(path.Clean("/"+name), "/")
		if clean == "" || clean != strings.TrimPrefix(name, "/") {
			return fmt.Errorf("cpio: entry name %q is not a clean relative path", name)
		}
		name = clean
	}
	nlink := 1
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	ino := c.ino
	c.ino++
	// 13 fields of 8 hex digits after the magic; see the kernel's
	// Documentation/driver-api/early-userspace/buffer-format.rst.
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
	c.write(data)
	c.pad()
	return c.err
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.off += int64(n)
	c.err = err
}

// pad aligns the stream to 4 bytes, as newc requires after the name and data.
func (c *cpioWriter) pad() {
	if r := c.off % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}
