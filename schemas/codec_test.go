package schemas

import (
	"context"
	"errors"
	"math/big"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseFrame(t *testing.T) {
	cases := []struct {
		name   string
		in     []byte
		id     int
		body   string
		errSub string
	}{
		{"empty", nil, 0, "", "shorter than the 5-byte header"},
		{"header only partly", []byte{0, 0, 0, 1}, 0, "", "value is 4 bytes"},
		{"wrong magic", []byte{1, 0, 0, 0, 1, 2}, 0, "", "magic byte is 0x01"},
		{"id zero", []byte{0, 0, 0, 0, 0, 2}, 0, "", "schema id 0 out of range"},
		{"id beyond int32", []byte{0, 0x80, 0, 0, 0}, 0, "", "schema id 2147483648 out of range"},
		{"empty body", []byte{0, 0, 0, 0, 7}, 7, "", ""},
		{"body", []byte{0, 0, 0, 1, 2, 'h', 'i'}, 258, "hi", ""},
		{"max id", []byte{0, 0x7f, 0xff, 0xff, 0xff, 1}, 1<<31 - 1, "\x01", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, body, err := ParseFrame(tc.in)
			if tc.errSub != "" {
				var fe *FrameError
				if !errors.As(err, &fe) || !errors.Is(err, ErrMalformedFrame) || ReasonCode(err) != ReasonDecodeMalformed {
					t.Fatalf("want *FrameError matching ErrMalformedFrame, got %v", err)
				}
				if !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("error %q lacks %q", err, tc.errSub)
				}
				return
			}
			if err != nil || id != tc.id || string(body) != tc.body {
				t.Fatalf("got %d %q %v; want %d %q", id, body, err, tc.id, tc.body)
			}
		})
	}
}

func TestAppendFrameRoundTrip(t *testing.T) {
	for _, id := range []int{1, 255, 256, 65536, 1<<31 - 1} {
		b := append(AppendFrame([]byte("x"), id), "body"...)
		got, body, err := ParseFrame(b[1:])
		if err != nil || got != id || string(body) != "body" {
			t.Errorf("id %d: got %d %q %v", id, got, body, err)
		}
	}
}

// newCodecFixture registers the reference and kitchen-sink schemas and
// returns codecs over the registry with their ids.
func newCodecFixture(tb testing.TB, opts ...CodecOption) (c *Codecs, refID, sinkID int) {
	tb.Helper()
	ctx := context.Background()
	r := quietRegistry()
	for i, f := range []string{"testdata/immunisation.avsc", "testdata/kitchensink.avsc"} {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		id, err := r.Register(ctx, []string{"ingress.health.immunisations-value", "test.sink-value"}[i], string(b))
		if err != nil {
			tb.Fatal(err)
		}
		if i == 0 {
			refID = id
		} else {
			sinkID = id
		}
	}
	return NewCodecs(r, opts...), refID, sinkID
}

// referenceRecord is a realistic immunisation record in the shape
// hamba/avro decodes to.
func referenceRecord() map[string]any {
	return map[string]any{
		"record_id":       "imm-2026-000123",
		"citizen_id":      "CZ-8841-2290-17",
		"given_name":      "Aroha",
		"family_name":     "Ngata",
		"age":             34,
		"postcode":        "6011",
		"region":          "Wellington",
		"vaccine":         "MMR",
		"dose_number":     2,
		"lot_number":      "LOT-77A1",
		"administered_at": time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC),
		"phone":           "+64 21 555 0199",
		"clinic":          map[string]any{"id": "clinic-041", "region": "Wellington"},
		"adverse_event":   false,
		"weight_grams":    int64(71200),
	}
}

func TestCodecsRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, id, _ := newCodecFixture(t)
	frame, err := c.Encode(ctx, id, referenceRecord())
	if err != nil {
		t.Fatal(err)
	}
	gotID, v, err := c.Decode(ctx, frame)
	if err != nil || gotID != id {
		t.Fatalf("Decode = %d, %v", gotID, err)
	}
	m := v.(map[string]any)
	if m["citizen_id"] != "CZ-8841-2290-17" || m["age"] != 34 || m["vaccine"] != "MMR" {
		t.Errorf("decoded %v", m)
	}
	if at, ok := m["administered_at"].(time.Time); !ok || !at.Equal(time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("administered_at = %#v", m["administered_at"])
	}
	// hamba decodes a ["null", T] union to the plain T value or nil.
	if m["phone"] != "+64 21 555 0199" {
		t.Errorf("phone = %#v", m["phone"])
	}
	again, err := c.Encode(ctx, id, v)
	if err != nil || string(again) != string(frame) {
		t.Fatalf("re-encoding the decoded value changed the bytes (%v)", err)
	}
	// A null union branch.
	rec := referenceRecord()
	rec["phone"] = nil
	frame, err = c.AppendEncode(ctx, make([]byte, 0, 256), id, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, v, err = c.Decode(ctx, frame); err != nil || v.(map[string]any)["phone"] != nil {
		t.Fatalf("null phone: %v %v", v, err)
	}
}

// zigzag appends n as an Avro long.
func zigzag(b []byte, n int64) []byte {
	u := uint64((n << 1) ^ (n >> 63))
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func TestCodecsHostileInput(t *testing.T) {
	ctx := context.Background()
	c, refID, sinkID := newCodecFixture(t, WithMaxBytes(1<<16), WithMaxItems(1<<12))
	ref := AppendFrame(nil, refID)
	sink := AppendFrame(nil, sinkID)
	// The kitchen-sink prefix up to the arrays: f (4 bytes), d (8), b (empty), fx (4).
	sinkPrefix := append(append([]byte{}, sink...), make([]byte, 4+8)...)
	sinkPrefix = append(sinkPrefix, 0)          // b: empty bytes
	sinkPrefix = append(sinkPrefix, 1, 2, 3, 4) // fx
	cases := []struct {
		name   string
		frame  []byte
		kind   error
		detail string
	}{
		{"unknown id", AppendFrame(nil, 999), ErrUnknownSchemaID, ""},
		{"wrong magic", []byte{9, 0, 0, 0, 1}, ErrMalformedFrame, ""},
		{"truncated body", append(append([]byte{}, ref...), 10, 'a', 'b'), ErrMalformedPayload, ""},
		{"empty body", ref, ErrMalformedPayload, ""},
		{"huge string length", zigzag(append([]byte{}, ref...), 1<<40), ErrMalformedPayload, "string length 1099511627776 over the limit of 65536"},
		{"negative string length", zigzag(append([]byte{}, ref...), -5), ErrMalformedPayload, ""},
		{"huge bytes length", zigzag(append(append([]byte{}, sink...), make([]byte, 12)...), 1<<62), ErrMalformedPayload, ""},
		{"huge array count", zigzag(append([]byte{}, sinkPrefix...), 1<<50), ErrMalformedPayload, ""},
		{"body ends inside an array", zigzag(append([]byte{}, sinkPrefix...), 3), ErrMalformedPayload, ""},
		{"min int64 block count", zigzag(append([]byte{}, sinkPrefix...), -1<<63), ErrMalformedPayload, "array block count overflows"},
		{"array past the item limit", zigzag(zigzag(append([]byte{}, sinkPrefix...), 0), 1<<13), ErrMalformedPayload, ""},
		// FuzzFrameDecode found a SIGSEGV in hamba/avro's array decoder
		// (testdata/fuzz/FuzzFrameDecode/a06e0d5e6dc97e3c): huge negative
		// block counts drive its item count negative.
		{"huge negative block count then items", append(zigzag(zigzag(append([]byte{}, sinkPrefix...), -1<<63+5), 2), 1, 0, 0), ErrMalformedPayload, "array of more than 4096 items"},
		{"varint longer than 64 bits", append(append([]byte{}, ref...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), ErrMalformedPayload, "varint overflows 64 bits"},
		{"int out of 32-bit range", zigzag(append(append([]byte{}, ref...), 0, 0, 0, 0), 1<<40), ErrMalformedPayload, `field "age" of health.Immunisation: at byte 10: int 1099511627776 out of 32-bit range`},
		{"boolean byte 2", append(zigzag(zigzag(append([]byte{}, sinkPrefix...), 0), 1), 2), ErrMalformedPayload, "boolean byte 0x02"},
		{"negative block byte size", zigzag(zigzag(append([]byte{}, sinkPrefix...), -1), -4), ErrMalformedPayload, "negative array block size -4"},
		{"string not UTF-8", append(append([]byte{}, ref...), 4, 0xff, 0xfe), ErrMalformedPayload, "not valid UTF-8"},
		{"union index out of range", append(zigzag(zigzag(append([]byte{}, sinkPrefix...), 0), 0), 0x7f), ErrMalformedPayload, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, v, err := c.Decode(ctx, tc.frame)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("got %v (value %v), want %v", err, v, tc.kind)
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("want *FrameError, got %T", err)
			}
			if tc.detail != "" && !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("error %q does not say %q", err, tc.detail)
			}
			if strings.Contains(err.Error(), "decoder panicked") {
				t.Fatalf("the decoder panicked: %v", err)
			}
			if ReasonCode(err) == "" {
				t.Fatalf("no reason code for %v", err)
			}
			// Bounded memory: a hostile record must not make the decoder
			// allocate far beyond the limits (64 KiB strings, 4096 items).
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
				t.Errorf("decoding allocated %d bytes", grew)
			}
		})
	}
}

