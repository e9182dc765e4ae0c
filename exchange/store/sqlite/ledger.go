package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// selectEntry reads entries with their chain's topic, partition and dataset
// (migration 0005); scanEntry decodes its columns.
const (
	selectEntryColumns = `SELECT c.topic, c.partition, e."offset", e.id, coalesce(e.dataset, c.dataset), e.decision,
	e.reasons, e.deliveries, e.skips, e.plan_version, e.subject_hash, e.decision_time_us, e.fields, e.hash`
	selectEntry = selectEntryColumns + ` FROM ledger_entries e JOIN ledger_chains c ON c.id = e.chain`
	// selectEntryByTime reads the entries in the order of the time index.
	selectEntryByTime = selectEntryColumns + ` FROM ledger_entries e INDEXED BY ledger_entries_time JOIN ledger_chains c ON c.id = e.chain`
	// selectEntryBySubject reads one data subject's entries through the
	// (subject_hash, decision_time_us) index (migration 0012).
	selectEntryBySubject = selectEntryColumns + ` FROM ledger_entries e INDEXED BY ledger_entries_subject JOIN ledger_chains c ON c.id = e.chain`
)

// Append stores entries (see ledger.Appender) in one IMMEDIATE
// transaction: the database's write lock serialises every appender, across
// processes too, so each chain's head is read and extended by one writer at
// a time; the row id ((chain << 40) | seq, unique) and the UNIQUE (chain,
// offset) constraint are the last guard.
func (db *DB) Append(ctx context.Context, entries []ledger.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	b, err := ledger.NewBatch(entries)
	if err != nil {
		return err
	}
	if err := db.write(ctx, b, nil); err != nil {
		return fmt.Errorf("ledger append of %d entries: %w", len(entries), err)
	}
	return nil
}

// Index implements ledger.Index: Append's transaction, with the entries it
// refuses recorded as flags in it (see ledger.NewIndexBatch and
// ledger.Batch.IndexFresh).
func (db *DB) Index(ctx context.Context, entries []ledger.Entry) (ledger.IndexResult, error) {
	if len(entries) == 0 {
		return ledger.IndexResult{}, nil
	}
	b, res := ledger.NewIndexBatch(entries)
	if err := db.write(ctx, b, &res); err != nil {
		return ledger.IndexResult{}, fmt.Errorf("ledger index of %d entries: %w", len(entries), err)
	}
	return res, nil
}

// write stores b in one transaction. res nil is Append: a reused position
// fails it. Otherwise res gets the counts and flags (stamped with the
// store's clock and inserted in the transaction); it is only meaningful
// when write returns nil.
func (db *DB) write(ctx context.Context, b *ledger.Batch, res *ledger.IndexResult) error {
	if err := db.stmts.prepare(ctx, db.w); err != nil {
		return fmt.Errorf("preparing inserts: %w", classify(ctx, err))
	}
	base := ledger.IndexResult{}
	if res != nil {
		base = *res
	}
	return db.withTx(ctx, func(tx *sql.Tx) error {
		if res != nil {
			*res = base // withTx does not retry, but keep a failed attempt's counts out
		}
		if err := db.appendTx(ctx, tx, b, res); err != nil {
			return err
		}
		if res == nil || len(res.Flagged) == 0 {
			return nil
		}
		now := db.cfg.Now().UTC()
		for i := range res.Flagged {
			res.Flagged[i].FlaggedAt = now
		}
		return insertFlags(ctx, tx, res.Flagged)
	})
}

