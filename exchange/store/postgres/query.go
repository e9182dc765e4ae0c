package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// Query answers an audit query. Every value is a bound parameter; the only
// SQL text chosen by the caller is the sort direction, from an allow-list.
func (db *DB) Query(ctx context.Context, q ledger.Query) (*ledger.Page, error) {
	cur, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Dataset != "" {
		where = append(where, "c.dataset = "+arg(q.Dataset))
	}
	if q.Agreement != "" {
		a := arg(q.Agreement)
		where = append(where, "("+a+" = ANY(e.delivery_agreements) OR "+a+" = ANY(e.skip_agreements))")
	}
	if q.Consumer != "" {
		// The consumer is the second dot-separated part of deliver.<consumer>.<agreement>.
		where = append(where, "EXISTS (SELECT 1 FROM unnest(e.delivery_topics) t WHERE split_part(t, '.', 1) = 'deliver' AND split_part(t, '.', 2) = "+arg(q.Consumer)+")")
	}
	if q.Decision != "" {
		where = append(where, "e.decision = "+arg(string(q.Decision)))
	}
	if q.Reason != "" {
		where = append(where, arg(q.Reason)+" = ANY(e.reasons)")
	}
	if q.DeliveryID != "" {
		// The id names its source partition and offset: the (chain,
		// offset) key of each chain on that partition finds the
		// candidates, at most one per chain, and the id itself decides
		// below (ids are derived, not stored, since migration 0004).
		if p, o, ok := ledger.LocateDelivery(q.DeliveryID); ok {
			where = append(where, "c.partition = "+arg(p), `e."offset" = `+arg(o),
				"e.delivery_agreements IS NOT NULL", "(e.delivery_ids IS NULL OR "+arg(q.DeliveryID)+" = ANY(e.delivery_ids))")
		} else {
			where = append(where, "false")
		}
	}
	if len(q.SubjectHash) > 0 {
		where = append(where, "e.subject_hash = "+arg(q.SubjectHash))
	}
	if !q.From.IsZero() {
		where = append(where, "e.decision_time >= "+arg(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "e.decision_time < "+arg(q.To))
	}
	if q.Topic != "" {
		where = append(where, "c.topic = "+arg(q.Topic))
	}
	if q.Partition != nil {
		where = append(where, "c.partition = "+arg(*q.Partition))
	}
	if q.Offset != nil {
		where = append(where, `e."offset" = `+arg(*q.Offset))
	}
	desc := q.Sort == ledger.SortTimeDesc
	if cur != nil {
		op, bound := ">", ">="
		if desc {
			op, bound = "<", "<="
		}
		t := arg(cur.Time)
		// The bare time bound lets the planner range-scan the time index;
		// the row comparison orders ties.
		where = append(where, "e.decision_time "+bound+" "+t, fmt.Sprintf(`(e.decision_time, c.topic, c.partition, e."offset") %s (%s, %s, %s, %s)`,
			op, t, arg(cur.Topic), arg(cur.Partition), arg(cur.Offset)))
	}
	sql := selectEntry
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	if desc {
		sql += ` ORDER BY e.decision_time DESC, c.topic DESC, c.partition DESC, e."offset" DESC`
	} else {
		sql += ` ORDER BY e.decision_time, c.topic, c.partition, e."offset"`
	}
	if q.DeliveryID == "" {
		sql += " LIMIT " + arg(q.Limit+1)
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", classify(ctx, err))
	}
	defer rows.Close()
	page := &ledger.Page{Entries: []ledger.Entry{}}
	tags := ledger.TagCache{}
	for rows.Next() {
		var e ledger.Entry
		if err := scanEntry(rows, &e, tags); err != nil {
			return nil, fmt.Errorf("audit query: %w", err)
		}
		if q.DeliveryID != "" && !hasDelivery(&e, q.DeliveryID) {
			continue
		}
		page.Entries = append(page.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit query: %w", classify(ctx, err))
	}
	if len(page.Entries) > q.Limit {
		page.Entries = page.Entries[:q.Limit]
		page.Next = ledger.CursorAfter(&page.Entries[q.Limit-1], desc)
	}
	return page, nil
}

func hasDelivery(e *ledger.Entry, id string) bool {
	for _, d := range e.Deliveries {
		if d.DeliveryID == id {
			return true
		}
	}
	return false
}
