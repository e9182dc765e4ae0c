package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/exchange-gov/exchange/exchange/failpoint"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// entryColumns are the columns of a COPY row (appendCopyRow), in order.
var entryColumns = []string{
	"chain", "offset", "seq", "key_hash", "payload_hash", "schema_id",
	"decision", "reasons", "delivery_agreements", "delivery_topics", "delivery_ids",
	"skip_agreements", "skip_reasons", "plan_version", "subject_hash", "event_time_us", "decision_time",
	"prev_hash", "hash", "delivery_terms",
}

var copyColumns = func() string {
	q := make([]string, len(entryColumns))
	for i, c := range entryColumns {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}()

// selectEntry reads entries (alias e) with their chain (alias c).
const selectEntry = `SELECT c.topic, c.partition, e."offset", e.seq, c.dataset, e.key_hash, e.payload_hash, e.schema_id,
	e.decision, e.reasons, e.delivery_agreements, e.delivery_topics, e.delivery_ids,
	e.skip_agreements, e.skip_reasons, e.plan_version, e.subject_hash, e.event_time_us, e.decision_time,
	e.prev_hash, e.hash, e.delivery_terms FROM ledger_entries e JOIN ledger_chains c ON c.id = e.chain`

// chainRow is a ledger_chains row: the chain's id in entries and its dataset.
type chainRow struct {
	id      int32
	dataset string
}

// chainOf returns the ledger_chains row of c, creating it with dataset when
// it does not exist.
func (db *DB) chainOf(ctx context.Context, c ledger.Chain, dataset string) (chainRow, error) {
	if r, ok, err := db.lookupChain(ctx, c); ok || err != nil {
		return r, err
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO ledger_chains (topic, partition, dataset) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		c.Topic, c.Partition, dataset); err != nil {
		return chainRow{}, fmt.Errorf("registering chain %s: %w", c, classify(ctx, err))
	}
	r, ok, err := db.lookupChain(ctx, c)
	if err == nil && !ok {
		err = fmt.Errorf("registering chain %s: not found after insert", c)
	}
	return r, err
}

// lookupChain returns the ledger_chains row of c; ok is false when there
// is none. Rows never change, so they are cached.
func (db *DB) lookupChain(ctx context.Context, c ledger.Chain) (r chainRow, ok bool, err error) {
	db.chainMu.Lock()
	r, ok = db.chains[c]
	db.chainMu.Unlock()
	if ok {
		return r, true, nil
	}
	err = db.pool.QueryRow(ctx, `SELECT id, dataset FROM ledger_chains WHERE topic = $1 AND partition = $2`, c.Topic, c.Partition).Scan(&r.id, &r.dataset)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("reading chain %s: %w", c, classify(ctx, err))
	}
	db.chainMu.Lock()
	db.chains[c] = r
	db.chainMu.Unlock()
	return r, true, nil
}

// chainLockKey is the pg_advisory_xact_lock key of a chain. A collision only
// serialises two unrelated chains.
func chainLockKey(c ledger.Chain) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "exchange.ledger.chain\x00%s\x00%d", c.Topic, c.Partition)
	return int64(h.Sum64())
}

// maxAppendAttempts bounds retries of a batch that lost a race (deadlock,
// serialization failure, unique violation).
const maxAppendAttempts = 5

// Append stores entries (see ledger.Appender). One transaction per call:
// each chain of the batch is locked with pg_advisory_xact_lock (in key
// order, so writers never deadlock), its head and highest offset re-read
// under the lock, entries already stored are dropped, the rest linked and
// written with COPY, and a signed checkpoint added per chain. The
// per-partition unique indexes on (topic, partition, seq) and (topic,
// partition, offset) are the last guard against a fork.
//
// Statements are pipelined — BEGIN with the locks and head reads, then
// COPY, then the checkpoints with COMMIT — so an append costs about three
// round trips.
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
// ledger.Batch.IndexFresh; here also an entry whose dataset is not its
// chain's).
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
// or an entry of another dataset than its chain fails it. Otherwise res
// gets the counts and flags; it is only meaningful when write returns nil.
func (db *DB) write(ctx context.Context, b *ledger.Batch, res *ledger.IndexResult) error {
	ids, err := db.chainIDs(ctx, b, res)
	if err != nil {
		return err
	}
	target, err := db.copyTarget(ctx, b)
	if err != nil {
		return err
	}
	return db.appendRetrying(ctx, b, ids, target, res)
}

