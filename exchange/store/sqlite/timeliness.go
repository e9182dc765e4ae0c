package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// AddTimeliness raises last accepted times and adds daily aggregates (see
// sla.Store), in one transaction.
func (db *DB) AddTimeliness(ctx context.Context, last map[string]time.Time, daily []sla.Daily) error {
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		for ds, t := range last {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dataset_last_accepted (dataset, last_us) VALUES (?, ?)
				ON CONFLICT (dataset) DO UPDATE SET last_us = max(last_us, excluded.last_us)`, ds, t.UnixMicro()); err != nil {
				return err
			}
		}
		for i := range daily {
			d := &daily[i]
			if _, err := tx.ExecContext(ctx, `INSERT INTO sla_daily (day, dataset, agreement, records, on_time, stale, quarantined)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (day, dataset, agreement) DO UPDATE SET records = records + excluded.records,
					on_time = on_time + excluded.on_time, stale = stale + excluded.stale, quarantined = quarantined + excluded.quarantined`,
				d.Day, d.Dataset, d.Agreement, d.Records, d.OnTime, d.Stale, d.Quarantined); err != nil {
				return err
			}
			for k, n := range d.Lag {
				if n == 0 {
					continue
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO sla_daily_lag (day, dataset, agreement, bucket, count) VALUES (?, ?, ?, ?, ?)
					ON CONFLICT (day, dataset, agreement, bucket) DO UPDATE SET count = count + excluded.count`,
					d.Day, d.Dataset, d.Agreement, k, n); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding timeliness aggregates: %w", err)
	}
	return nil
}

// LastAccepted returns every dataset's last accepted decision time.
func (db *DB) LastAccepted(ctx context.Context) (map[string]time.Time, error) {
	out, err := db.lastTimes(ctx, `SELECT dataset, last_us FROM dataset_last_accepted`)
	if err != nil {
		return nil, fmt.Errorf("reading last accepted records: %w", err)
	}
	return out, nil
}

// AddDelivered raises agreements' last delivery times, in one transaction.
func (db *DB) AddDelivered(ctx context.Context, last map[string]time.Time) error {
	if len(last) == 0 {
		return nil
	}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		for ag, t := range last {
			if _, err := tx.ExecContext(ctx, `INSERT INTO agreement_last_delivered (agreement, last_us) VALUES (?, ?)
				ON CONFLICT (agreement) DO UPDATE SET last_us = max(last_us, excluded.last_us)`, ag, t.UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("raising last delivery times: %w", err)
	}
	return nil
}

// LastDelivered returns every agreement's last delivery decision time.
func (db *DB) LastDelivered(ctx context.Context) (map[string]time.Time, error) {
	out, err := db.lastTimes(ctx, `SELECT agreement, last_us FROM agreement_last_delivered`)
	if err != nil {
		return nil, fmt.Errorf("reading last deliveries: %w", err)
	}
	return out, nil
}

// lastTimes reads (id, microseconds) rows into a map.
func (db *DB) lastTimes(ctx context.Context, query string) (map[string]time.Time, error) {
	rows, err := db.r.QueryContext(ctx, query)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var ds string
		var us int64
		if err := rows.Scan(&ds, &us); err != nil {
			return nil, err
		}
		out[ds] = time.UnixMicro(us).UTC()
	}
	return out, classify(ctx, rows.Err())
}

// OpenSilence stores an open event unless its key exists.
func (db *DB) OpenSilence(ctx context.Context, e sla.Event) (bool, error) {
	var n int64
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO sla_events (dataset, agreement, start_us) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, e.Dataset, e.Agreement, e.Start.UnixMicro())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("opening the silence of %s: %w", e.Dataset, err)
	}
	return n == 1, nil
}

