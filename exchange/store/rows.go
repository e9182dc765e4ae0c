package store

import (
	"context"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// Rows is the part of a driver's result set EachEntry reads (pgx.Rows and
// *sql.Rows both have it).
type Rows interface {
	Next() bool
	Err() error
}

// Classify is a backend's mapping of its driver's errors: a lost or
// unreachable database comes back wrapping ledger.ErrUnavailable.
type Classify func(ctx context.Context, err error) error

// EachEntry is the read loop every backend runs for ChainEntries and audit
// queries: for each row of rows, scan fills one reused entry and fn is
// called with it (only valid during the call, as ledger.Source says).
// fn's error is returned as it is; a scan error, or the rows' own error
// after classify, is returned wrapped with what ("reading chain t/0").
func EachEntry(ctx context.Context, rows Rows, classify Classify, what string,
	scan func(*ledger.Entry) error, fn func(*ledger.Entry) error) error {
	e := new(ledger.Entry)
	for rows.Next() {
		if err := scan(e); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, classify(ctx, err))
	}
	return nil
}

// ScanRows is Rows that scans a row into values (pgx.Rows and *sql.Rows).
type ScanRows interface {
	Rows
	Scan(dest ...any) error
}

// ReadAccesses is the read loop of both backends' Accesses: rows of
// (at_us, who, purpose, query), in the order the query gave them.
func ReadAccesses(ctx context.Context, rows ScanRows, classify Classify) ([]Access, error) {
	var out []Access
	for rows.Next() {
		var a Access
		var us int64
		if err := rows.Scan(&us, &a.Who, &a.Purpose, &a.Query); err != nil {
			return nil, fmt.Errorf("reading the access log: %w", err)
		}
		a.At = time.UnixMicro(us).UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the access log: %w", classify(ctx, err))
	}
	return out, nil
}
