package abortlog

import (
	"bytes"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sample() []Record {
	sub := time.Date(2026, 11, 25, 14, 0, 0, 123456789, time.UTC)
	can := sub.Add(5 * time.Millisecond)
	host, zero := int64(4096), int64(0)
	return []Record{
		{Seq: 0, Endpoint: "ep1", Address: "ep1in", Dir: "in", Size: 65536, QueuePos: 3, Policy: "host",
			Submitted: sub, Cancelled: &can, IOCancel: "EINPROGRESS", Completed: can.Add(300 * time.Microsecond),
			Res: -104, Res2: &zero, Meaning: "ECONNRESET", LatencyNS: 300000, HostBytes: &host},
		{Seq: 1, Endpoint: "ep2", Address: "ep2out", Dir: "out", Size: 512, Submitted: sub,
			Completed: sub.Add(time.Second), Res: -108, Meaning: "ESHUTDOWN"},
	}
}

// The documented line format, field by field (docs/abort.md).
const golden = `{"seq":0,"ep":"ep1","address":"ep1in","dir":"in","size":65536,"queue_pos":3,"policy":"host",` +
	`"submitted":"2026-11-25T14:00:00.123456789Z","cancelled":"2026-11-25T14:00:00.128456789Z","io_cancel":"EINPROGRESS",` +
	`"completed":"2026-11-25T14:00:00.128756789Z","res":-104,"res2":0,"meaning":"ECONNRESET","cancel_latency_ns":300000,"host_bytes":4096}
{"seq":1,"ep":"ep2","address":"ep2out","dir":"out","size":512,"queue_pos":0,"submitted":"2026-11-25T14:00:00.123456789Z",` +
	`"completed":"2026-11-25T14:00:01.123456789Z","res":-108,"meaning":"ESHUTDOWN"}
`

func TestEncodeGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Encode(&b, sample()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(golden, b.String()); diff != "" {
		t.Errorf("encoding (-want +got):\n%s", diff)
	}
}

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	want := sample()
	if err := Encode(&b, want); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(strings.NewReader("\n" + b.String() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	line := strings.Split(golden, "\n")[0]
	for _, tc := range []struct{ in, want string }{
		{line + "\n{\"seq\":1", "line 2: unexpected EOF"},
		{line + "\n\n{\"seq\":2,\"ep\":\"ep1\",\"dir\":\"in\",\"color\":1}", `line 3: json: unknown field "color"`},
		{`{"seq":0,"ep":"ep1","dir":"sideways"}`, `line 1: not a record (ep "ep1", dir "sideways")`},
		{`{"seq":0,"dir":"in"}`, `line 1: not a record (ep "", dir "in")`},
	} {
		_, err := Decode(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%.40q...) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(golden)
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := Decode(strings.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Encode(&b, recs); err != nil {
			t.Fatal(err)
		}
		again, err := Decode(&b)
		if err != nil {
			t.Fatalf("re-decoding what decoded: %v", err)
		}
		if diff := cmp.Diff(recs, again); diff != "" {
			t.Errorf("second round trip (-first +second):\n%s", diff)
		}
	})
}

func TestMeaningAndCancelAnswer(t *testing.T) {
	for res, want := range map[int64]string{0: "bytes", 4096: "bytes", -104: "ECONNRESET", -108: "ESHUTDOWN", -4: "EINTR", -11: "EAGAIN", -9999: "errno 9999"} {
		if got := Meaning(res); got != want {
			t.Errorf("Meaning(%d) = %q, want %q", res, got, want)
		}
	}
	for _, tc := range []struct {
		errno syscall.Errno
		res   int64
		want  string
	}{
		{syscall.EINPROGRESS, -104, "EINPROGRESS"},
		{syscall.EINVAL, 512, "EINVAL"},
		{0, -4, "0"},     // the reverted stable patch
		{0, 512, "none"}, // reaped before io_cancel was issued
		{0, -108, "none"},
	} {
		if got := CancelAnswer(tc.errno, tc.res); got != tc.want {
			t.Errorf("CancelAnswer(%v, %d) = %q, want %q", tc.errno, tc.res, got, tc.want)
		}
	}
}

func TestLogForgetsOldestAndResolves(t *testing.T) {
	l := NewLog(3)
	for i := range 5 {
		l.Add(Record{Endpoint: "ep1", Dir: "in", Size: i})
	}
	got := l.Since(0)
	if len(got) != 3 || got[0].Seq != 2 || got[2].Seq != 4 || got[0].Size != 2 {
		t.Fatalf("kept %+v, want seq 2..4", got)
	}
	if n := l.Next(); n != 5 {
		t.Errorf("Next = %d", n)
	}
	for low, want := range map[uint16]uint64{2: 2, 4: 4, 5: 5} {
		if got := l.Resolve(low); got != want {
			t.Errorf("Resolve(%d) = %d, want %d", low, got, want)
		}
	}
	// Past 16 bits: the window 70000..70003 is named by its low bits.
	big := NewLog(3)
	big.next = 70000
	for range 3 {
		big.Add(Record{Endpoint: "ep1", Dir: "in"})
	}
	if got := big.Resolve(uint16(70001 % 65536)); got != 70001 {
		t.Errorf("Resolve past 16 bits = %d, want 70001", got)
	}
	if got := big.Resolve(uint16(70003 % 65536)); got != 70003 {
		t.Errorf("Resolve of the next record = %d, want 70003", got)
	}
}

func TestPage(t *testing.T) {
	l := NewLog(100)
	for range 10 {
		l.Add(sample()[1])
	}
	lineLen := len(strings.Split(golden, "\n")[1]) + 1
	var all []Record
	for seq := uint64(0); ; {
		page, next, err := l.Page(seq, 3*lineLen+10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			if next != seq {
				t.Errorf("empty page moved the cursor %d -> %d", seq, next)
			}
			break
		}
		if len(page) > 3*lineLen+10 {
			t.Fatalf("page of %d bytes exceeds the limit", len(page))
		}
		recs, err := Decode(bytes.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 && next != 10 {
			t.Errorf("page from %d has %d records, want 3", seq, len(recs))
		}
		all = append(all, recs...)
		seq = next
	}
	if len(all) != 10 || all[9].Seq != 9 {
		t.Errorf("paged %d records, want 10 in order", len(all))
	}
	if _, _, err := l.Page(0, 20); !errors.Is(err, ErrTooLong) {
		t.Errorf("page smaller than a record: %v, want ErrTooLong", err)
	}
}