type failingSource struct{ err error }

func (f failingSource) SchemaByID(context.Context, int) (*Schema, error) { return nil, f.err }

func TestCodecsSourceFailureIsNotADecodeError(t *testing.T) {
	c := NewCodecs(failingSource{err: context.Canceled})
	_, _, err := c.Decode(context.Background(), AppendFrame(nil, 1))
	if !errors.Is(err, context.Canceled) || ReasonCode(err) != "" {
		t.Fatalf("got %v (reason %q); a store failure must not become a quarantine reason", err, ReasonCode(err))
	}
}

// TestCodecsEveryUnionBranch: a union holding a named type decodes for
// every branch (hamba's UnionResolutionError would refuse all of them),
// general unions come back as {branch: value}, and the decoded value
// re-encodes to the same bytes.
func TestCodecsEveryUnionBranch(t *testing.T) {
	ctx := context.Background()
	c, _, sink := newCodecFixture(t)
	cases := []struct {
		name string
		in   any
		want any
	}{
		{"null", nil, nil},
		{"long", int64(5), map[string]any{"long": int64(5)}},
		{"string", "s", map[string]any{"string": "s"}},
		{"record", map[string]any{"test.Inner": map[string]any{"x": 7}}, map[string]any{"test.Inner": map[string]any{"x": 7}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := map[string]any{"f": float32(1.5), "d": 2.25, "b": []byte{1, 2}, "fx": [4]byte{1, 2, 3, 4},
				"arr": []any{map[string]any{"k": "v"}}, "flags": []any{true, false}, "u": tc.in,
				"day": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "dec": big.NewRat(12345, 100)}
			frame, err := c.Encode(ctx, sink, v)
			if err != nil {
				t.Fatal(err)
			}
			_, got, err := c.Decode(ctx, frame)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if u := got.(map[string]any)["u"]; !reflect.DeepEqual(u, tc.want) {
				t.Fatalf("u = %#v, want %#v", u, tc.want)
			}
			again, err := c.Encode(ctx, sink, got)
			if err != nil || string(again) != string(frame) {
				t.Fatalf("re-encoding changed the bytes (%v)", err)
			}
		})
	}
}
