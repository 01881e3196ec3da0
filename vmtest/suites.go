package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// EnvKernel chooses the guest kernel: empty (or "default") for the kernel the
// machine's own apt sources resolve linux-image-amd64 to, one of Suites by
// name, or an exact version of a kernel package in those suites.
const EnvKernel = "GADGETKIT_VM_KERNEL"

// suites are the Debian suites whose stock kernels the guest boots, oldest
// first: the kernels gadget firmware ships on (5.10 and 6.1 BSPs, the 6.12
// LTS, and what new boards get).
var suites = []suite{
	{Name: "bullseye", Security: true, Kernel: "5.10"},
	{Name: "bookworm", Security: true, Kernel: "6.1"},
	{Name: "trixie", Security: true, Kernel: "6.12"},
	{Name: "sid", Kernel: "7.x"},
}

// suite is one Debian suite the harness reads through its own apt lists.
type suite struct {
	Name     string
	Security bool   // kernel updates come through NAME-security too
	Kernel   string // the upstream series it ships, for messages
}

// SuiteNames lists the suites for messages and flags.
func SuiteNames() []string {
	var names []string
	for _, s := range suites {
		names = append(names, s.Name)
	}
	return names
}

func suiteByName(name string) (suite, bool) {
	for _, s := range suites {
		if s.Name == name {
			return s, true
		}
	}
	return suite{}, false
}

// listsTTL is how long a suite's private package lists are trusted before
// the harness runs apt-get update for it again (kernels move with point
// releases and security updates, a few times a month).
const listsTTL = 24 * time.Hour

// mirror is where the machine's own apt sources fetch Debian from.
type mirror struct {
	Main, Security string // archive URIs; Security may be empty
	SignedBy       string // keyring file, or empty for apt's default trust
}

// debianCodenames are the suite names that identify a Debian archive entry
// in the machine's sources.
var debianCodenames = []string{"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
	"oldoldstable", "oldstable", "stable", "testing", "unstable"}

// findMirror reads the machine's apt sources (one-line .list and deb822
// .sources files) for its Debian archive, so that the private lists fetch
// from the same mirror or proxy the machine is set up for.
// GADGETKIT_VM_MIRROR overrides it (the archive's URI; NAME-security is then
// looked for at URI-security).
func findMirror() (mirror, error) {
	if u := os.Getenv("GADGETKIT_VM_MIRROR"); u != "" {
		return mirror{Main: u, Security: strings.TrimSuffix(u, "/") + "-security", SignedBy: defaultKeyring()}, nil
	}
	var files []string
	files = append(files, "/etc/apt/sources.list")
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append(files, more...)
	var m mirror
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var entries []sourceEntry
		switch {
		case strings.HasSuffix(f, ".sources"):
			entries = parseDeb822(data)
		case strings.HasSuffix(f, ".list"):
			entries = parseOneLine(data)
		}
		for _, e := range entries {
			m.merge(e)
		}
	}
	if m.Main == "" {
		return m, errors.New("no Debian archive in the machine's apt sources (/etc/apt/sources.list{,.d}); set GADGETKIT_VM_MIRROR to a Debian archive URI")
	}
	if m.SignedBy == "" {
		m.SignedBy = defaultKeyring()
	}
	return m, nil
}

func defaultKeyring() string {
	const k = "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(k); err == nil {
		return k
	}
	return ""
}

// sourceEntry is one apt source: a URI and its suites.
type sourceEntry struct {
	URI      string
	Suites   []string
	SignedBy string
}

func (m *mirror) merge(e sourceEntry) {
	for _, s := range e.Suites {
		base, suffix, _ := strings.Cut(s, "-")
		if !slices.Contains(debianCodenames, base) {
			continue
		}
		switch {
		case suffix == "security" && m.Security == "":
			m.Security = e.URI
		case suffix == "" && m.Main == "":
			m.Main = e.URI
			if m.SignedBy == "" {
				m.SignedBy = e.SignedBy
			}
		}
	}
}

// parseOneLine reads "deb [opts] URI SUITE COMPONENTS..." lines.
func parseOneLine(data []byte) []sourceEntry {
	var out []sourceEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		var e sourceEntry
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 {
				opt := strings.Trim(f[0], "[]")
				if k, v, ok := strings.Cut(opt, "="); ok && k == "signed-by" {
					e.SignedBy = v
				}
				done := strings.HasSuffix(f[0], "]")
				f = f[1:]
				if done {
					break
				}
			}
		}
		if len(f) < 2 {
			continue
		}
		e.URI, e.Suites = f[0], []string{f[1]}
		out = append(out, e)
	}
	return out
}

