package ffs

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// TestControlAnswerRetriesEAGAIN answers a control request while ep0 says
// EAGAIN, as f_fs does when another thread holds its mutex: the answer is
// made once ep0 takes it, instead of failing and leaving the request
// pending for Run's next read of ep0. Room is made when the first try has
// met EAGAIN, not after a time, so the order is fixed on any machine.
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
	// ep0 gets room only once the answer has met EAGAIN, so the answer
	// can only land by being tried again.
	var busy []int
	testHookEP0Busy = func(try int) {
		if busy = append(busy, try); len(busy) == 1 {
			var b [1024]byte
			if _, err := unix.Read(peer, b[:]); err != nil {
				t.Errorf("making room on ep0: %v", err)
			}
		}
	}
	t.Cleanup(func() { testHookEP0Busy = nil })
	reply := []byte("retried")
	fn.cfg.OnControl = func(c *Control) error { return c.Write(reply) }
	var reported []error
	fn.cfg.OnError = func(err error) { reported = append(reported, err) }
	fn.serveControl(Setup{RequestType: 0xc1, Request: 1, Length: 64})
	if len(reported) != 0 {
		t.Fatalf("the answer failed: %v", reported)
	}
	if len(busy) == 0 {
		t.Fatal("the answer never met EAGAIN: the test filled ep0's socket for nothing")
	}
	if fn.busy {
		t.Error("Function.busy after an answer that was retried and taken: Run would think the request still pending")
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
