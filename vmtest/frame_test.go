package vmtest

import (
	"bytes"
	"math/rand"
	"reflect"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var wire bytes.Buffer
	fw := &frameWriter{w: &wire}
	payload := []byte("hello \x10 world\x10\x10C not a control\n")
	fw.Write(payload[:9])
	fw.Control("status booted")
	fw.Write(payload[9:])
	fw.Control("exit 3")

	var out bytes.Buffer
	var ctrl []string
	if err := demux(&wire, &out, func(l string) { ctrl = append(ctrl, l) }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), payload) {
		t.Fatalf("payload = %q, want %q", out.Bytes(), payload)
	}
	if want := []string{"status booted", "exit 3"}; !reflect.DeepEqual(ctrl, want) {
		t.Fatalf("control = %q, want %q", ctrl, want)
	}
}

func FuzzFrameRoundTrip(f *testing.F) {
	f.Add([]byte("a\x10b"), "exit 0")
	f.Add([]byte{0x10, 'C'}, "x")
	f.Fuzz(func(t *testing.T, data []byte, line string) {
		if bytes.ContainsRune([]byte(line), '\n') {
			return
		}
		var wire bytes.Buffer
		fw := &frameWriter{w: &wire}
		cut := 0
		if len(data) > 0 {
			cut = rand.New(rand.NewSource(int64(len(data)))).Intn(len(data))
		}
		fw.Write(data[:cut])
		fw.Control(line)
		fw.Write(data[cut:])
		var out bytes.Buffer
		var ctrl []string
		demux(&wire, &out, func(l string) { ctrl = append(ctrl, l) })
		if !bytes.Equal(out.Bytes(), data) || len(ctrl) != 1 || ctrl[0] != line {
			t.Fatalf("data %q line %q -> out %q ctrl %q", data, line, out.Bytes(), ctrl)
		}
	})
}

func TestFormatKmsg(t *testing.T) {
	got := formatKmsg("6,339,5140900,-;usb 1-1: new high-speed USB device\n SUBSYSTEM=usb\n")
	if want := "[    5.140900] usb 1-1: new high-speed USB device\n"; got != want {
		t.Fatalf("formatKmsg = %q, want %q", got, want)
	}
	if got := formatKmsg("no header"); got != "no header" {
		t.Fatalf("formatKmsg(no header) = %q", got)
	}
}
