package postgres

import (
	"encoding/binary"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// Ledger rows are sent in PostgreSQL's binary COPY format, encoded here
// rather than through pgx's generic CopyFrom: pgx plans the encoding of
// every value of every row through its type map, which cost the exchange
// about 1 µs per entry; the layout is fixed, so it is written directly.
// https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4

// copySignature opens a binary COPY stream: signature, flags, extension length.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

const (
	textOID = 25
	// pgEpochMicros is 2000-01-01 00:00:00 UTC in Unix microseconds, the
	// epoch of binary timestamps.
	pgEpochMicros = 946_684_800_000_000
)

// appendCopyRow appends e as a row of entryColumns in chain.
func appendCopyRow(b []byte, chain int32, e *ledger.Entry) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(entryColumns)))
	b = appendInt4(b, chain)
	b = appendInt8(b, e.Offset)
	b = appendInt8(b, e.Seq)
	b = appendBytes(b, e.KeyHash)
	b = appendBytes(b, e.PayloadHash)
	b = appendInt4(b, int32(e.SchemaID))
	b = appendText(b, string(e.Decision))
	b = appendTextArray(b, len(e.Reasons), func(i int) string { return e.Reasons[i] })
	n := len(e.Deliveries)
	b = appendTextArray(b, n, func(i int) string { return e.Deliveries[i].AgreementID })
	b = appendTextArray(b, n, func(i int) string { return e.Deliveries[i].Topic })
	b = appendNull(b) // delivery_ids: derived on read (scanEntry)
	n = len(e.Skips)
	b = appendTextArray(b, n, func(i int) string { return e.Skips[i].AgreementID })
	b = appendTextArray(b, n, func(i int) string { return e.Skips[i].Reason })
	b = appendText(b, e.PlanVersion)
	b = appendBytes(b, e.SubjectHash)
	if e.EventTime.IsZero() {
		b = appendNull(b)
	} else {
		b = appendInt8(b, e.EventTime.UnixMicro())
	}
	b = appendTimestamptz(b, e.DecisionTime)
	b = appendBytes(b, e.PrevHash)
	b = appendBytes(b, e.Hash)
	// delivery_terms: NULL unless a delivery carries a content hash.
	n = 0
	for i := range e.Deliveries {
		if e.Deliveries[i].ContentHash != "" {
			n = len(e.Deliveries)
			break
		}
	}
	return appendTextArray(b, n, func(i int) string { return e.Deliveries[i].ContentHash })
}

// copyTrailer ends a binary COPY stream.
func appendCopyTrailer(b []byte) []byte { return binary.BigEndian.AppendUint16(b, 0xffff) }

func appendNull(b []byte) []byte { return binary.BigEndian.AppendUint32(b, 0xffffffff) }

func appendInt4(b []byte, v int32) []byte {
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, uint32(v))
}

func appendInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// appendBytes appends a bytea; nil is NULL (as pgx sends a nil []byte).
func appendBytes(b, v []byte) []byte {
	if v == nil {
		return appendNull(b)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func appendText(b []byte, v string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// appendTextArray appends a one-dimensional text[] of n elements; an empty
// list is NULL.
func appendTextArray(b []byte, n int, elem func(int) string) []byte {
	if n == 0 {
		return appendNull(b)
	}
	size := 20
	for i := 0; i < n; i++ {
		size += 4 + len(elem(i))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	b = binary.BigEndian.AppendUint32(b, 1) // dimensions
	b = binary.BigEndian.AppendUint32(b, 0) // no NULL elements
	b = binary.BigEndian.AppendUint32(b, textOID)
	b = binary.BigEndian.AppendUint32(b, uint32(n)) // length of the dimension
	b = binary.BigEndian.AppendUint32(b, 1)         // lower bound
	for i := 0; i < n; i++ {
		b = appendText(b, elem(i))
	}
	return b
}

func appendTimestamptz(b []byte, t time.Time) []byte {
	return appendInt8(b, t.UnixMicro()-pgEpochMicros)
}
