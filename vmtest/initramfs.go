package vmtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// initramfs collects the guest's files and writes them as one cpio archive.
type initramfs struct {
	cpio *cpioWriter
	dirs map[string]bool
	size int64
}

func newInitramfs(w io.Writer) *initramfs {
	return &initramfs{cpio: newCPIOWriter(w), dirs: map[string]bool{"": true, ".": true}}
}

func (r *initramfs) mkdirAll(dir string) error {
	dir = strings.TrimPrefix(path.Clean("/"+dir), "/")
	if r.dirs[dir] {
		return nil
	}
	if err := r.mkdirAll(path.Dir(dir)); err != nil {
		return err
	}
	r.dirs[dir] = true
	return r.cpio.Dir(dir, 0o755)
}

func (r *initramfs) file(name string, perm uint32, data []byte) error {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if err := r.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	r.size += int64(len(data))
	return r.cpio.File(name, perm, data)
}

func (r *initramfs) symlink(name, target string) error {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if err := r.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	return r.cpio.Symlink(name, target)
}

// hostFile copies a host file (following symlinks) to guest path name,
// keeping its permission bits.
func (r *initramfs) hostFile(name, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	return r.file(name, uint32(fi.Mode().Perm()), data)
}

// binary carries an executable and, if it is dynamically linked, the shared
// libraries and loader it needs, at the same paths as on the host.
func (r *initramfs) binary(name, src string) error {
	if err := r.hostFile(name, src); err != nil {
		return err
	}
	libs, err := sharedLibs(src)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		if r.dirs["lib:"+lib] {
			continue
		}
		r.dirs["lib:"+lib] = true
		if err := r.hostFile(lib, lib); err != nil {
			return fmt.Errorf("carry %s for %s: %w", lib, src, err)
		}
	}
	return nil
}

// sharedLibs lists the files a dynamic executable loads, from ldd(1).
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("not a dynamic executable")) || bytes.Contains(out, []byte("statically linked")) {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %v: %s", bin, err, bytes.TrimSpace(out))
	}
	return parseLdd(out), nil
}

// parseLdd extracts absolute library paths from ldd output lines such as
//
//	libusb-1.0.so.0 => /lib/x86_64-linux-gnu/libusb-1.0.so.0 (0x...)
//	/lib64/ld-linux-x86-64.so.2 (0x...)
func parseLdd(out []byte) []string {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if _, after, ok := strings.Cut(line, "=> "); ok {
			line = after
		}
		p, _, _ := strings.Cut(line, " ")
		if strings.HasPrefix(p, "/") {
			libs = append(libs, p)
		}
	}
	return libs
}

// tree mirrors the regular files under root at the same absolute path in the
// guest, so tests find testdata and repository files where they expect them.
// Hidden directories, bin/ and out/ are skipped, and so are large files.
func (r *initramfs) tree(root string) error {
	const maxFile = 4 << 20
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || (filepath.Dir(p) == root && (d.Name() == "bin" || d.Name() == "out"))) {
				return filepath.SkipDir
			}
			return r.mkdirAll(p)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Size() > maxFile {
			return err
		}
		return r.hostFile(p, p)
	})
}

// modules carries the .ko files and their load-order manifest.
func (r *initramfs) modules(mods []module, paths map[string]string) error {
	for _, m := range mods {
		if m.File == "" {
			continue
		}
		if err := r.hostFile(path.Join(guestModDir, m.File), paths[m.Name]); err != nil {
			return err
		}
	}
	list, err := json.MarshalIndent(mods, "", "  ")
	if err != nil {
		return err
	}
	return r.file(guestModList, 0o644, list)
}

func (r *initramfs) close() error { return r.cpio.Close() }