// parseDeb822 reads the stanzas of a .sources file.
func parseDeb822(data []byte) []sourceEntry {
	var out []sourceEntry
	for _, stanza := range strings.Split(strings.ReplaceAll(string(data), "\r", ""), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") || strings.HasPrefix(line, " ") {
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !slices.Contains(strings.Fields(fields["types"]), "deb") || fields["enabled"] == "no" {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			out = append(out, sourceEntry{URI: uri, Suites: strings.Fields(fields["suites"]), SignedBy: fields["signed-by"]})
		}
	}
	return out
}

// privateApt runs apt with its own sources, lists and cache under dir, so
// that choosing a guest kernel never touches the machine's apt setup.
type privateApt struct {
	suite suite
	dir   string
}

func newPrivateApt(cacheDir string, s suite) privateApt {
	return privateApt{suite: s, dir: filepath.Join(cacheDir, "apt", s.Name)}
}

func (a privateApt) opts() []string {
	return []string{
		"-o", "Dir::Etc::SourceList=" + filepath.Join(a.dir, "sources.list"),
		"-o", "Dir::Etc::SourceParts=/dev/null",
		"-o", "Dir::State::Lists=" + filepath.Join(a.dir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(a.dir, "cache"),
		"-o", "APT::Sandbox::User=root",
	}
}

func (a privateApt) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, append(a.opts(), args...)...)
}

// sourcesList is the one-line sources file for the suite on mirror m.
func (a privateApt) sourcesList(m mirror) string {
	opt := ""
	if m.SignedBy != "" {
		opt = "[signed-by=" + m.SignedBy + "] "
	}
	var b strings.Builder
	fmt.Fprintf(&b, "deb %s%s %s main\n", opt, m.Main, a.suite.Name)
	if a.suite.Security && m.Security != "" {
		fmt.Fprintf(&b, "deb %s%s %s-security main\n", opt, m.Security, a.suite.Name)
	}
	return b.String()
}

// stamp changes whenever apt-get update rewrote this suite's lists.
func (a privateApt) stamp() string {
	fi, err := os.Stat(filepath.Join(a.dir, "updated"))
	if err != nil {
		return ""
	}
	return fi.ModTime().UTC().Format(time.RFC3339Nano)
}

func (a privateApt) fresh() bool {
	fi, err := os.Stat(filepath.Join(a.dir, "updated"))
	return err == nil && time.Since(fi.ModTime()) < listsTTL
}

// update (re)writes the sources file and fetches the suite's lists.
func (a privateApt) update(ctx context.Context) error {
	m, err := findMirror()
	if err != nil {
		return err
	}
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(a.dir, "sources.list"), []byte(a.sourcesList(m)), 0o644); err != nil {
		return err
	}
	// Only the package indices: no translations, contents or AppStream data.
	cmd := a.command(ctx, "apt-get", "-q",
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
		"-o", "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
		"update")
	out, err := cmd.CombinedOutput()
	if err == nil && bytes.Contains(out, []byte("Failed to fetch")) {
		err = errors.New("some indices failed to download")
	}
	if err != nil {
		return fmt.Errorf("apt-get update for %s: %v\n%s", a.suite.Name, err, lastLines(out, 8))
	}
	now := time.Now()
	f := filepath.Join(a.dir, "updated")
	if err := os.WriteFile(f, []byte(now.UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Chtimes(f, now, now)
}

// candidate is linux-image-amd64's dependency in this suite: the current
// kernel image package and its version.
func (a privateApt) candidate(ctx context.Context) (pkg, version string, err error) {
	out, err := a.command(ctx, "apt-cache", "depends", metaPackage).Output()
	if err != nil {
		return "", "", fmt.Errorf("apt-cache depends %s (%s): %w", metaPackage, a.suite.Name, err)
	}
	if pkg, err = parseDepends(out); err != nil {
		return "", "", fmt.Errorf("%s: %w", a.suite.Name, err)
	}
	version, err = a.version(ctx, pkg)
	return pkg, version, err
}

func (a privateApt) version(ctx context.Context, pkg string) (string, error) {
	out, err := a.command(ctx, "apt-cache", "show", "--no-all-versions", pkg).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache show %s (%s): %w", pkg, a.suite.Name, err)
	}
	return parseVersion(out)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
