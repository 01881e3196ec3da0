package gadget

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"

	"github.com/gadgetkit/gadgetkit/configfs"
)

// User is who a privilege-separated gadget's worker runs as.
type User struct {
	UID, GID uint32
}

func (u User) String() string { return fmt.Sprintf("%d:%d", u.UID, u.GID) }

// check refuses root's user and group: a worker running as either would
// keep what the separation is meant to take away.
func (u User) check() error {
	if u.UID == 0 {
		return errors.New("user: uid 0 is root; the worker must run as an unprivileged user")
	}
	if u.GID == 0 {
		return errors.New("user: gid 0 is root's group; the worker must run as an unprivileged group")
	}
	return nil
}

// ParseUser reads USER[:GROUP], each a name or a number. Numbers need no
// /etc/passwd or /etc/group; without GROUP, the user's primary group is
// looked up in /etc/passwd. Root (uid or gid 0) is refused.
func ParseUser(s string) (User, error) {
	fail := func(format string, a ...any) (User, error) {
		return User{}, fmt.Errorf("user %q: "+format, append([]any{s}, a...)...)
	}
	name, group, hasGroup := strings.Cut(s, ":")
	if name == "" || hasGroup && group == "" || strings.Contains(group, ":") {
		return fail("want USER or USER:GROUP (names or numbers)")
	}
	var u User
	gid := ""
	id, isNum, err := parseID(name)
	switch {
	case err != nil:
		return fail("uid %s: %v", name, err)
	case isNum:
		u.UID = id
	default:
		pw, err := user.Lookup(name)
		if errors.As(err, new(user.UnknownUserError)) {
			return fail("no such user")
		} else if err != nil {
			return fail("%v", err)
		}
		if u.UID, _, err = parseID(pw.Uid); err != nil {
			return fail("uid %s: %v", pw.Uid, err)
		}
		gid = pw.Gid
	}
	if !hasGroup && isNum {
		pw, err := user.LookupId(name)
		if err != nil {
			return fail("no passwd entry for uid %s to find its group: give USER:GROUP", name)
		}
		gid = pw.Gid
	}
	if hasGroup {
		gid = group
		if _, isNum, _ := parseID(group); !isNum {
			gr, err := user.LookupGroup(group)
			if errors.As(err, new(user.UnknownGroupError)) {
				return fail("no such group %q", group)
			} else if err != nil {
				return fail("%v", err)
			}
			gid = gr.Gid
		}
	}
	if u.GID, _, err = parseID(gid); err != nil {
		return fail("gid %s: %v", gid, err)
	}
	if err := u.check(); err != nil {
		return fail("%s", strings.TrimPrefix(err.Error(), "user: "))
	}
	return u, nil
}

// parseID reads a decimal uid or gid; isNum is false for anything that is
// not all digits (a name). 4294967295 is -1 to the kernel ("no change").
func parseID(s string) (id uint32, isNum bool, err error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 1<<32-1 {
		return 0, true, errors.New("out of range (0..4294967294)")
	}
	return uint32(v), true, nil
}

// userMountOptions makes a functionfs mount a worker running as u can
// serve: ep0 and the endpoint files owned by u where the file left uid or
// gid 0, read-write for their owner only (fmode 0600) and the directory
// searchable by its owner only (rmode 0500) where the file gave no mode. A
// worker must open files in the directory, so wherever the directory mode
// lets a class read it, it lets it search it too. A mount u still could
// not use is an error naming why.
func userMountOptions(o configfs.MountOptions, u User) (configfs.MountOptions, error) {
	if o.UID == 0 {
		o.UID = u.UID
	}
	if o.GID == 0 {
		o.GID = u.GID
	}
	if o.RMode == 0 {
		o.RMode = o.Mode
	}
	if o.FMode == 0 {
		o.FMode = o.Mode
	}
	if o.RMode == 0 {
		o.RMode = 0o500
	}
	if o.FMode == 0 {
		o.FMode = 0o600
	}
	o.Mode = 0
	// functionfs keeps only these bits (f_fs.c, ffs_fs_parse_param).
	o.RMode &= 0o555
	o.FMode &= 0o666
	o.RMode |= o.RMode & 0o444 >> 2
	// The worker has no supplementary groups: one class of bits applies.
	shift, class := 0, "others"
	switch {
	case o.UID == u.UID:
		shift, class = 6, "owner"
	case o.GID == u.GID:
		shift, class = 3, "group"
	}
	if o.RMode>>shift&0o1 == 0 {
		return o, fmt.Errorf("rmode %#o with uid %d gid %d does not let user %s (as %s) into the directory", uint32(o.RMode), o.UID, o.GID, u, class)
	}
	if o.FMode>>shift&0o6 != 0o6 {
		return o, fmt.Errorf("fmode %#o with uid %d gid %d does not let user %s (as %s) read and write ep0", uint32(o.FMode), o.UID, o.GID, u, class)
	}
	return o, nil
}
