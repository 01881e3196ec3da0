//go:build cgo

package host

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// LoopbackOptions configures Loopback.
type LoopbackOptions struct {
	Sizes     []int   // bytes per round trip, in order; 0 is a lone ZLP
	MaxPacket int     // wMaxPacketSize of the OUT and IN endpoints
	Chunk     int     // largest single transfer, rounded down to a MaxPacket multiple (0: 64 KiB)
	Pattern   Pattern // data written; checked on the way back
}

// LoopbackRound is the result of one size.
type LoopbackRound struct {
	Size     int
	Duration time.Duration
	ZLP      bool // the write ended with a zero-length packet
}

// DefaultLoopbackSizes covers the boundaries that matter for a gadget that
// buffers bufLen bytes per request: nothing, one byte, around one packet,
// around one request, and bulk transfers up to 4 MiB.
func DefaultLoopbackSizes(maxPacket, bufLen int) []int {
	mp, bl := maxPacket, bufLen
	return []int{0, 1, mp - 1, mp, mp + 1, 2 * mp, bl - 1, bl, bl + 1, 3*bl + mp, 64 << 10, 1 << 20, 4<<20 + 1}
}

// Loopback writes each size to w and reads it back from r, checking every
// byte against the pattern (one continuous stream across sizes, so a stale
// or lost packet shifts everything after it). Writes and reads run
// concurrently because a loopback gadget buffers only qlen*buflen bytes.
//
// A write whose length is a multiple of MaxPacket (including 0) ends with a
// ZLP: without it the gadget's larger OUT request keeps waiting for more.
// The last read of each size has room for one more packet, so the echoed
// short packet or ZLP ends it and is not left behind for the next size.
func Loopback(ctx context.Context, w Writer, r Reader, o LoopbackOptions) ([]LoopbackRound, error) {
	mp := o.MaxPacket
	if mp <= 0 {
		return nil, fmt.Errorf("loopback: max packet size %d: must be positive", mp)
	}
	chunk := o.Chunk
	if chunk == 0 {
		chunk = 64 << 10
	}
	chunk -= chunk % mp
	if chunk == 0 {
		return nil, fmt.Errorf("loopback: chunk %d is smaller than the max packet size %d", o.Chunk, mp)
	}
	var rounds []LoopbackRound
	var offset int64
	for _, size := range o.Sizes {
		if size < 0 {
			return rounds, fmt.Errorf("loopback: size %d: must not be negative", size)
		}
		start := time.Now()
		zlp, err := loopbackOne(ctx, w, r, size, mp, chunk, o.Pattern, offset)
		if err != nil {
			return rounds, fmt.Errorf("loopback of %d bytes: %w", size, err)
		}
		rounds = append(rounds, LoopbackRound{Size: size, Duration: time.Since(start), ZLP: zlp})
		offset += int64(size)
	}
	return rounds, nil
}

func loopbackOne(ctx context.Context, w Writer, r Reader, size, mp, chunk int, p Pattern, offset int64) (zlp bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	zlp = size%mp == 0
	werr := make(chan error, 1)
	go func() {
		werr <- writeAll(ctx, w, p, offset, size, chunk, zlp)
	}()
	rerr := readBack(ctx, r, size, mp, chunk, p, offset)
	if rerr != nil {
		cancel()
		<-werr
		return zlp, rerr
	}
	return zlp, <-werr
}

// writeAll writes size bytes of the pattern from offset, filling one chunk
// at a time: memory stays at one chunk whatever the size, and a cancelled
// context stops it between chunks rather than after filling megabytes.
func writeAll(ctx context.Context, w Writer, p Pattern, offset int64, size, chunk int, zlp bool) error {
	buf := make([]byte, min(chunk, size))
	for off := 0; off < size; off += chunk {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write at byte %d: %w", off, err)
		}
		part := buf[:min(chunk, size-off)]
		p.Fill(part, offset+int64(off))
		n, err := w.WriteContext(ctx, part)
		if err != nil {
			return fmt.Errorf("write at byte %d: %w", off+n, err)
		}
		if n != len(part) {
			return fmt.Errorf("write at byte %d: short write of %d bytes, sent %d", off, n, len(part))
		}
	}
	if zlp {
		if _, err := w.WriteContext(ctx, nil); err != nil {
			return fmt.Errorf("write of the terminating ZLP: %w", err)
		}
	}
	return nil
}

func readBack(ctx context.Context, r Reader, size, mp, chunk int, p Pattern, offset int64) error {
	buf := make([]byte, chunk+mp)
	got := 0
	for {
		remaining := size - got
		want := chunk
		if remaining < chunk+mp {
			want = (remaining/mp + 1) * mp // room for the terminating packet
		}
		n, err := r.ReadContext(ctx, buf[:want])
		if n > remaining {
			return fmt.Errorf("read %d bytes at byte %d, only %d were still expected (stale data from an earlier transfer?)", n, got, remaining)
		}
		if cerr := p.Check(buf[:n], offset+int64(got)); cerr != nil {
			var me *MismatchError
			if errors.As(cerr, &me) {
				me.Offset -= offset // report the byte within this size
			}
			return cerr
		}
		got += n
		if err != nil {
			return fmt.Errorf("read at byte %d: %w", got, err)
		}
		if n < want {
			break // short packet or ZLP: the gadget's transfer ended
		}
	}
	if got != size {
		return fmt.Errorf("read back %d bytes, wrote %d", got, size)
	}
	return nil
}
