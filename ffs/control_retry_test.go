package ffs

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestControlAnswerRetriesEAGAIN answers a control request while ep0 says
// EAGAIN, as f_fs does when another thread holds its mutex: the answer is
// made once ep0 takes it, instead of failing and leaving the request
// pending for Run's next read of ep0.
func TestControlAnswerRetriesEAGAIN(t *testing.T) {
	fn := &Function{}
	peer, _, _ := fakeEP0(t, fn)
	// Fill the socket so that ep0's writes say EAGAIN.
	filler := make([]byte, 1024)
	queued := 0
	for {
		var err error
		fn.ep0raw.Control(func(fd uintptr) { _, err = unix.Write(int(fd), filler) })
		if err == unix.EAGAIN {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		queued++
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		var b [1024]byte
		unix.Read(peer, b[:]) // room for the answer
	}()
	reply := []byte("retried")
	fn.cfg.OnControl = func(c *Control) error { return c.Write(reply) }
	var reported []error
	fn.cfg.OnError = func(err error) { reported = append(reported, err) }
	start := time.Now()
	fn.serveControl(Setup{RequestType: 0xc1, Request: 1, Length: 64})
	if len(reported) != 0 {
		t.Fatalf("the answer failed: %v", reported)
	}
	if took := time.Since(start); took < 20*time.Millisecond || took > ep0Retry {
		t.Fatalf("the answer took %v; want it after the 20 ms ep0 was busy, well within %v", took, ep0Retry)
	}
	var got []byte
	b := make([]byte, 2048)
	for range queued {
		n, err := unix.Read(peer, b)
		if err != nil {
			t.Fatalf("reading what ep0 wrote: %v", err)
		}
		got = b[:n]
	}
	if !bytes.Equal(got, reply) {
		t.Fatalf("the last record on ep0 is %q, want the answer %q", got, reply)
	}
}
