package ffs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeEvents(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want []Event
		err  string
	}{{
		name: "bind",
		raw:  []byte{0, 0, 0, 0, 0, 0, 0, 0 /* type */, 0 /* pad */, 0, 0, 0},
		want: []Event{{Type: EventBind}},
	}, {
		name: "setup vendor IN",
		raw: []byte{
			0xc1,       // bmRequestType: IN, vendor, interface
			0x42,       // bRequest
			0x34, 0x12, // wValue 0x1234
			0x01, 0x00, // wIndex 1
			0x40, 0x00, // wLength 64
			4,       // type SETUP
			0, 0, 0, // pad
		},
		want: []Event{{Type: EventSetup, Setup: Setup{RequestType: 0xc1, Request: 0x42, Value: 0x1234, Index: 1, Length: 64}}},
	}, {
		name: "setup fields ignored for non-SETUP events",
		raw:  []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0},
		want: []Event{{Type: EventEnable}},
	}, {
		name: "several in one read",
		raw: []byte{
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // BIND
			0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, // ENABLE
			0x41, 0x01, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, // SETUP OUT vendor, wLength 0
			0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, // DISABLE
		},
		want: []Event{{Type: EventBind}, {Type: EventEnable}, {Type: EventSetup, Setup: Setup{RequestType: 0x41, Request: 1}}, {Type: EventDisable}},
	}, {
		name: "short read",
		raw:  make([]byte, 13),
		err:  "13 bytes is not a whole number",
	}, {
		name: "unknown type",
		raw:  []byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0},
		err:  "event 1 has unknown type 7",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEvents(nil, tt.raw)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetupIsIn(t *testing.T) {
	if !(Setup{RequestType: 0x80}).IsIn() || (Setup{RequestType: 0x7f}).IsIn() {
		t.Fatal("IsIn must follow bit 7 of bmRequestType")
	}
}

func TestStateMachine(t *testing.T) {
	tests := []struct {
		name   string
		events []EventType
		want   State
	}{
		{"bind", []EventType{EventBind}, StateBound},
		{"enable", []EventType{EventBind, EventEnable}, StateEnabled},
		{"enable twice", []EventType{EventBind, EventEnable, EventEnable}, StateEnabled},
		{"disable without enable", []EventType{EventBind, EventDisable}, StateBound},
		{"disable before bind", []EventType{EventDisable}, StateUnbound},
		{"disable after enable", []EventType{EventBind, EventEnable, EventDisable}, StateBound},
		{"re-enable after disconnect", []EventType{EventBind, EventEnable, EventDisable, EventEnable}, StateEnabled},
		{"unbind while enabled", []EventType{EventBind, EventEnable, EventUnbind}, StateUnbound},
		{"suspend", []EventType{EventBind, EventEnable, EventSuspend}, StateSuspended},
		{"resume", []EventType{EventBind, EventEnable, EventSuspend, EventResume}, StateEnabled},
		{"suspend while only bound", []EventType{EventBind, EventSuspend, EventResume}, StateBound},
		{"disable while suspended", []EventType{EventBind, EventEnable, EventSuspend, EventDisable}, StateBound},
		{"setup changes nothing", []EventType{EventBind, EventEnable, EventSetup}, StateEnabled},
		{"rebind", []EventType{EventBind, EventEnable, EventUnbind, EventBind, EventEnable}, StateEnabled},
	}
	for _, tt := range tests {
		s := StateUnbound
		for _, e := range tt.events {
			s = s.next(e)
		}
		if s != tt.want {
			t.Errorf("%s: %v after %v, want %v", tt.name, s, tt.events, tt.want)
		}
	}
	for e := EventBind; e <= EventResume; e++ {
		if got := StateClosed.next(e); got != StateClosed {
			t.Errorf("closed + %v = %v, want closed", e, got)
		}
	}
}