func (db *DB) appendTx(ctx context.Context, tx *sql.Tx, b *ledger.Batch, res *ledger.IndexResult) error {
	w := rowWriter{db: db, tx: tx}
	now := db.cfg.Now()
	for _, c := range b.Chains {
		head := ledger.Head{MaxOffset: -1}
		chain, dataset := int64(0), ""
		err := tx.QueryRowContext(ctx, `SELECT id, dataset FROM ledger_chains WHERE topic = ? AND partition = ?`,
			c.Topic, c.Partition).Scan(&chain, &dataset)
		if err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("reading chain id of %s: %w", c, err)
		}
		if chain != 0 {
			// The chain's entries are the row ids (chain << 40) | seq.
			err := tx.QueryRowContext(ctx, `SELECT id, hash FROM ledger_entries WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 1`,
				rowID(chain, 0), rowID(chain, seqMask)).Scan(&head.Seq, &head.Hash)
			if err != nil && err != sql.ErrNoRows {
				return fmt.Errorf("reading head of %s: %w", c, err)
			}
			head.Seq &= seqMask
			if err := tx.QueryRowContext(ctx, `SELECT coalesce(max("offset"), -1) FROM ledger_entries WHERE chain = ?`,
				chain).Scan(&head.MaxOffset); err != nil {
				return fmt.Errorf("reading head of %s: %w", c, err)
			}
		}
		fresh, err := freshEntries(ctx, tx, b, c, chain, head.MaxOffset, res)
		if err != nil {
			return err
		}
		if len(fresh) == 0 {
			continue
		}
		// Query by delivery id relies on ledger_chains listing every chain
		// with entries: the chain is registered in the transaction that
		// inserts its first entry, with that entry's dataset.
		if chain == 0 {
			dataset = fresh[0].Dataset
			if err := tx.QueryRowContext(ctx, `INSERT INTO ledger_chains (topic, partition, dataset, created_us) VALUES (?, ?, ?, ?) RETURNING id`,
				c.Topic, c.Partition, dataset, now.UnixMicro()).Scan(&chain); err != nil {
				return fmt.Errorf("registering chain %s: %w", c, err)
			}
		}
		if chain > maxChain {
			return fmt.Errorf("registering chain %s: chain id %d beyond %d", c, chain, maxChain)
		}
		if head.Seq+int64(len(fresh)) > seqMask {
			return fmt.Errorf("chain %s: seq beyond %d", c, int64(seqMask))
		}
		head = ledger.Link(head, fresh)
		if err := w.insert(ctx, chain, dataset, fresh); err != nil {
			return fmt.Errorf("inserting entries of %s: %w", c, err)
		}
		if err := db.checkpoint(ctx, tx, c, head, now); err != nil {
			return err
		}
	}
	return nil
}

