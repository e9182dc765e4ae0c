package sqlite

import (
	"bytes"
	"testing"
)

func TestFieldsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		key, payload, prev []byte
		schema, event      int64
		hasEvent           bool
	}{
		{nil, nil, nil, 0, 0, false},
		{[]byte{}, []byte{1}, nil, -1, -5, true},
		{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32), bytes.Repeat([]byte{9}, 32), 1 << 40, 1795762920429000, true},
	} {
		b := appendFields(nil, tc.key, tc.payload, tc.schema, tc.event, tc.hasEvent, tc.prev)
		f, err := decodeFields(b)
		if err != nil {
			t.Fatalf("decode(%x): %v", b, err)
		}
		same := func(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
		if !same(f.keyHash, tc.key) || !same(f.payloadHash, tc.payload) || !same(f.prevHash, tc.prev) ||
			f.schemaID != tc.schema || f.hasEvent != tc.hasEvent || (tc.hasEvent && f.eventUS != tc.event) {
			t.Errorf("round trip of %+v gave %+v", tc, f)
		}
	}
}

// FuzzDecodeFields: a fields blob edited in the database file is refused
// (verify reports the entry) or decodes to values that survive a round trip
// (an over-long varint is the same value: the entry hash covers values, not
// bytes); never a panic.
func FuzzDecodeFields(f *testing.F) {
	f.Add(appendFields(nil, []byte{1, 2}, nil, 7, 12345, true, []byte{3}))
	f.Add(appendFields(nil, nil, nil, 0, 0, false, nil))
	f.Add([]byte{fieldsVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeFields(b)
		if err != nil {
			return
		}
		again, err := decodeFields(appendFields(nil, d.keyHash, d.payloadHash, d.schemaID, d.eventUS, d.hasEvent, d.prevHash))
		if err != nil || !bytes.Equal(again.keyHash, d.keyHash) || !bytes.Equal(again.payloadHash, d.payloadHash) ||
			!bytes.Equal(again.prevHash, d.prevHash) || again.schemaID != d.schemaID || again.hasEvent != d.hasEvent || again.eventUS != d.eventUS {
			t.Fatalf("decode(%x) = %+v, but its encoding decodes as %+v, %v", b, d, again, err)
		}
	})
}