// chainIDs returns the id of every chain of b, registering new ones. A
// chain's dataset is stored once, on the chain: an entry of another
// dataset fails an append (res nil) and is flagged invalid and left out of
// b otherwise.
func (db *DB) chainIDs(ctx context.Context, b *ledger.Batch, res *ledger.IndexResult) (map[ledger.Chain]int32, error) {
	ids := make(map[ledger.Chain]int32, len(b.Chains))
	for _, c := range b.Chains {
		es := b.Entries[c]
		r, err := db.chainOf(ctx, c, es[0].Dataset)
		if err != nil {
			return nil, err
		}
		var kept []*ledger.Entry // nil while every entry is kept
		for i, e := range es {
			if e.Dataset == r.dataset {
				if kept != nil {
					kept = append(kept, e)
				}
				continue
			}
			err := fmt.Errorf("%w: %s/%d@%d: dataset %q, but chain %s holds dataset %q", ledger.ErrInvalidEntry, e.Topic, e.Partition, e.Offset, e.Dataset, c, r.dataset)
			if res == nil {
				return nil, err
			}
			res.Flagged = append(res.Flagged, ledger.NewFlag(e, ledger.FlagInvalid, err.Error()))
			if kept == nil {
				kept = append(make([]*ledger.Entry, 0, len(es)), es[:i]...)
			}
		}
		if kept != nil {
			b.Entries[c] = kept
		}
		ids[c] = r.id
	}
	return ids, nil
}

// copyTarget returns the table b's entries are copied into, creating the
// months' partitions. A batch within one month (the usual case) is copied
// straight into that month's table, which spares the server routing every
// row. One transaction for the whole batch: splitting it per chain keeps
// more server backends busy when the machine is idle, but costs a
// transaction each, which is what counts once it is not.
func (db *DB) copyTarget(ctx context.Context, b *ledger.Batch) (string, error) {
	target := "ledger_entries"
	months := map[int64]bool{}
	for _, c := range b.Chains {
		for _, e := range b.Entries[c] {
			m := monthOf(e.DecisionTime)
			if months[m.Unix()] {
				continue
			}
			months[m.Unix()] = true
			name, err := db.ensurePartition(ctx, m)
			if err != nil {
				return "", err
			}
			target = name
		}
	}
	if len(months) > 1 {
		target = "ledger_entries"
	}
	return target, nil
}

// appendRetrying appends b, retrying lost races (deadlock, serialization
// failure, unique violation). Each attempt starts res over from its value
// on entry.
func (db *DB) appendRetrying(ctx context.Context, b *ledger.Batch, ids map[ledger.Chain]int32, target string, res *ledger.IndexResult) error {
	var base ledger.IndexResult
	if res != nil {
		base = *res
	}
	var err error
	for attempt := 1; ; attempt++ {
		if res != nil {
			*res = base
			res.Flagged = append([]ledger.Flag(nil), base.Flagged...)
		}
		err = db.appendOnce(ctx, b, ids, target, res)
		if err == nil || attempt == maxAppendAttempts || !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return classify(ctx, err)
	}
	return nil
}

// chainState is one chain of an append batch inside appendOnce's
// transaction: its head as read under the lock, its last checkpoint's seq
// and the entries of the batch it does not hold yet.
type chainState struct {
	chain  ledger.Chain
	id     int32
	head   ledger.Head
	lastCP int64
	fresh  []*ledger.Entry
}

