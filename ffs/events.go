package ffs

import (
	"encoding/binary"
	"fmt"
)

// EventType is the type of an ep0 event (enum usb_functionfs_event_type).
type EventType uint8

// Event types, in kernel order.
const (
	EventBind EventType = iota
	EventUnbind
	EventEnable
	EventDisable
	EventSetup
	EventSuspend
	EventResume
)

var eventNames = [...]string{"BIND", "UNBIND", "ENABLE", "DISABLE", "SETUP", "SUSPEND", "RESUME"}

func (t EventType) String() string {
	if int(t) < len(eventNames) {
		return eventNames[t]
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Setup is a control request's SETUP packet (struct usb_ctrlrequest).
type Setup struct {
	RequestType uint8 // bmRequestType: bit 7 direction, bits 5-6 type, bits 0-4 recipient
	Request     uint8
	Value       uint16
	Index       uint16
	Length      uint16 // wLength: the exact size of the data stage
}

// IsIn reports whether the data stage (if any) goes to the host.
func (s Setup) IsIn() bool { return s.RequestType&0x80 != 0 }

func (s Setup) String() string {
	return fmt.Sprintf("{bmRequestType %#02x bRequest %#02x wValue %#04x wIndex %#04x wLength %d}",
		s.RequestType, s.Request, s.Value, s.Index, s.Length)
}

// Event is one ep0 event. Setup is meaningful for EventSetup only.
type Event struct {
	Type  EventType
	Setup Setup
}

// eventSize is sizeof(struct usb_functionfs_event): the 8-byte SETUP, the
// type byte and 3 bytes of padding.
const eventSize = 12

// DecodeEvents appends to dst the events in b, one read of ep0, which may
// hold several. It rejects a length that is not a whole number of events and
// an unknown type.
func DecodeEvents(dst []Event, b []byte) ([]Event, error) {
	if len(b)%eventSize != 0 {
		return dst, fmt.Errorf("ffs: ep0 read of %d bytes is not a whole number of %d-byte events", len(b), eventSize)
	}
	for i := 0; i < len(b); i += eventSize {
		e := b[i : i+eventSize]
		t := EventType(e[8])
		if int(t) >= len(eventNames) {
			return dst, fmt.Errorf("ffs: ep0 event %d has unknown type %d", i/eventSize, e[8])
		}
		ev := Event{Type: t}
		if t == EventSetup {
			ev.Setup = Setup{
				RequestType: e[0],
				Request:     e[1],
				Value:       binary.LittleEndian.Uint16(e[2:]),
				Index:       binary.LittleEndian.Uint16(e[4:]),
				Length:      binary.LittleEndian.Uint16(e[6:]),
			}
		}
		dst = append(dst, ev)
	}
	return dst, nil
}

// State is where a Function is in its life with the host.
type State int

// States. A Function starts Unbound once its descriptors are written.
const (
	StateUnbound   State = iota // descriptors written, gadget not bound to a UDC
	StateBound                  // bound; not configured by the host (or disabled again)
	StateEnabled                // configured: endpoints carry data
	StateSuspended              // enabled, bus suspended
	StateClosed
)

var stateNames = [...]string{"unbound", "bound", "enabled", "suspended", "closed"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// next is the state after event t. It never fails: the kernel's event
// order is not guaranteed (ENABLE may come twice, DISABLE without ENABLE,
// UNBIND with transfers in flight), and each event says what is true now.
func (s State) next(t EventType) State {
	if s == StateClosed {
		return s
	}
	switch t {
	case EventBind:
		return StateBound
	case EventUnbind:
		return StateUnbound
	case EventEnable:
		return StateEnabled
	case EventDisable:
		if s == StateUnbound {
			return s
		}
		return StateBound
	case EventSuspend:
		if s == StateEnabled {
			return StateSuspended
		}
	case EventResume:
		if s == StateSuspended {
			return StateEnabled
		}
	}
	return s
}
