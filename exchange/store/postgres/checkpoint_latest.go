package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// LatestCheckpoint returns a chain's newest checkpoint, read from the end
// of its primary key (topic, partition, seq); ok is false when it has none.
func (db *DB) LatestCheckpoint(ctx context.Context, c ledger.Chain) (ledger.Checkpoint, bool, error) {
	rows, err := db.pool.Query(ctx, selectCheckpoint+` WHERE topic = $1 AND partition = $2 ORDER BY seq DESC LIMIT 1`, c.Topic, c.Partition)
	if err != nil {
		return ledger.Checkpoint{}, false, fmt.Errorf("newest checkpoint of %s: %w", c, classify(ctx, err))
	}
	cps, err := pgx.CollectRows(rows, scanCheckpoint)
	if err != nil {
		return ledger.Checkpoint{}, false, fmt.Errorf("newest checkpoint of %s: %w", c, classify(ctx, err))
	}
	if len(cps) == 0 {
		return ledger.Checkpoint{}, false, nil
	}
	return cps[0], true, nil
}

// EntryChains lists the chains that have entries, from the chains table
// alone (one row per topic-partition), by topic and partition.
func (db *DB) EntryChains(ctx context.Context) ([]ledger.Chain, error) {
	return db.listChains(ctx, `SELECT topic, partition FROM ledger_chains ORDER BY topic, partition`)
}