// appendOnce is one attempt at appending b in one transaction on one
// connection, in this order: BEGIN, the chain locks and head reads
// (lockChains); the reads of stored offsets (dropStored); COPY of the fresh
// entries (copyFresh); the checkpoints and COMMIT (commitChains).
func (db *DB) appendOnce(ctx context.Context, b *ledger.Batch, ids map[ledger.Chain]int32, target string, res *ledger.IndexResult) (err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left inside a transaction is destroyed by Release; try a
	// ROLLBACK first so it can be reused.
	defer func() {
		if err != nil && !conn.Conn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_, _ = conn.Exec(rctx, "ROLLBACK")
			cancel()
		}
		conn.Release()
	}()

	states := make([]*chainState, len(b.Chains))
	for i, c := range b.Chains {
		states[i] = &chainState{chain: c, id: ids[c]}
	}
	if err := lockChains(ctx, conn, states); err != nil {
		return err
	}
	for _, s := range states {
		if err := s.dropStored(ctx, conn, b, res); err != nil {
			return err
		}
	}
	if err := copyFresh(ctx, conn, states, target); err != nil {
		return err
	}
	var flags []ledger.Flag
	if res != nil {
		now := db.cfg.Now().UTC()
		for i := range res.Flagged {
			res.Flagged[i].FlaggedAt = now
		}
		flags = res.Flagged
	}
	return db.commitChains(ctx, conn, states, flags)
}

