package schemas

import (
	"context"
	"testing"
)

// BenchmarkFrameDecodeEncode measures the hot path of the exchange on its
// reference record (15 fields: strings, ints, a timestamp-millis, an enum,
// a nullable union, a nested record): parse the frame, decode through the
// id cache, encode under the same id into a framed value.
//
//	go test -run '^$' -bench . -benchmem ./schemas/
func BenchmarkFrameDecodeEncode(b *testing.B) {
	ctx := context.Background()
	c, id, _ := newCodecFixture(b)
	frame, err := c.Encode(ctx, id, referenceRecord())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.Run("alloc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			gotID, v, err := c.Decode(ctx, frame)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Encode(ctx, gotID, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reuse-buffer", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			gotID, v, err := c.Decode(ctx, frame)
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = c.AppendEncode(ctx, buf[:0], gotID, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFrameDecode is the decode half alone.
func BenchmarkFrameDecode(b *testing.B) {
	ctx := context.Background()
	c, id, _ := newCodecFixture(b)
	frame, err := c.Encode(ctx, id, referenceRecord())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Decode(ctx, frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateBody is the structural walk every body gets before
// hamba/avro decodes it (part of BenchmarkFrameDecode).
func BenchmarkValidateBody(b *testing.B) {
	ctx := context.Background()
	c, id, _ := newCodecFixture(b)
	frame, err := c.Encode(ctx, id, referenceRecord())
	if err != nil {
		b.Fatal(err)
	}
	s, err := c.Schema(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	body := frame[FrameHeaderSize:]
	b.ReportAllocs()
	for b.Loop() {
		if err := validateBody(s, body, DefaultMaxBytes, DefaultMaxItems); err != nil {
			b.Fatal(err)
		}
	}
}
