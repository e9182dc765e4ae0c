package schemas

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// FuzzFrameDecode feeds arbitrary values through frame parsing and the
// codec cache. It passes when every input either decodes, and re-encodes
// stably, or fails with a *FrameError carrying a reason code; a panic
// inside the decoder (caught and reported as "decoder panicked") fails it
// too. Seeds: valid frames of both fixture schemas and hostile ones; the
// go tool also replays testdata/fuzz/FuzzFrameDecode.
func FuzzFrameDecode(f *testing.F) {
	ctx := context.Background()
	c, refID, sinkID := newCodecFixture(f, WithMaxBytes(1<<16), WithMaxItems(1<<12))

	valid, err := c.Encode(ctx, refID, referenceRecord())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:FrameHeaderSize])
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 1})
	f.Add(AppendFrame(nil, 4242))
	f.Add(zigzag(AppendFrame(nil, refID), 1<<40))
	sink := AppendFrame(nil, sinkID)
	f.Add(append(append([]byte{}, sink...), bytes.Repeat([]byte{0}, 30)...))
	prefix := append(append(append([]byte{}, sink...), make([]byte, 12)...), 0, 1, 2, 3, 4)
	f.Add(zigzag(append([]byte{}, prefix...), 1<<50))
	f.Add(zigzag(append([]byte{}, prefix...), -1<<63))
	f.Add(zigzag(zigzag(append([]byte{}, prefix...), 0), 1<<13))
	f.Add(append(zigzag(zigzag(append([]byte{}, prefix...), 0), 0), 6, 2, 'x'))

	f.Fuzz(func(t *testing.T, frame []byte) {
		id, v, err := c.Decode(ctx, frame)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || ReasonCode(err) == "" {
				t.Fatalf("error without a reason code: %v", err)
			}
			if strings.Contains(err.Error(), "decoder panicked") {
				t.Fatalf("decoder panicked on %x: %v", frame, err)
			}
			return
		}
		// What decodes must encode, and the round trip must keep the value.
		// Bytes are compared only by length: Avro fixes no order for map
		// entries, and a Go map is encoded in its iteration order.
		b1, err := c.Encode(ctx, id, v)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v", err)
		}
		_, v2, err := c.Decode(ctx, b1)
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !sameValue(v, v2) {
			t.Fatalf("round trip changed the value: %#v vs %#v", v, v2)
		}
		b2, err := c.Encode(ctx, id, v2)
		if err != nil || len(b1) != len(b2) {
			t.Fatalf("encoding is not stable: %x vs %x (%v)", b1, b2, err)
		}
	})
}

// sameValue is reflect.DeepEqual for decoded Avro values, except that
// floats compare by their bits, so a NaN equals itself.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float32:
		y, ok := b.(float32)
		return ok && math.Float32bits(x) == math.Float32bits(y)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !sameValue(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
