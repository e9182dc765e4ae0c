package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// AddTimeliness raises last accepted times and adds daily aggregates (see
// sla.Store), in one transaction sent as one batch.
func (db *DB) AddTimeliness(ctx context.Context, last map[string]time.Time, daily []sla.Daily) error {
	var b pgx.Batch
	for ds, t := range last {
		b.Queue(`INSERT INTO dataset_last_accepted (dataset, last_us) VALUES ($1, $2)
			ON CONFLICT (dataset) DO UPDATE SET last_us = GREATEST(dataset_last_accepted.last_us, excluded.last_us)`, ds, t.UnixMicro())
	}
	for i := range daily {
		d := &daily[i]
		b.Queue(`INSERT INTO sla_daily (day, dataset, agreement, records, on_time, stale, quarantined)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (day, dataset, agreement) DO UPDATE SET records = sla_daily.records + excluded.records,
				on_time = sla_daily.on_time + excluded.on_time, stale = sla_daily.stale + excluded.stale,
				quarantined = sla_daily.quarantined + excluded.quarantined`,
			d.Day, d.Dataset, d.Agreement, d.Records, d.OnTime, d.Stale, d.Quarantined)
		for k, n := range d.Lag {
			if n == 0 {
				continue
			}
			b.Queue(`INSERT INTO sla_daily_lag (day, dataset, agreement, bucket, count) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (day, dataset, agreement, bucket) DO UPDATE SET count = sla_daily_lag.count + excluded.count`,
				d.Day, d.Dataset, d.Agreement, k, n)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
	if err != nil {
		return fmt.Errorf("adding timeliness aggregates: %w", classify(ctx, err))
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

// AddDelivered raises agreements' last delivery times, in one transaction
// sent as one batch.
func (db *DB) AddDelivered(ctx context.Context, last map[string]time.Time) error {
	if len(last) == 0 {
		return nil
	}
	var b pgx.Batch
	for ag, t := range last {
		b.Queue(`INSERT INTO agreement_last_delivered (agreement, last_us) VALUES ($1, $2)
			ON CONFLICT (agreement) DO UPDATE SET last_us = GREATEST(agreement_last_delivered.last_us, excluded.last_us)`, ag, t.UnixMicro())
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
	if err != nil {
		return fmt.Errorf("raising last delivery times: %w", classify(ctx, err))
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
	rows, err := db.pool.Query(ctx, query)
	if err != nil {
		return nil, classify(ctx, err)
	}
	out := map[string]time.Time{}
	var id string
	var us int64
	_, err = pgx.ForEachRow(rows, []any{&id, &us}, func() error {
		out[id] = time.UnixMicro(us).UTC()
		return nil
	})
	if err != nil {
		return nil, classify(ctx, err)
	}
	return out, nil
}

// OpenSilence stores an open event unless its key exists.
func (db *DB) OpenSilence(ctx context.Context, e sla.Event) (bool, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO sla_events (dataset, agreement, start_us) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, e.Dataset, e.Agreement, e.Start.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("opening the silence of %s: %w", e.Dataset, classify(ctx, err))
	}
	return tag.RowsAffected() == 1, nil
}

// CloseSilence ends an open event.
func (db *DB) CloseSilence(ctx context.Context, e sla.Event) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE sla_events SET end_us = $1
		WHERE dataset = $2 AND agreement = $3 AND start_us = $4 AND end_us IS NULL`,
		e.End.UnixMicro(), e.Dataset, e.Agreement, e.Start.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("closing the silence of %s: %w", e.Dataset, classify(ctx, err))
	}
	return tag.RowsAffected() == 1, nil
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
		WHERE ($1 = '' OR dataset = $1) AND start_us < $2 AND (end_us IS NULL OR end_us > $3)
		ORDER BY start_us, dataset, agreement`, q.Dataset, to, from)
}

func (db *DB) events(ctx context.Context, query string, args ...any) ([]sla.Event, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading SLA events: %w", classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sla.Event, error) {
		var e sla.Event
		var start int64
		var end *int64
		err := r.Scan(&e.Dataset, &e.Agreement, &start, &end)
		e.Start = time.UnixMicro(start).UTC()
		if end != nil {
			e.End = time.UnixMicro(*end).UTC()
		}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading SLA events: %w", classify(ctx, err))
	}
	return out, nil
}

// Daily returns the aggregates of q with their lag histograms.
func (db *DB) Daily(ctx context.Context, q sla.DailyQuery) ([]sla.Daily, error) {
	where, args := store.DailyWhere(q, func(n int) string { return "$" + strconv.Itoa(n) })
	rows, err := db.pool.Query(ctx, `SELECT day, dataset, agreement, records, on_time, stale, quarantined FROM sla_daily`+where+
		` ORDER BY day, dataset, agreement`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading SLA aggregates: %w", classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sla.Daily, error) {
		var d sla.Daily
		err := r.Scan(&d.Day, &d.Dataset, &d.Agreement, &d.Records, &d.OnTime, &d.Stale, &d.Quarantined)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading SLA aggregates: %w", classify(ctx, err))
	}
	lags, err := db.pool.Query(ctx, `SELECT day, dataset, agreement, bucket, count FROM sla_daily_lag`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("reading SLA lag histograms: %w", classify(ctx, err))
	}
	idx := store.DailyIndex(out)
	var k store.DailyKey
	var bucket int16
	var n int64
	_, err = pgx.ForEachRow(lags, []any{&k.Day, &k.Dataset, &k.Agreement, &bucket, &n}, func() error {
		store.AddLag(out, idx, k, int(bucket), n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading SLA lag histograms: %w", classify(ctx, err))
	}
	return out, nil
}

// AddNotices stores notices and sets their ids.
func (db *DB) AddNotices(ctx context.Context, ns []sla.Notice) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for i := range ns {
			body, err := json.Marshal(&ns[i])
			if err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `INSERT INTO notices (agency, at_us, kind, body) VALUES ($1, $2, $3, $4) RETURNING id`,
				ns[i].Agency, ns[i].At.UnixMicro(), ns[i].Kind, string(body)).Scan(&ns[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing %d notices: %w", len(ns), classify(ctx, err))
	}
	return nil
}

// Notices returns an agency's notices of q.
func (db *DB) Notices(ctx context.Context, q sla.NoticeQuery) ([]sla.Notice, error) {
	q = store.NormalizeNoticeQuery(q)
	rows, err := db.pool.Query(ctx, `SELECT id, body FROM notices WHERE agency = $1 AND id > $2 AND at_us >= $3
		ORDER BY id LIMIT $4`, q.Agency, q.After, store.Micros(q.Since), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("reading notices of %s: %w", q.Agency, classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sla.Notice, error) {
		var id int64
		var body string
		if err := r.Scan(&id, &body); err != nil {
			return sla.Notice{}, err
		}
		return store.ParseNotice(id, body)
	})
	if err != nil {
		return nil, fmt.Errorf("reading notices of %s: %w", q.Agency, classify(ctx, err))
	}
	return out, nil
}
