package gadget

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"
)

// listenStatus listens on the unix socket path, replacing a socket file
// nobody listens on any more (left by a killed run).
func listenStatus(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("status socket %s: another daemon is listening", path)
		}
		os.Remove(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	return ln, nil
}

// serveStatus answers every connection with the status as one JSON
// document, until ln is closed.
func serveStatus(ln net.Listener, status func() Status) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		json.NewEncoder(c).Encode(status())
		c.Close()
	}
}

// QueryStatus asks the daemon listening on the unix socket path for its
// status.
func QueryStatus(ctx context.Context, path string) (*Status, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("status: %w (is gadgetd running with status_socket %s?)", err, path)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var st Status
	if err := json.NewDecoder(c).Decode(&st); err != nil {
		return nil, fmt.Errorf("status: reading %s: %w", path, err)
	}
	return &st, nil
}
