package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUser: user takes names and numbers as written; gadgetd resolves
// them when it starts.
func TestUser(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(examplesDir, "loopback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c := parseFile(t, filepath.Join(examplesDir, "loopback.yaml")); c.User != "" {
		t.Errorf("no user key: User %q, want \"\"", c.User)
	}
	for _, tc := range []struct{ yaml, want string }{
		{`"65534:65534"`, "65534:65534"},
		{"65534", "65534"},
		{"nobody", "nobody"},
		{"gadget:plugdev", "gadget:plugdev"},
		{`"_gadgetd$:1000"`, "_gadgetd$:1000"},
	} {
		c, err := Parse("user.yaml", strings.NewReader(string(src)+"user: "+tc.yaml+"\n"))
		if err != nil {
			t.Errorf("user: %s: %v", tc.yaml, err)
			continue
		}
		if c.User != tc.want {
			t.Errorf("user: %s: User %q, want %q", tc.yaml, c.User, tc.want)
		}
	}
}
