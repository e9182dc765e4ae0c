package sqlite

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"

	"modernc.org/sqlite"
)

// The fields of an entry no query filters on — key hash, payload hash,
// schema id, event time and previous hash — are stored as one BLOB
// (ledger_entries.fields, migration 0005): one bound value per row instead
// of five. Layout, in this order:
//
//	key hash, payload hash   uvarint 0 for NULL, else len+1 and the bytes
//	schema id                varint
//	event time               byte 0 (none) or 1 and a varint of µs since the epoch
//	previous hash            as the key hash
const fieldsVersion = 1

func appendNullBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(p))+1)
	return append(b, p...)
}

// appendFields appends the encoding of the fields blob to b.
func appendFields(b, keyHash, payloadHash []byte, schemaID int64, eventUS int64, hasEvent bool, prevHash []byte) []byte {
	b = append(b, fieldsVersion)
	b = appendNullBytes(b, keyHash)
	b = appendNullBytes(b, payloadHash)
	b = binary.AppendVarint(b, schemaID)
	if hasEvent {
		b = append(b, 1)
		b = binary.AppendVarint(b, eventUS)
	} else {
		b = append(b, 0)
	}
	return appendNullBytes(b, prevHash)
}

// entryFields is the decoded fields blob; the byte slices alias it.
type entryFields struct {
	keyHash, payloadHash, prevHash []byte
	schemaID                       int64
	eventUS                        int64
	hasEvent                       bool
}

var errFields = errors.New("malformed fields blob")

func decodeFields(b []byte) (entryFields, error) {
	var f entryFields
	if len(b) == 0 || b[0] != fieldsVersion {
		return f, errFields
	}
	b = b[1:]
	nullBytes := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k)+1 {
			return nil, false
		}
		b = b[k:]
		if n == 0 {
			return nil, true
		}
		p := b[: n-1 : n-1]
		b = b[n-1:]
		return p, true
	}
	var ok bool
	if f.keyHash, ok = nullBytes(); !ok {
		return f, errFields
	}
	if f.payloadHash, ok = nullBytes(); !ok {
		return f, errFields
	}
	v, k := binary.Varint(b)
	if k <= 0 || len(b) == k {
		return f, errFields
	}
	f.schemaID, b = v, b[k:]
	switch b[0] {
	case 0:
		b = b[1:]
	case 1:
		if f.eventUS, k = binary.Varint(b[1:]); k <= 0 {
			return f, errFields
		}
		f.hasEvent, b = true, b[1+k:]
	default:
		return f, errFields
	}
	if f.prevHash, ok = nullBytes(); !ok || len(b) != 0 {
		return f, errFields
	}
	return f, nil
}

func init() {
	// exchange_ledger_fields(key_hash, payload_hash, schema_id,
	// event_time_us, prev_hash) is the fields blob of those columns: for
	// migration 0005, which carries the entries of the old layout over.
	sqlite.MustRegisterDeterministicScalarFunction("exchange_ledger_fields", 5,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			var hashes [3][]byte
			for i, a := range []driver.Value{args[0], args[1], args[4]} {
				switch v := a.(type) {
				case nil:
				case []byte:
					hashes[i] = append([]byte{}, v...)
				case string:
					hashes[i] = []byte(v)
				default:
					return nil, fmt.Errorf("exchange_ledger_fields: hash argument %d: want a blob, got %T", i+1, a)
				}
			}
			schemaID, ok := args[2].(int64)
			if !ok {
				return nil, fmt.Errorf("exchange_ledger_fields: schema_id: want an integer, got %T", args[2])
			}
			var evt int64
			switch v := args[3].(type) {
			case nil:
			case int64:
				evt = v
			default:
				return nil, fmt.Errorf("exchange_ledger_fields: event_time_us: want an integer, got %T", args[3])
			}
			return appendFields(nil, hashes[0], hashes[1], schemaID, evt, args[3] != nil, hashes[2]), nil
		})
}
