package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// Entries go in with multi-row INSERT statements: per statement SQLite
// pays the VDBE setup and database/sql a driver round trip, so a statement
// per row cost more than the B-tree inserts themselves (100 per statement
// measured best of 50, 100 and 200; again with 13 values per row instead of
// 18, where 50 and 200 were no better).
const entriesPerInsert = 100 // × entryInsertParams

// The row id is (chain << 40) | seq (migration 0005), so each chain's
// entries are one range of the table; the fields no query filters on are
// one BLOB (fields.go) and empty lists are NULL.
const entryInsertColumns = `INSERT INTO ledger_entries (id, chain, "offset", dataset, decision, reasons, deliveries, skips,
	plan_version, subject_hash, decision_time_us, fields, hash) VALUES `

const entryInsertParams = 13

// seqBits is the width of seq in the row id; chain ids stay below
// 1 << (63 - seqBits).
const (
	seqBits  = 40
	seqMask  = 1<<seqBits - 1
	maxChain = 1<<(63-seqBits) - 1
)

// rowID is the row id of the entry of chain at seq.
func rowID(chain, seq int64) int64 { return chain<<seqBits | seq }

// insertStmts holds the full-size multi-row INSERT, prepared on the writer
// connection outside any transaction (the pool has one connection: a
// transaction holds it) the first time Append runs; the smaller tail of a
// batch is prepared in its transaction.
type insertStmts struct {
	mu      sync.Mutex
	entries *sql.Stmt
}

func (st *insertStmts) prepare(ctx context.Context, w *sql.DB) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.entries != nil {
		return nil
	}
	e, err := w.PrepareContext(ctx, insertText(entryInsertColumns, entriesPerInsert, entryInsertParams))
	if err != nil {
		return err
	}
	st.entries = e
	return nil
}

func (st *insertStmts) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.entries != nil {
		st.entries.Close()
		st.entries = nil
	}
}

// insertText is prefix followed by n groups of params placeholders.
func insertText(prefix string, n, params int) string {
	var sb strings.Builder
	sb.WriteString(prefix)
	group := "(?" + strings.Repeat(", ?", params-1) + ")"
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(group)
	}
	return sb.String()
}

// rowWriter inserts the linked entries of one append transaction. Nothing
// else is written per delivery: a delivery id locates its entry by
// (chain, offset) — see Query.
type rowWriter struct {
	db   *DB
	tx   *sql.Tx
	args []any
}

// exec runs prefix with len(args)/params rows: the prepared full-size
// statement full, or one prepared for the tail.
func (w *rowWriter) exec(ctx context.Context, full *sql.Stmt, fullRows int, prefix string, params int, args []any) error {
	n := len(args) / params
	var s *sql.Stmt
	if n == fullRows {
		s = w.tx.StmtContext(ctx, full)
	} else {
		var err error
		if s, err = w.tx.PrepareContext(ctx, insertText(prefix, n, params)); err != nil {
			return err
		}
	}
	defer s.Close()
	_, err := s.ExecContext(ctx, args...)
	return err
}

// insert writes es (linked: Seq, PrevHash and Hash set), entries of the
// chain with id chain whose dataset is chainDataset.
func (w *rowWriter) insert(ctx context.Context, chain int64, chainDataset string, es []*ledger.Entry) error {
	for len(es) > 0 {
		n := min(len(es), entriesPerInsert)
		chunk := es[:n]
		es = es[n:]
		// The JSON lists and fields blobs of the whole chunk are built in
		// one buffer and converted to one string, which the rows then
		// slice: one allocation instead of four per entry. (The driver
		// copies every text and blob it binds.)
		var buf []byte
		ends := make([]int, 0, 4*n)
		for _, e := range chunk {
			if len(e.Reasons) > 0 {
				buf = appendReasons(buf, e.Reasons)
			}
			ends = append(ends, len(buf))
			if len(e.Deliveries) > 0 {
				buf = appendDeliveries(buf, e.Deliveries)
			}
			ends = append(ends, len(buf))
			if len(e.Skips) > 0 {
				buf = appendSkips(buf, e.Skips)
			}
			ends = append(ends, len(buf))
			buf = appendFields(buf, e.KeyHash, e.PayloadHash, int64(e.SchemaID), e.EventTime.UnixMicro(), !e.EventTime.IsZero(), e.PrevHash)
			ends = append(ends, len(buf))
		}
		lists := string(buf)
		text := func(lo, hi int) any {
			if lo == hi {
				return nil
			}
			return lists[lo:hi]
		}
		args := w.args[:0]
		start := 0
		for i, e := range chunk {
			r, d, s, f := ends[4*i], ends[4*i+1], ends[4*i+2], ends[4*i+3]
			var dataset any
			if e.Dataset != chainDataset {
				dataset = e.Dataset
			}
			args = append(args,
				rowID(chain, e.Seq), chain, e.Offset, dataset, string(e.Decision), text(start, r), text(r, d), text(d, s),
				e.PlanVersion, blob(e.SubjectHash), e.DecisionTime.UnixMicro(), buf[s:f:f], e.Hash)
			start = f
		}
		w.args = args
		if err := w.exec(ctx, w.db.stmts.entries, entriesPerInsert, entryInsertColumns, entryInsertParams, args); err != nil {
			return fmt.Errorf("offsets %d…%d: %w", chunk[0].Offset, chunk[n-1].Offset, err)
		}
	}
	return nil
}

// The lists are stored as JSON arrays (audit queries read them with
// json_each): reasons ["code", …], deliveries [[agreement, topic, delivery
// id(, content hash)], …] (the content hash since deliveries carry it; no
// migration: older rows keep three), skips [[agreement, reason], …].

func appendReasons(b []byte, rs []string) []byte {
	return appendList(b, len(rs), func(b []byte, i int) []byte { return appendJSONString(b, rs[i]) })
}

func appendDeliveries(b []byte, ds []ledger.Delivery) []byte {
	return appendList(b, len(ds), func(b []byte, i int) []byte {
		if ds[i].ContentHash != "" {
			return appendStrings(b, ds[i].AgreementID, ds[i].Topic, ds[i].DeliveryID, ds[i].ContentHash)
		}
		return appendStrings(b, ds[i].AgreementID, ds[i].Topic, ds[i].DeliveryID)
	})
}

func appendSkips(b []byte, ss []ledger.Skip) []byte {
	return appendList(b, len(ss), func(b []byte, i int) []byte { return appendStrings(b, ss[i].AgreementID, ss[i].Reason) })
}

// appendList appends a JSON array of n elements, element i appended by elem.
func appendList(b []byte, n int, elem func(b []byte, i int) []byte) []byte {
	b = append(b, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, i)
	}
	return append(b, ']')
}

// appendStrings appends a JSON array of the strings ss.
func appendStrings(b []byte, ss ...string) []byte {
	return appendList(b, len(ss), func(b []byte, i int) []byte { return appendJSONString(b, ss[i]) })
}

// appendJSONString appends s as a JSON string. Codes and ids are plain
// ASCII and go in as they are; anything else is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			j, _ := json.Marshal(s)
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
