//go:build cgo

package host

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoopbackFake(t *testing.T) {
	const mp, bufLen = 512, 4096
	f := newFakeLoopback(mp, bufLen)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sizes := append(DefaultLoopbackSizes(mp, bufLen), 8192, 4096, 0, 512)
	rounds, err := Loopback(ctx, f, f, LoopbackOptions{
		Sizes: sizes, MaxPacket: mp, Chunk: 8192, Pattern: Pattern{Kind: PatternRandom, Seed: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != len(sizes) {
		t.Fatalf("%d rounds, want %d", len(rounds), len(sizes))
	}
	for _, r := range rounds {
		if r.ZLP != (r.Size%mp == 0) {
			t.Errorf("size %d: ZLP = %v", r.Size, r.ZLP)
		}
	}
	if len(f.packets) != 0 || len(f.req) != 0 {
		t.Errorf("left behind: %d IN packets, %d bytes in the OUT request", len(f.packets), len(f.req))
	}
}

func TestLoopbackCatchesCorruption(t *testing.T) {
	f := newFakeLoopback(512, 4096)
	calls := 0
	f.corrupt = func(p []byte) {
		calls++
		if calls == 3 && len(p) > 100 {
			p[100] ^= 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := Loopback(ctx, f, f, LoopbackOptions{Sizes: []int{20000}, MaxPacket: 512, Pattern: Pattern{Kind: PatternMod63}})
	var me *MismatchError
	if !errors.As(err, &me) || me.Offset != 2*4096+100 {
		t.Fatalf("err = %v, want a mismatch at byte %d", err, 2*4096+100)
	}
}

// A reader that sees more than was written (a stale packet from an earlier
// transfer) is an error, not silently absorbed.
func TestLoopbackStaleData(t *testing.T) {
	f := newFakeLoopback(512, 4096)
	f.packets = [][]byte{make([]byte, 100)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := Loopback(ctx, f, f, LoopbackOptions{Sizes: []int{10}, MaxPacket: 512, Pattern: Pattern{Kind: PatternZero}})
	if err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("err = %v, want stale data", err)
	}
}

// Without the ZLP the gadget's request never completes: the run must end
// with the context, not hang.
func TestLoopbackHonoursDeadline(t *testing.T) {
	f := newFakeLoopback(512, 4096)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var w noZLPWriter = noZLPWriter{f}
	start := time.Now()
	_, err := Loopback(ctx, w, f, LoopbackOptions{Sizes: []int{1024}, MaxPacket: 512})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

type noZLPWriter struct{ w Writer }

func (n noZLPWriter) WriteContext(ctx context.Context, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return n.w.WriteContext(ctx, p)
}
