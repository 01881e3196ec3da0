package ffs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// An OUT request whose data stage could not be read (ep0 busy past
// ep0Retry) is still pending in f_fs, and the next read of ep0 returns its
// data. Run drops it instead of decoding the host's bytes as events: here
// they spell an ENABLE, which must not reach OnEvent.
func TestRunDropsTheDataStageOfAnUnansweredRequest(t *testing.T) {
	fn, peer := runnable(t)
	event := func(setup [8]byte, typ EventType) []byte {
		return append(setup[:], byte(typ), 0, 0, 0)
	}
	fakeEnable := event([8]byte{}, EventEnable)
	marker := event([8]byte{0xc0, 0xee}, EventSetup)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var events []EventType
	var reported []string
	fn.cfg.OnEvent = func(ev Event) { events = append(events, ev.Type) }
	fn.cfg.OnControl = func(c *Control) error {
		if c.Request == 0xee {
			cancel()
			return c.Write(nil)
		}
		_, err := c.Read(make([]byte, c.Length)) // nothing queued: EAGAIN until ep0Retry
		return err
	}
	fn.cfg.OnError = func(err error) {
		reported = append(reported, err.Error())
		if len(reported) == 1 { // the failed answer: the host's data stage comes next
			for _, rec := range [][]byte{fakeEnable, marker} {
				if _, err := unix.Write(peer, rec); err != nil {
					t.Error(err)
				}
			}
		}
	}
	if _, err := unix.Write(peer, event([8]byte{0x41, 0x01, 0, 0, 0, 0, byte(len(fakeEnable)), 0}, EventSetup)); err != nil {
		t.Fatal(err)
	}
	if err := fn.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled after the marker", err)
	}
	if len(events) != 0 {
		t.Fatalf("OnEvent got %v: the data stage was decoded as events", events)
	}
	if len(reported) != 2 || !strings.Contains(reported[0], "EAGAIN") && !strings.Contains(reported[0], "resource temporarily unavailable") ||
		!strings.Contains(reported[1], "dropped the data stage") {
		t.Fatalf("OnError got %q, want the failed answer, then the dropped data stage", reported)
	}
}
