package bench

import "testing"

func TestUsbtestTransfers(t *testing.T) {
	for _, c := range []struct {
		bytes, size, inFlight, depth, want int
	}{
		{8 << 20, 64 << 10, 8, 16, 128},   // 8 MiB is 8 queues of 16 x 64K already
		{8 << 20, 1 << 20, 1, 16, 128},    // 8 MiB would be half of one queue: 8 queues instead
		{8 << 20, 4 << 10, 32, 16, 1024},  // 2048 transfers capped
		{8 << 20, 1 << 20, 1, 256, 1024},  // 8 queues of 256 capped
		{1 << 20, 1 << 20, 2000, 1, 2000}, // never fewer than one of each in flight
		{64 << 20, 1 << 20, 8, 2, 64},     // more bytes than queues: the bytes
	} {
		if got := usbtestTransfers(c.bytes, c.size, c.inFlight, c.depth); got != c.want {
			t.Errorf("usbtestTransfers(%d, %d, %d, %d) = %d, want %d", c.bytes, c.size, c.inFlight, c.depth, got, c.want)
		}
	}
}
