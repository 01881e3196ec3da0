package configfs

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MountOptions are functionfs mount options. Zero modes keep the kernel's
// defaults.
type MountOptions struct {
	UID, GID uint32 // owner of ep0 and the endpoint files
	// RMode is the permissions of the mount's root directory; functionfs
	// keeps only the read and execute bits (mask 0555).
	RMode fs.FileMode
	// FMode is the permissions of ep0 and the endpoint files; functionfs
	// keeps only read and write bits (mask 0666).
	FMode fs.FileMode
	// Mode sets both RMode and FMode where those are zero.
	Mode fs.FileMode
	// NoDisconnect keeps the gadget connected when ep0 is closed, so that a
	// restarted daemon can take the function over.
	NoDisconnect bool
}

// data returns the option string passed to mount(2).
func (o MountOptions) data() string {
	opts := []string{
		"uid=" + strconv.FormatUint(uint64(o.UID), 10),
		"gid=" + strconv.FormatUint(uint64(o.GID), 10),
	}
	rmode, fmode := o.RMode, o.FMode
	if rmode == 0 {
		rmode = o.Mode
	}
	if fmode == 0 {
		fmode = o.Mode
	}
	// functionfs parses numbers with base 0 (6.1's fsparam_u32): the
	// leading 0 makes modes octal, as they would be with a u32oct parser.
	if rmode != 0 {
		opts = append(opts, "rmode=0"+strconv.FormatUint(uint64(rmode.Perm()), 8))
	}
	if fmode != 0 {
		opts = append(opts, "fmode=0"+strconv.FormatUint(uint64(fmode.Perm()), 8))
	}
	if o.NoDisconnect {
		opts = append(opts, "no_disconnect=1")
	}
	return strings.Join(opts, ",")
}

// MountFunctionFS mounts the functionfs instance of the function "ffs.NAME"
// (instance is NAME) on dir, making dir if it is missing. The function must
// exist in configfs first.
func MountFunctionFS(instance, dir string, o MountOptions) error {
	if err := checkName("instance", instance); err != nil {
		return fmt.Errorf("configfs: mount functionfs: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("configfs: mount functionfs %q: %w", instance, err)
	}
	data := o.data()
	if err := unix.Mount(instance, dir, "functionfs", 0, data); err != nil {
		return fmt.Errorf("configfs: mount functionfs %q on %s (%s): %w", instance, dir, data, os.NewSyscallError("mount", err))
	}
	return nil
}

// UnmountFunctionFS unmounts the functionfs mounted on dir.
func UnmountFunctionFS(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		return fmt.Errorf("configfs: unmount functionfs %s: %w", dir, os.NewSyscallError("umount", err))
	}
	return nil
}

// FunctionFSMount is one mounted functionfs instance.
type FunctionFSMount struct {
	Instance string // NAME of the function ffs.NAME
	Dir      string // mount point
}

// FunctionFSMounts lists the functionfs instances mounted in this process's
// mount namespace, so that mounts left by a killed run can be found.
func FunctionFSMounts() ([]FunctionFSMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("configfs: %w", err)
	}
	defer f.Close()
	m, err := parseMountInfo(f)
	if err != nil {
		return nil, fmt.Errorf("configfs: /proc/self/mountinfo: %w", err)
	}
	return m, nil
}

// parseMountInfo reads the functionfs lines of a mountinfo file (proc(5)):
// "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS".
func parseMountInfo(r io.Reader) ([]FunctionFSMount, error) {
	var mounts []FunctionFSMount
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || len(fields) < sep+3 {
			return nil, fmt.Errorf("line %d: malformed: %q", line, sc.Text())
		}
		if fields[sep+1] != "functionfs" {
			continue
		}
		mounts = append(mounts, FunctionFSMount{
			Instance: unescapeMountInfo(fields[sep+2]),
			Dir:      unescapeMountInfo(fields[4]),
		})
	}
	return mounts, sc.Err()
}

// unescapeMountInfo undoes the kernel's octal escapes of space, tab,
// newline and backslash (\040, \011, \012, \134).
func unescapeMountInfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
