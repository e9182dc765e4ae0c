package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// LatestCheckpoint returns a chain's newest checkpoint, read from the end
// of its primary key (topic, partition, seq); ok is false when it has none.
func (db *DB) LatestCheckpoint(ctx context.Context, c ledger.Chain) (cp ledger.Checkpoint, ok bool, err error) {
	var us int64
	err = db.r.QueryRowContext(ctx, selectCheckpoint+` WHERE topic = ? AND partition = ? ORDER BY seq DESC LIMIT 1`, c.Topic, c.Partition).
		Scan(&cp.Topic, &cp.Partition, &cp.Seq, &cp.Hash, &us, &cp.KeyID, &cp.PublicKey, &cp.Signature)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, false, nil
	}
	if err != nil {
		return cp, false, fmt.Errorf("newest checkpoint of %s: %w", c, classify(ctx, err))
	}
	cp.Time = time.UnixMicro(us).UTC()
	return cp, true, nil
}

// EntryChains lists the chains that have entries, from the chains table
// alone (one row per topic-partition), by topic and partition.
func (db *DB) EntryChains(ctx context.Context) ([]ledger.Chain, error) {
	return db.listChains(ctx, `SELECT topic, partition FROM ledger_chains ORDER BY topic, partition`)
}