// checkpoint writes a signed checkpoint of chain c at head when it is
// CheckpointEvery or more past its last one (none without a signing key).
func (db *DB) checkpoint(ctx context.Context, tx *sql.Tx, c ledger.Chain, head ledger.Head, now time.Time) error {
	if db.cfg.SigningKey == nil {
		return nil
	}
	var lastCP int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM ledger_checkpoints WHERE topic = ? AND partition = ?`,
		c.Topic, c.Partition).Scan(&lastCP); err != nil {
		return fmt.Errorf("reading last checkpoint of %s: %w", c, err)
	}
	if head.Seq-lastCP < db.cfg.CheckpointEvery {
		return nil
	}
	cp := ledger.Checkpoint{Topic: c.Topic, Partition: c.Partition, Seq: head.Seq, Hash: head.Hash}
	ledger.SignCheckpoint(&cp, db.cfg.SigningKey, now)
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_checkpoints (topic, partition, seq, hash, signed_at_us, key_id, public_key, signature)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, cp.Topic, cp.Partition, cp.Seq, cp.Hash, cp.Time.UnixMicro(), cp.KeyID, cp.PublicKey, cp.Signature); err != nil {
		return fmt.Errorf("writing checkpoint of %s: %w", c, err)
	}
	return nil
}

// freshEntries returns the entries of chain c (id chain, 0 when it has none
// yet) in b that it does not hold yet: ledger.Batch.Fresh, or IndexFresh
// adding to res when res is not nil. An offset above the chain's highest
// stored offset is new; for the others one range query over the (chain,
// offset) index answers.
func freshEntries(ctx context.Context, tx *sql.Tx, b *ledger.Batch, c ledger.Chain, chain int64, maxStored int64, res *ledger.IndexResult) ([]*ledger.Entry, error) {
	es := b.Entries[c]
	lo, hi := int64(-1), int64(-1)
	for _, e := range es {
		if e.Offset <= maxStored {
			if lo < 0 || e.Offset < lo {
				lo = e.Offset
			}
			hi = max(hi, e.Offset)
		}
	}
	if hi < 0 {
		if res != nil {
			res.Stored += len(es)
		}
		return es, nil
	}
	stored, err := payloadHashes(ctx, tx, chain, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("reading stored offsets of %s: %w", c, err)
	}
	if res == nil {
		return b.Fresh(c, stored, maxStored)
	}
	fresh, dups, flags := b.IndexFresh(c, stored, maxStored)
	res.Stored += len(fresh)
	res.Duplicates += dups
	res.Flagged = append(res.Flagged, flags...)
	return fresh, nil
}

// payloadHashes reads the payload hashes of chain id chain's entries with
// offsets in [lo, hi] (the UNIQUE (chain, offset) index).
func payloadHashes(ctx context.Context, q querier, chain, lo, hi int64) (map[int64][]byte, error) {
	rows, err := q.QueryContext(ctx, `SELECT "offset", fields FROM ledger_entries WHERE chain = ? AND "offset" BETWEEN ? AND ?`,
		chain, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]byte{}
	for rows.Next() {
		var (
			o      int64
			fields []byte
		)
		if err := rows.Scan(&o, &fields); err != nil {
			return nil, err
		}
		f, err := decodeFields(fields)
		if err != nil {
			return nil, fmt.Errorf("entry at offset %d: %w", o, err)
		}
		out[o] = f.payloadHash
	}
	return out, rows.Err()
}

// highestOffsetQuery takes the chain id as a subquery, not a join, so that
// max() is one lookup at the end of the (chain, offset) index (TestQueryPlans).
const highestOffsetQuery = `SELECT coalesce(max("offset"), -1) FROM ledger_entries
	WHERE chain = (SELECT id FROM ledger_chains WHERE topic = ? AND partition = ?)`

// HighestOffset implements ledger.PositionReader.
func (db *DB) HighestOffset(ctx context.Context, c ledger.Chain) (int64, error) {
	var max int64
	err := db.r.QueryRowContext(ctx, highestOffsetQuery, c.Topic, c.Partition).Scan(&max)
	if err != nil {
		return 0, fmt.Errorf("reading the highest offset of %s: %w", c, classify(ctx, err))
	}
	return max, nil
}

// PayloadHashes implements ledger.PositionReader.
func (db *DB) PayloadHashes(ctx context.Context, c ledger.Chain, from, to int64) (map[int64][]byte, error) {
	if err := ledger.CheckPositionRange(from, to); err != nil {
		return nil, err
	}
	var chain int64
	err := db.r.QueryRowContext(ctx, `SELECT id FROM ledger_chains WHERE topic = ? AND partition = ?`,
		c.Topic, c.Partition).Scan(&chain)
	if err == sql.ErrNoRows {
		return map[int64][]byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading payload hashes of %s: %w", c, classify(ctx, err))
	}
	out, err := payloadHashes(ctx, db.r, chain, from, to)
	if err != nil {
		return nil, fmt.Errorf("reading payload hashes of %s: %w", c, classify(ctx, err))
	}
	return out, nil
}

// blob stores nil as NULL and anything else as a BLOB.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

type scanner interface{ Scan(dest ...any) error }

func scanEntry(r scanner, e *ledger.Entry) error {
	var (
		id               int64
		decision         string
		reasons, dl, sk  []byte
		decisionUS       int64
		subjH, raw, hash []byte
	)
	if err := r.Scan(&e.Topic, &e.Partition, &e.Offset, &id, &e.Dataset, &decision,
		&reasons, &dl, &sk, &e.PlanVersion, &subjH, &decisionUS, &raw, &hash); err != nil {
		return err
	}
	f, err := decodeFields(raw)
	if err != nil {
		return fmt.Errorf("entry %s/%d@%d: %w", e.Topic, e.Partition, e.Offset, err)
	}
	e.Seq = id & seqMask
	e.KeyHash, e.PayloadHash, e.SubjectHash, e.PrevHash, e.Hash = f.keyHash, f.payloadHash, subjH, f.prevHash, hash
	e.SchemaID = int(f.schemaID)
	e.Decision = ledger.Decision(decision)
	e.Reasons, e.Deliveries, e.Skips = nil, nil, nil
	var dls [][]string
	var sks [][]string
	// Empty lists are NULL (rows written before migration 0005: []).
	for _, l := range []struct {
		name string
		raw  []byte
		dst  any
	}{{"reasons", reasons, &e.Reasons}, {"deliveries", dl, &dls}, {"skips", sk, &sks}} {
		if l.raw == nil {
			continue
		}
		if err := json.Unmarshal(l.raw, l.dst); err != nil {
			return fmt.Errorf("entry %s/%d@%d %s: %w", e.Topic, e.Partition, e.Offset, l.name, err)
		}
	}
	if len(e.Reasons) == 0 {
		e.Reasons = nil
	}
	for _, d := range dls {
		if len(d) != 3 && len(d) != 4 {
			return fmt.Errorf("entry %s/%d@%d: malformed delivery", e.Topic, e.Partition, e.Offset)
		}
		dv := ledger.Delivery{AgreementID: d[0], Topic: d[1], DeliveryID: d[2]}
		if len(d) == 4 {
			dv.ContentHash = d[3]
		}
		e.Deliveries = append(e.Deliveries, dv)
	}
	for _, s := range sks {
		if len(s) != 2 {
			return fmt.Errorf("entry %s/%d@%d: malformed skip", e.Topic, e.Partition, e.Offset)
		}
		e.Skips = append(e.Skips, ledger.Skip{AgreementID: s[0], Reason: s[1]})
	}
	e.EventTime = time.Time{}
	if f.hasEvent {
		e.EventTime = time.UnixMicro(f.eventUS).UTC()
	}
	e.DecisionTime = time.UnixMicro(decisionUS).UTC()
	return nil
}

// Chains lists every chain with entries or checkpoints.
func (db *DB) Chains(ctx context.Context) ([]ledger.Chain, error) {
	return db.listChains(ctx, `SELECT topic, partition FROM ledger_chains
		UNION SELECT topic, partition FROM ledger_checkpoints ORDER BY 1, 2`)
}

// listChains runs a query of (topic, partition) rows.
func (db *DB) listChains(ctx context.Context, query string) ([]ledger.Chain, error) {
	rows, err := db.r.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []ledger.Chain
	for rows.Next() {
		var c ledger.Chain
		if err := rows.Scan(&c.Topic, &c.Partition); err != nil {
			return nil, fmt.Errorf("listing chains: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing chains: %w", classify(ctx, err))
	}
	return out, nil
}

// chainEntriesSQL selects the entries of chain ?1/?2 in seq order: the row
// ids (chain << 40) | seq in order, a range of the table.
var chainEntriesSQL = selectEntry + ` WHERE e.id BETWEEN (SELECT id FROM ledger_chains WHERE topic = ?1 AND partition = ?2) << 40
	AND ((SELECT id FROM ledger_chains WHERE topic = ?1 AND partition = ?2) << 40) | ` + fmt.Sprint(seqMask) + ` ORDER BY e.id`

// ChainEntries streams a chain's entries in seq order.
func (db *DB) ChainEntries(ctx context.Context, c ledger.Chain, fn func(*ledger.Entry) error) error {
	rows, err := db.r.QueryContext(ctx, chainEntriesSQL, c.Topic, c.Partition)
	if err != nil {
		return fmt.Errorf("reading chain %s: %w", c, classify(ctx, err))
	}
	defer rows.Close()
	return store.EachEntry(ctx, rows, classify, "reading chain "+c.String(),
		func(e *ledger.Entry) error { return scanEntry(rows, e) }, fn)
}

const selectCheckpoint = `SELECT topic, partition, seq, hash, signed_at_us, key_id, public_key, signature FROM ledger_checkpoints`

func (db *DB) checkpoints(ctx context.Context, where string, args []any, fn func(*ledger.Checkpoint) error) error {
	rows, err := db.r.QueryContext(ctx, selectCheckpoint+where+` ORDER BY topic, partition, seq`, args...)
	if err != nil {
		return fmt.Errorf("reading checkpoints: %w", classify(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		var cp ledger.Checkpoint
		var us int64
		if err := rows.Scan(&cp.Topic, &cp.Partition, &cp.Seq, &cp.Hash, &us, &cp.KeyID, &cp.PublicKey, &cp.Signature); err != nil {
			return fmt.Errorf("reading checkpoints: %w", err)
		}
		cp.Time = time.UnixMicro(us).UTC()
		if err := fn(&cp); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading checkpoints: %w", classify(ctx, err))
	}
	return nil
}

// ChainCheckpoints returns a chain's checkpoints in seq order.
func (db *DB) ChainCheckpoints(ctx context.Context, c ledger.Chain) ([]ledger.Checkpoint, error) {
	var out []ledger.Checkpoint
	err := db.checkpoints(ctx, ` WHERE topic = ? AND partition = ?`, []any{c.Topic, c.Partition}, func(cp *ledger.Checkpoint) error {
		out = append(out, *cp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chain %s: %w", c, err)
	}
	return out, nil
}

// Checkpoints calls fn with every checkpoint, chain by chain in seq order.
func (db *DB) Checkpoints(ctx context.Context, fn func(*ledger.Checkpoint) error) error {
	return db.checkpoints(ctx, "", nil, fn)
}

// Query answers an audit query. Every value is a bound parameter; the only
// SQL text chosen by the caller is the sort direction, from an allow-list.
func (db *DB) Query(ctx context.Context, q ledger.Query) (*ledger.Page, error) {
	cur, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	sqlText, args := querySQL(q, cur)
	rows, err := db.r.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", classify(ctx, err))
	}
	defer rows.Close()
	entries := []ledger.Entry{}
	err = store.EachEntry(ctx, rows, classify, "audit query",
		func(e *ledger.Entry) error { return scanEntry(rows, e) },
		func(e *ledger.Entry) error { entries = append(entries, *e); return nil })
	if err != nil {
		return nil, err
	}
	return q.PageOf(entries), nil
}

// conds collects the conditions of an audit query and their arguments, in
// the order of the statement's ? placeholders.
type conds struct {
	where []string
	args  []any
}

func (c *conds) add(cond string, a ...any) {
	c.where = append(c.where, cond)
	c.args = append(c.args, a...)
}

// querySQL is the statement and arguments of the audit query q, normalised
// (cur from q.Normalize).
func querySQL(q ledger.Query, cur *ledger.Cursor) (string, []any) {
	var c conds
	c.recordFilters(q)
	if q.DeliveryID != "" {
		c.deliveryIDFilter(q.DeliveryID)
	}
	c.timeAndPositionFilters(q)
	desc := q.Sort == ledger.SortTimeDesc
	if cur != nil {
		c.cursorFilter(cur, desc)
	}
	// Without statistics (nothing runs ANALYZE) the planner would rather
	// scan the table or the (chain, offset) index and sort every entry
	// selected; queries that do not name a position read the time index,
	// as they did when it held the whole order. A topic or delivery id
	// selects through the (chain, offset) index instead.
	// A data subject's entries are read through the subject index.
	sqlText := selectEntryByTime
	switch {
	case q.Topic != "" || q.DeliveryID != "":
		sqlText = selectEntry
	case q.SubjectHash != nil:
		sqlText = selectEntryBySubject
	}
	if len(c.where) > 0 {
		sqlText += " WHERE " + strings.Join(c.where, " AND ")
	}
	// The time index (decision_time_us alone) gives the first key; the
	// entries of one time value are sorted by the rest ("USE TEMP B-TREE
	// FOR LAST 3 TERMS OF ORDER BY"), so a page reads the time index from
	// its start and stops after its last time value (TestQueryPlans).
	if desc {
		sqlText += ` ORDER BY e.decision_time_us DESC, c.topic DESC, c.partition DESC, e."offset" DESC`
	} else {
		sqlText += ` ORDER BY e.decision_time_us, c.topic, c.partition, e."offset"`
	}
	sqlText += " LIMIT ?"
	return sqlText, append(c.args, q.Limit+1)
}

// recordFilters: dataset, agreement, consumer, decision and reason.
func (c *conds) recordFilters(q ledger.Query) {
	if q.Dataset != "" {
		c.add("coalesce(e.dataset, c.dataset) = ?", q.Dataset)
	}
	// Agreement and consumer read the entry's inline lists; like the other
	// filters without an index, they scan the rows a time range selects.
	if q.Agreement != "" {
		c.add(`(EXISTS (SELECT 1 FROM json_each(e.deliveries) d WHERE json_extract(d.value, '$[0]') = ?)
			OR EXISTS (SELECT 1 FROM json_each(e.skips) s WHERE json_extract(s.value, '$[0]') = ?))`, q.Agreement, q.Agreement)
	}
	if q.Consumer != "" {
		// ledger.Consumer: the consumer is what lies between "deliver." and
		// the next dot of the delivery topic, so it never holds a dot.
		if strings.Contains(q.Consumer, ".") {
			c.add("0")
		} else {
			prefix := names.DeliverPrefixOf(q.Consumer)
			c.add("EXISTS (SELECT 1 FROM json_each(e.deliveries) d WHERE substr(json_extract(d.value, '$[1]'), 1, length(?)) = ?)", prefix, prefix)
		}
	}
	if q.Decision != "" {
		// A literal (Normalize allowed only the three decisions): SQLite
		// uses the partial index of quarantined entries (migration 0013)
		// only for a literal.
		c.add("e.decision = '" + string(q.Decision) + "'")
	}
	if q.Reason != "" {
		c.add("EXISTS (SELECT 1 FROM json_each(e.reasons) r WHERE r.value = ?)", q.Reason)
	}
}

// deliveryIDFilter selects the entry holding delivery id. The id names its
// source partition and offset (ledger.DeliveryID); its tag stands for the
// agreement and source topic, which the id's presence in the entry's
// deliveries checks. The chains of that partition come from ledger_chains
// (a row per chain), so each candidate is an equality lookup on the UNIQUE
// (chain, "offset") index. EXPLAIN QUERY PLAN (TestDeliveryIDQueryPlan
// checks it, also with a time range, dataset or cursor):
//
//	SEARCH c USING INTEGER PRIMARY KEY (rowid=?)
//	LIST SUBQUERY 1
//	SCAN ledger_chains USING COVERING INDEX sqlite_autoindex_ledger_chains_1
//	REUSE LIST SUBQUERY 1
//	SEARCH e USING INDEX sqlite_autoindex_ledger_entries_1 (chain=? AND offset=?)
//	SCAN d EXISTS VIRTUAL TABLE INDEX 1:
//	USE TEMP B-TREE FOR ORDER BY
//
// (ledger_chains is scanned: partition is the second column of its key; it
// has a row per chain, not per entry.) Ids of entries written before this
// form (opaque ids, see doc.go) decode to no position or to one without
// them: not found.
func (c *conds) deliveryIDFilter(id string) {
	p, o, ok := ledger.LocateDelivery(id)
	if !ok {
		c.add("0")
		return
	}
	c.add(`e.chain IN (SELECT id FROM ledger_chains WHERE partition = ?) AND e."offset" = ?
			AND EXISTS (SELECT 1 FROM json_each(e.deliveries) d WHERE json_extract(d.value, '$[2]') = ?)`, p, o, id)
}

// timeAndPositionFilters: subject, decision time range, source position.
func (c *conds) timeAndPositionFilters(q ledger.Query) {
	if len(q.SubjectHash) > 0 {
		c.add("e.subject_hash = ?", q.SubjectHash)
	}
	if !q.From.IsZero() {
		c.add("e.decision_time_us >= ?", q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		c.add("e.decision_time_us < ?", q.To.UnixMicro())
	}
	// Topic and partition select chains; the (chain, "offset") index
	// finds their entries.
	switch {
	case q.Topic != "" && q.Partition != nil:
		c.add("e.chain IN (SELECT id FROM ledger_chains WHERE topic = ? AND partition = ?)", q.Topic, *q.Partition)
	case q.Topic != "":
		c.add("e.chain IN (SELECT id FROM ledger_chains WHERE topic = ?)", q.Topic)
	}
	if q.Offset != nil {
		c.add(`e."offset" = ?`, *q.Offset)
	}
}

// cursorFilter continues after the cursor's entry. The first condition
// bounds the scan of the time index; the second is the keyset order.
func (c *conds) cursorFilter(cur *ledger.Cursor, desc bool) {
	op := ">"
	if desc {
		op = "<"
	}
	c.add(`e.decision_time_us `+op+`= ? AND (e.decision_time_us, c.topic, c.partition, e."offset") `+op+` (?, ?, ?, ?)`,
		cur.Time.UnixMicro(), cur.Time.UnixMicro(), cur.Topic, cur.Partition, cur.Offset)
}
