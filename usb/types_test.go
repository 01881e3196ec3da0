package usb

import "testing"

func TestStrings(t *testing.T) {
	tests := []struct {
		got  interface{ String() string }
		want string
	}{
		{Address(1, In), "ep1in"},
		{Address(15, Out), "ep15out"},
		{EndpointAddress(0x00), "ep0out"},
		{EndpointAddress(0x91), "ep1in(0x91)"},
		{Direction(0x40), "direction(0x40)"},
		{Bulk, "bulk"},
		{Isochronous, "isochronous"},
		{TransferType(7), "transfer-type(7)"},
		{SpeedHigh, "high-speed"},
		{SpeedSuperPlus, "super-speed-plus"},
		{Speed(9), "speed(9)"},
		{ClassVendorSpecific, "vendor-specific"},
		{Class(0x42), "class(0x42)"},
		{BCD(0x0210), "2.10"},
		{Version(3, 20), "3.20"},
		{TypeSSEndpointCompanion, "ss-endpoint-companion"},
		{DescriptorType(0x99), "descriptor-type(0x99)"},
		{LangEnglishUS, "0x0409"},
	}
	for _, tt := range tests {
		if s := tt.got.String(); s != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.got, s, tt.want)
		}
	}
}

func TestEndpointAddress(t *testing.T) {
	a := Address(2, In)
	if a != 0x82 || a.Number() != 2 || a.Direction() != In || !a.IsIn() {
		t.Fatalf("Address(2, In) = %#x: number %d direction %s in %v", uint8(a), a.Number(), a.Direction(), a.IsIn())
	}
	if b := Address(3, Out); b != 0x03 || b.IsIn() {
		t.Fatalf("Address(3, Out) = %#x", uint8(b))
	}
}

func TestParseSpeed(t *testing.T) {
	for s := SpeedUnknown; s <= SpeedSuperPlus; s++ {
		got, err := ParseSpeed(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSpeed(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseSpeed("warp"); err == nil || err.Error() != `usb: unknown speed "warp"` {
		t.Errorf("ParseSpeed(warp) error = %v", err)
	}
}
