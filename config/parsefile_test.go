package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ParseFile of a missing file: %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("gadget: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":1: ") {
		t.Fatalf("ParseFile of a bad file: %v, want an error starting %q", err, path+":1: ")
	}
	c, err := ParseFile(filepath.Join("..", "configs", "loopback.yaml"))
	if err != nil || c.Gadget.Name == "" {
		t.Fatalf("ParseFile(configs/loopback.yaml) = %+v, %v", c, err)
	}
}