// lockChains begins the transaction, locks every chain of the batch in key
// order, then reads each chain's head, highest offset and last checkpoint:
// one pipelined round trip.
func lockChains(ctx context.Context, conn *pgxpool.Conn, states []*chainState) error {
	keys := make([]int64, 0, len(states))
	for _, s := range states {
		keys = append(keys, chainLockKey(s.chain))
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	q := &pgx.Batch{}
	q.Queue("BEGIN")
	for i, k := range keys {
		if i > 0 && k == keys[i-1] {
			continue
		}
		q.Queue(`SELECT pg_advisory_xact_lock($1)`, k)
	}
	for _, s := range states {
		s.queueHeadReads(q)
	}
	if err := conn.SendBatch(ctx, q).Close(); err != nil {
		return fmt.Errorf("locking chains: %w", err)
	}
	return nil
}

// queueHeadReads queues the reads of s's head, highest offset and last
// checkpoint seq into s.
func (s *chainState) queueHeadReads(q *pgx.Batch) {
	s.head.MaxOffset = -1
	q.Queue(`SELECT seq, hash FROM ledger_entries WHERE chain = $1 ORDER BY seq DESC LIMIT 1`,
		s.id).QueryRow(func(r pgx.Row) error {
		err := r.Scan(&s.head.Seq, &s.head.Hash)
		if err == pgx.ErrNoRows {
			return nil
		}
		return err
	})
	q.Queue(`SELECT coalesce(max("offset"), -1) FROM ledger_entries WHERE chain = $1`,
		s.id).QueryRow(func(r pgx.Row) error { return r.Scan(&s.head.MaxOffset) })
	q.Queue(`SELECT coalesce(max(seq), 0) FROM ledger_checkpoints WHERE topic = $1 AND partition = $2`,
		s.chain.Topic, s.chain.Partition).QueryRow(func(r pgx.Row) error { return r.Scan(&s.lastCP) })
}

// dropStored sets s.fresh to the entries of b's chain s the chain does not
// hold yet (ledger.Batch.Fresh, or IndexFresh adding to res when res is not
// nil): an offset above the chain's highest is new; at or below it, ask.
func (s *chainState) dropStored(ctx context.Context, conn *pgxpool.Conn, b *ledger.Batch, res *ledger.IndexResult) (err error) {
	var maybe []int64
	for _, e := range b.Entries[s.chain] {
		if e.Offset <= s.head.MaxOffset {
			maybe = append(maybe, e.Offset)
		}
	}
	stored := map[int64][]byte{}
	if len(maybe) > 0 {
		rows, err := conn.Query(ctx, `SELECT "offset", payload_hash FROM ledger_entries WHERE chain = $1 AND "offset" = ANY($2)`,
			s.id, maybe)
		if err != nil {
			return fmt.Errorf("reading stored offsets of %s: %w", s.chain, err)
		}
		if err := collectHashes(rows, stored); err != nil {
			return fmt.Errorf("reading stored offsets of %s: %w", s.chain, err)
		}
	}
	if res == nil {
		s.fresh, err = b.Fresh(s.chain, stored, s.head.MaxOffset)
		return err
	}
	fresh, dups, flags := b.IndexFresh(s.chain, stored, s.head.MaxOffset)
	s.fresh = fresh
	res.Stored += len(fresh)
	res.Duplicates += dups
	res.Flagged = append(res.Flagged, flags...)
	return nil
}

// copyFresh links every chain's fresh entries after its head and writes
// them all with one binary COPY into target; nothing when none is fresh.
func copyFresh(ctx context.Context, conn *pgxpool.Conn, states []*chainState, target string) error {
	n := 0
	for _, s := range states {
		n += len(s.fresh)
	}
	if n == 0 {
		return nil
	}
	buf := append(make([]byte, 0, 512*n), copySignature...)
	for _, s := range states {
		for _, e := range s.fresh {
			s.head.Extend(e)
			buf = appendCopyRow(buf, s.id, e)
		}
	}
	buf = appendCopyTrailer(buf)
	tag, err := conn.Conn().PgConn().CopyFrom(ctx, io.MultiReader(bytes.NewReader(buf[:len(buf)/2]), failpoint.Reader("index_mid_copy"), bytes.NewReader(buf[len(buf)/2:])),
		"COPY "+pgx.Identifier{target}.Sanitize()+" ("+copyColumns+") FROM STDIN (FORMAT binary)")
	if err != nil {
		return fmt.Errorf("copying entries: %w", err)
	}
	if tag.RowsAffected() != int64(n) {
		return fmt.Errorf("copying entries: %d of %d rows copied", tag.RowsAffected(), n)
	}
	return nil
}

// commitChains writes the signed checkpoints the chains are due and flags
// and commits, in one pipelined round trip. Nothing new (a retry or a
// re-processed batch) still commits, to release the locks; the transaction
// wrote nothing.
func (db *DB) commitChains(ctx context.Context, conn *pgxpool.Conn, states []*chainState, flags []ledger.Flag) error {
	end := &pgx.Batch{}
	db.queueCheckpoints(end, states)
	queueFlags(end, flags)
	end.Queue("COMMIT")
	br := conn.SendBatch(ctx, end)
	for i := 0; i < end.Len()-1; i++ {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("writing chains and checkpoints: %w", err)
		}
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	// COMMIT of an aborted transaction answers ROLLBACK without an error.
	if tag.String() != "COMMIT" {
		return fmt.Errorf("committing: server answered %q", tag.String())
	}
	return nil
}

// queueCheckpoints queues a signed checkpoint for each chain that got
// entries and is CheckpointEvery or more past its last one (none without a
// signing key).
func (db *DB) queueCheckpoints(end *pgx.Batch, states []*chainState) {
	if db.cfg.SigningKey == nil {
		return
	}
	now := db.cfg.Now()
	for _, s := range states {
		if len(s.fresh) == 0 || s.head.Seq-s.lastCP < db.cfg.CheckpointEvery {
			continue
		}
		cp := ledger.Checkpoint{Topic: s.chain.Topic, Partition: s.chain.Partition, Seq: s.head.Seq, Hash: s.head.Hash}
		ledger.SignCheckpoint(&cp, db.cfg.SigningKey, now)
		end.Queue(`INSERT INTO ledger_checkpoints (topic, partition, seq, hash, signed_at, key_id, public_key, signature)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			cp.Topic, cp.Partition, cp.Seq, cp.Hash, cp.Time, cp.KeyID, cp.PublicKey, cp.Signature)
	}
}

// scanEntry reads a row of selectEntry into e. Delivery ids are not stored
// (delivery_ids is NULL) when they are what ledger.DeliveryID derives, which
// appends check; rows written before migration 0004 keep theirs.
func scanEntry(r pgx.Row, e *ledger.Entry, tags ledger.TagCache) error {
	var (
		schemaID                int32
		decision                string
		agrs, tops, ids, sa, sr []string
		terms                   []string
		evt                     *int64
	)
	if err := r.Scan(&e.Topic, &e.Partition, &e.Offset, &e.Seq, &e.Dataset, &e.KeyHash, &e.PayloadHash, &schemaID,
		&decision, &e.Reasons, &agrs, &tops, &ids, &sa, &sr, &e.PlanVersion, &e.SubjectHash, &evt, &e.DecisionTime,
		&e.PrevHash, &e.Hash, &terms); err != nil {
		return err
	}
	e.SchemaID = int(schemaID)
	e.Decision = ledger.Decision(decision)
	if len(e.Reasons) == 0 {
		e.Reasons = nil
	}
	derived := ids == nil
	if len(agrs) != len(tops) || !derived && len(agrs) != len(ids) || terms != nil && len(agrs) != len(terms) || len(sa) != len(sr) {
		return fmt.Errorf("entry %s/%d@%d: delivery or skip columns differ in length", e.Topic, e.Partition, e.Offset)
	}
	e.Deliveries = nil
	for i := range agrs {
		d := ledger.Delivery{AgreementID: agrs[i], Topic: tops[i]}
		if derived {
			d.DeliveryID = string(tags.AppendDeliveryID(nil, d.AgreementID, e.Topic, e.Partition, e.Offset))
		} else {
			d.DeliveryID = ids[i]
		}
		if terms != nil {
			d.ContentHash = terms[i]
		}
		e.Deliveries = append(e.Deliveries, d)
	}
	e.Skips = nil
	for i := range sa {
		e.Skips = append(e.Skips, ledger.Skip{AgreementID: sa[i], Reason: sr[i]})
	}
	e.EventTime = time.Time{}
	if evt != nil {
		e.EventTime = time.UnixMicro(*evt).UTC()
	}
	e.DecisionTime = e.DecisionTime.UTC()
	return nil
}

// Chains lists every chain with entries or checkpoints.
func (db *DB) Chains(ctx context.Context) ([]ledger.Chain, error) {
	return db.listChains(ctx, `SELECT topic, partition FROM ledger_chains
		UNION SELECT DISTINCT topic, partition FROM ledger_checkpoints ORDER BY 1, 2`)
}

// listChains runs a query of (topic, partition) rows.
func (db *DB) listChains(ctx context.Context, query string) ([]ledger.Chain, error) {
	rows, err := db.pool.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledger.Chain, error) {
		var c ledger.Chain
		return c, r.Scan(&c.Topic, &c.Partition)
	})
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", classify(ctx, err))
	}
	return out, nil
}

// ChainEntries streams a chain's entries in seq order.
func (db *DB) ChainEntries(ctx context.Context, c ledger.Chain, fn func(*ledger.Entry) error) error {
	r, ok, err := db.lookupChain(ctx, c)
	if err != nil || !ok {
		return err
	}
	// By chain id, so each month's (chain, seq) index is read in order.
	rows, err := db.pool.Query(ctx, selectEntry+` WHERE e.chain = $1 ORDER BY e.seq, e."offset"`, r.id)
	if err != nil {
		return fmt.Errorf("reading chain %s: %w", c, classify(ctx, err))
	}
	defer rows.Close()
	tags := ledger.TagCache{}
	return store.EachEntry(ctx, rows, classify, "reading chain "+c.String(),
		func(e *ledger.Entry) error { return scanEntry(rows, e, tags) }, fn)
}

const selectCheckpoint = `SELECT topic, partition, seq, hash, signed_at, key_id, public_key, signature FROM ledger_checkpoints`

func scanCheckpoint(r pgx.CollectableRow) (ledger.Checkpoint, error) {
	var cp ledger.Checkpoint
	err := r.Scan(&cp.Topic, &cp.Partition, &cp.Seq, &cp.Hash, &cp.Time, &cp.KeyID, &cp.PublicKey, &cp.Signature)
	cp.Time = cp.Time.UTC()
	return cp, err
}

// ChainCheckpoints returns a chain's checkpoints in seq order.
func (db *DB) ChainCheckpoints(ctx context.Context, c ledger.Chain) ([]ledger.Checkpoint, error) {
	rows, err := db.pool.Query(ctx, selectCheckpoint+` WHERE topic = $1 AND partition = $2 ORDER BY seq`, c.Topic, c.Partition)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints of %s: %w", c, classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, scanCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints of %s: %w", c, classify(ctx, err))
	}
	return out, nil
}

// Checkpoints calls fn with every checkpoint, chain by chain in seq order.
func (db *DB) Checkpoints(ctx context.Context, fn func(*ledger.Checkpoint) error) error {
	rows, err := db.pool.Query(ctx, selectCheckpoint+` ORDER BY topic, partition, seq`)
	if err != nil {
		return fmt.Errorf("reading checkpoints: %w", classify(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		cp, err := scanCheckpoint(rows)
		if err != nil {
			return fmt.Errorf("reading checkpoints: %w", err)
		}
		if err := fn(&cp); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading checkpoints: %w", classify(ctx, err))
	}
	return nil
}

// ChainAnchors returns the archive anchors of a chain (ledger.AnchorSource).
func (db *DB) ChainAnchors(ctx context.Context, c ledger.Chain) ([]ledger.Anchor, error) {
	rows, err := db.pool.Query(ctx, `SELECT up_to_seq, hash, partition_name, archived_at FROM ledger_archives
		WHERE topic = $1 AND partition = $2 ORDER BY up_to_seq`, c.Topic, c.Partition)
	if err != nil {
		return nil, fmt.Errorf("reading archive anchors of %s: %w", c, classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledger.Anchor, error) {
		a := ledger.Anchor{Chain: c}
		err := r.Scan(&a.UpToSeq, &a.Hash, &a.Archive, &a.ArchivedAt)
		a.ArchivedAt = a.ArchivedAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading archive anchors of %s: %w", c, classify(ctx, err))
	}
	return out, nil
}

// collectHashes reads (offset, payload_hash) rows into into.
func collectHashes(rows pgx.Rows, into map[int64][]byte) error {
	defer rows.Close()
	for rows.Next() {
		var (
			off int64
			h   []byte
		)
		if err := rows.Scan(&off, &h); err != nil {
			return err
		}
		into[off] = h
	}
	return rows.Err()
}

// highestOffsetQuery takes the chain id as a subquery, not a join, so that
// max() reads one index entry per month (a backward scan of each
// partition's (chain, offset) index), not the chain (TestHighestOffsetPlan).
const highestOffsetQuery = `SELECT coalesce(max("offset"), -1) FROM ledger_entries
	WHERE chain = (SELECT id FROM ledger_chains WHERE topic = $1 AND partition = $2)`

// HighestOffset implements ledger.PositionReader.
func (db *DB) HighestOffset(ctx context.Context, c ledger.Chain) (int64, error) {
	var max int64
	err := db.pool.QueryRow(ctx, highestOffsetQuery, c.Topic, c.Partition).Scan(&max)
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
	rows, err := db.pool.Query(ctx, `SELECT "offset", payload_hash FROM ledger_entries
		WHERE chain = (SELECT id FROM ledger_chains WHERE topic = $1 AND partition = $2) AND "offset" BETWEEN $3 AND $4`,
		c.Topic, c.Partition, from, to)
	if err != nil {
		return nil, fmt.Errorf("reading payload hashes of %s: %w", c, classify(ctx, err))
	}
	out := map[int64][]byte{}
	if err := collectHashes(rows, out); err != nil {
		return nil, fmt.Errorf("reading payload hashes of %s: %w", c, classify(ctx, err))
	}
	return out, nil
}
