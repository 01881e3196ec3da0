package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/gadgetkit/internal/aio"
	"github.com/gadgetkit/gadgetkit/internal/vmtest/guest"
)

func TestEcho(t *testing.T) {
	guest.Require(t)
	g := guest.NewGadget(t, guest.GadgetSpec{Functions: []string{"ffs.echo"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, g.FFS("echo")) }()
	defer func() { cancel(); <-done }()
	var err error
	for range 100 { // run writes the descriptors; binding before that fails
		if err = g.Bind(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	dev, err := guest.WaitHostDevice(g.Serial, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	read := func(a string) string { b, _ := os.ReadFile(filepath.Join(dev, a)); return strings.TrimSpace(string(b)) }
	fd, err := unix.Open(fmt.Sprintf("/dev/bus/usb/%03s/%03s", read("busnum"), read("devnum")), unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	v := make([]byte, 2)
	if n, err := aio.USBControl(fd, 0xc1, 1, 0, 0, v, 2000); err != nil || n != 2 || v[0] != 1 {
		t.Fatalf("version request: %v %v", v[:n], err)
	}
	if _, err := aio.USBControl(fd, 0xc1, 9, 0, 0, v, 2000); err == nil {
		t.Fatal("unknown request was not stalled")
	}
	// dummy_hcd gives the OUT endpoint 0x02 and the IN one 0x81.
	eps, _ := filepath.Glob(filepath.Join(dev, filepath.Base(dev)+":1.0", "ep_*"))
	var out, in uint8
	for _, ep := range eps {
		var a uint8
		fmt.Sscanf(filepath.Base(ep), "ep_%x", &a)
		if a&0x80 != 0 {
			in = a
		} else {
			out = a
		}
	}
	msg := []byte("hello, echo")
	if _, err := aio.USBBulk(fd, out, msg, 2000); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, 512)
	n, err := aio.USBBulk(fd, in, back, 2000)
	if err != nil || string(back[:n]) != string(msg) {
		t.Fatalf("echo: %q, %v", back[:n], err)
	}
}
