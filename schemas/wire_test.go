package schemas

import (
	"bytes"
	"errors"
	"strings"
	"testing"
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
				if !errors.As(err, &fe) || !errors.Is(err, ErrMalformedFrame) {
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

// FuzzParseFrame feeds arbitrary values to the frame parser. Properties:
// no panic; a value is either refused with a *FrameError matching
// ErrMalformedFrame, or split into an id in 1..2^31-1 and a body that
// AppendFrame puts back together into the same bytes. The corpus in
// testdata/fuzz/FuzzParseFrame holds the frames that once crashed the
// (since removed) codec cache's decoder.
func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 0})
	f.Add(append(AppendFrame(nil, 4242), "body"...))
	f.Add(AppendFrame(nil, 1<<31-1))
	f.Fuzz(func(t *testing.T, frame []byte) {
		id, body, err := ParseFrame(frame)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("error is not a *FrameError matching ErrMalformedFrame: %v", err)
			}
			return
		}
		if id < 1 || id > maxSchemaID {
			t.Fatalf("id %d out of range", id)
		}
		if again := append(AppendFrame(nil, id), body...); !bytes.Equal(again, frame) {
			t.Fatalf("AppendFrame(%d)+body = %x, want %x", id, again, frame)
		}
	})
}