// CloseSilence ends an open event.
func (db *DB) CloseSilence(ctx context.Context, e sla.Event) (bool, error) {
	var n int64
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sla_events SET end_us = ?
			WHERE dataset = ? AND agreement = ? AND start_us = ? AND end_us IS NULL`,
			e.End.UnixMicro(), e.Dataset, e.Agreement, e.Start.UnixMicro())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("closing the silence of %s: %w", e.Dataset, err)
	}
	return n == 1, nil
}

// OpenSilences returns the open events.
func (db *DB) OpenSilences(ctx context.Context) ([]sla.Event, error) {
	return db.events(ctx, `SELECT dataset, agreement, start_us, end_us FROM sla_events WHERE end_us IS NULL
		ORDER BY dataset, agreement, start_us`)
}

// Events returns the events overlapping q's interval.
func (db *DB) Events(ctx context.Context, q sla.EventQuery) ([]sla.Event, error) {
	from, to := store.EventBounds(q)
	return db.events(ctx, `SELECT dataset, agreement, start_us, end_us FROM sla_events
		WHERE (? = '' OR dataset = ?) AND start_us < ? AND (end_us IS NULL OR end_us > ?)
		ORDER BY start_us, dataset, agreement`, q.Dataset, q.Dataset, to, from)
}

func (db *DB) events(ctx context.Context, query string, args ...any) ([]sla.Event, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading SLA events: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []sla.Event
	for rows.Next() {
		var e sla.Event
		var start int64
		var end sql.NullInt64
		if err := rows.Scan(&e.Dataset, &e.Agreement, &start, &end); err != nil {
			return nil, err
		}
		e.Start = time.UnixMicro(start).UTC()
		if end.Valid {
			e.End = time.UnixMicro(end.Int64).UTC()
		}
		out = append(out, e)
	}
	return out, classify(ctx, rows.Err())
}

// Daily returns the aggregates of q with their lag histograms.
func (db *DB) Daily(ctx context.Context, q sla.DailyQuery) ([]sla.Daily, error) {
	where, args := store.DailyWhere(q, func(int) string { return "?" })
	rows, err := db.r.QueryContext(ctx, `SELECT day, dataset, agreement, records, on_time, stale, quarantined FROM sla_daily`+where+
		` ORDER BY day, dataset, agreement`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading SLA aggregates: %w", classify(ctx, err))
	}
	var out []sla.Daily
	for rows.Next() {
		var d sla.Daily
		if err := rows.Scan(&d.Day, &d.Dataset, &d.Agreement, &d.Records, &d.OnTime, &d.Stale, &d.Quarantined); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, classify(ctx, err)
	}
	lags, err := db.r.QueryContext(ctx, `SELECT day, dataset, agreement, bucket, count FROM sla_daily_lag`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading SLA lag histograms: %w", classify(ctx, err))
	}
	defer lags.Close()
	idx := store.DailyIndex(out)
	for lags.Next() {
		var k store.DailyKey
		var bucket int
		var n int64
		if err := lags.Scan(&k.Day, &k.Dataset, &k.Agreement, &bucket, &n); err != nil {
			return nil, err
		}
		store.AddLag(out, idx, k, bucket, n)
	}
	return out, classify(ctx, lags.Err())
}

// AddNotices stores notices and sets their ids.
func (db *DB) AddNotices(ctx context.Context, ns []sla.Notice) error {
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		for i := range ns {
			body, err := json.Marshal(&ns[i])
			if err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `INSERT INTO notices (agency, at_us, kind, body) VALUES (?, ?, ?, ?) RETURNING id`,
				ns[i].Agency, ns[i].At.UnixMicro(), ns[i].Kind, string(body)).Scan(&ns[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing %d notices: %w", len(ns), err)
	}
	return nil
}

// Notices returns an agency's notices of q.
func (db *DB) Notices(ctx context.Context, q sla.NoticeQuery) ([]sla.Notice, error) {
	q = store.NormalizeNoticeQuery(q)
	rows, err := db.r.QueryContext(ctx, `SELECT id, body FROM notices WHERE agency = ? AND id > ? AND at_us >= ?
		ORDER BY id LIMIT ?`, q.Agency, q.After, store.Micros(q.Since), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("reading notices of %s: %w", q.Agency, classify(ctx, err))
	}
	defer rows.Close()
	var out []sla.Notice
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		n, err := store.ParseNotice(id, body)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, classify(ctx, rows.Err())
}
