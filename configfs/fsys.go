package configfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// fsys is every change this package makes to a configfs tree. Reads go to
// the os package directly. Tests substitute an implementation that behaves
// like configfs in a temp dir, and one that fails at a chosen step.
type fsys interface {
	Mkdir(path string) error
	Rmdir(path string) error
	// WriteAttr writes value to an existing attribute file in one write.
	WriteAttr(path string, value []byte) error
	Symlink(target, link string) error
	Unlink(path string) error
}

// osFS is the real thing.
type osFS struct{}

func (osFS) Mkdir(path string) error { return os.Mkdir(path, 0o755) }

func (osFS) Rmdir(path string) error {
	if err := unix.Rmdir(path); err != nil {
		return &os.PathError{Op: "rmdir", Path: path, Err: err}
	}
	return nil
}

// WriteAttr never creates the file: on configfs the kernel makes every
// attribute with its directory, and a missing one is an error worth seeing.
func (osFS) WriteAttr(path string, value []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (osFS) Symlink(target, link string) error { return os.Symlink(target, link) }

func (osFS) Unlink(path string) error {
	if err := unix.Unlink(path); err != nil {
		return &os.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}
