package ffs

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// ep0Op is one transfer a Function made on ep0.
type ep0Op struct {
	read bool
	n    int    // bytes written; for a read, the buffer size is not visible
	data []byte // what was written
}

func (o ep0Op) String() string {
	if o.read {
		return "read"
	}
	return fmt.Sprintf("write %d", o.n)
}

// fakeEP0 gives f an ep0 that is one end of a SOCK_SEQPACKET pair, so every
// transfer shows: a write is one record at the peer, a read takes the one
// record the peer queued (except a zero-length read, which a socket answers
// without taking anything). f_fs's answers (EL2HLT for a stall) cannot be
// imitated, so Stall reports "not taken by the kernel" here.
func fakeEP0(t *testing.T, f *Function) (peer int, ops func() []ep0Op, queued []byte) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.ep0 = os.NewFile(uintptr(fds[0]), "fake-ep0")
	if f.ep0raw, err = f.ep0.SyscallConn(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.ep0.Close(); unix.Close(fds[1]) })
	queued = make([]byte, 1<<16)
	for i := range queued {
		queued[i] = byte(i*7 + 3)
	}
	if _, err := unix.Write(fds[1], queued); err != nil {
		t.Fatal(err)
	}
	ops = func() []ep0Op {
		var got []ep0Op
		var peek [1]byte
		if _, _, err := unix.Recvfrom(fds[0], peek[:], unix.MSG_PEEK|unix.MSG_DONTWAIT); err == unix.EAGAIN {
			got = append(got, ep0Op{read: true})
		}
		buf := make([]byte, 1<<16+1)
		for {
			n, err := unix.Read(fds[1], buf)
			if err == unix.EAGAIN {
				return got
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ep0Op{n: n, data: append([]byte(nil), buf[:n]...)})
		}
	}
	return fds[1], ops, queued
}

// Handler actions FuzzControl drives serveControl with.
const (
	actNothing  = iota // return nil without answering
	actError           // return an error without answering
	actPanic           // panic
	actWrite           // Write(n bytes)
	actRead            // Read(n bytes)
	actAck             // Ack
	actStall           // Stall
	actWriteAck        // Write(n bytes), then Ack
	actAckError        // Ack, then return an error anyway
	actCount
)

// FuzzControl drives the control request path with any SETUP and any
// handler behaviour, and checks the contract documented on Control against
// what reaches ep0: the first answer that fits the request (direction,
// exact wLength) makes exactly one transfer of the right direction and
// size, an answer that does not fit makes none and returns a ControlError
// naming the request, a second answer makes none, and a request left
// unanswered (nil, error, panic, only misfits) is stalled with exactly one
// transfer in the wrong direction; OnError hears of every stall and every
// error the handler returns. Seeds are in testdata/fuzz/FuzzControl.
func FuzzControl(f *testing.F) {
	f.Fuzz(func(t *testing.T, rt, req uint8, value, index, length uint16, action uint8, n uint16) {
		s := Setup{RequestType: rt, Request: req, Value: value, Index: index, Length: length}
		fn := &Function{}
		_, ops, queued := fakeEP0(t, fn)
		act := action % actCount
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*5 + 1)
		}

		// The model: which answers fit s, from Control's documentation.
		type call struct {
			name string
			fits bool
			op   ep0Op
		}
		write := call{"Write", s.IsIn() && int(n) <= int(length), ep0Op{n: int(n)}}
		read := call{"Read", !s.IsIn() && length > 0 && n == length, ep0Op{read: true}}
		ack := call{"Ack", length == 0, ep0Op{read: !s.IsIn()}}
		stall := call{"Stall", true, ep0Op{read: s.IsIn(), n: 1}}
		if stall.op.read {
			stall.op.n = 0
		}
		var calls []call
		switch act {
		case actWrite:
			calls = []call{write}
		case actRead:
			calls = []call{read}
		case actAck, actAckError:
			calls = []call{ack}
		case actStall:
			calls = []call{stall}
		case actWriteAck:
			calls = []call{write, ack}
		}

		var returned error
		var reported []error
		var readN int
		var readBuf []byte
		fn.cfg.OnError = func(err error) { reported = append(reported, err) }
		fn.cfg.OnControl = func(c *Control) error {
			if c.Setup != s {
				t.Fatalf("handler got %v, want %v", c.Setup, s)
			}
			var errs []error
			answered := false
			for _, cl := range calls {
				var err error
				switch cl.name {
				case "Write":
					err = c.Write(data)
				case "Read":
					readBuf = data
					readN, err = c.Read(data)
				case "Ack":
					err = c.Ack()
				case "Stall":
					err = c.Stall()
				}
				switch {
				case cl.name == "Stall":
					// Stall always answers; against the fake it reports that
					// the kernel did not take the stall.
				case answered || !cl.fits:
					var ce *ControlError
					if !errors.As(err, &ce) || ce.Setup != s || ce.Err != nil {
						t.Fatalf("%s that does not fit %v (answered %v): err %v, want a ControlError naming the request", cl.name, s, answered, err)
					}
				case err != nil:
					t.Fatalf("%s that fits %v: %v", cl.name, s, err)
				}
				answered = answered || cl.fits
				errs = append(errs, err)
			}
			switch act {
			case actError, actAckError:
				errs = append(errs, errors.New("handler error"))
			case actPanic:
				panic("handler panic")
			}
			returned = errors.Join(errs...)
			return returned
		}
		fn.serveControl(s)

		first := call{name: "stall by serveControl", op: stall.op}
		for _, cl := range calls {
			if cl.fits {
				first = cl
				break
			}
		}
		stalled := !first.fits
		want := []ep0Op{first.op}
		if first.name == "Ack" && first.op.read {
			want = nil // a zero-length read of a socket returns at once: invisible here
		}
		got := ops()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%v with action %d (n %d): ep0 saw %v, want %v", s, act, n, got, want)
		}
		if first.name == "Read" {
			if readN != int(length) || string(readBuf[:readN]) != string(queued[:readN]) {
				t.Fatalf("Read returned %d bytes, want the host's %d", readN, length)
			}
		}
		if first.name == "Write" && string(got[0].data) != string(data) {
			t.Fatalf("Write sent % x, want the handler's reply % x", got[0].data, data)
		}
		wantReport := stalled || returned != nil || act == actPanic
		if (len(reported) > 0) != wantReport || len(reported) > 1 {
			t.Fatalf("%v with action %d: OnError got %v, want one report: %v", s, act, reported, wantReport)
		}
		if len(reported) == 1 {
			var ce *ControlError
			if !errors.As(reported[0], &ce) || ce.Setup != s {
				t.Fatalf("OnError got %v, want a ControlError for %v", reported[0], s)
			}
		}
	})
}
