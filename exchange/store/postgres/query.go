package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// Query answers an audit query. Every value is a bound parameter; the only
// SQL text chosen by the caller is the sort direction and the decision,
// each from an allow-list.
func (db *DB) Query(ctx context.Context, q ledger.Query) (*ledger.Page, error) {
	cur, err := q.Normalize()
	if err != nil {
		return nil, err
	}
	sql, args := querySQL(q, cur)
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", classify(ctx, err))
	}
	defer rows.Close()
	entries := []ledger.Entry{}
	tags := ledger.TagCache{}
	err = store.EachEntry(ctx, rows, classify, "audit query", func(e *ledger.Entry) error {
		*e = ledger.Entry{} // the page keeps each entry: nothing shared with the last
		return scanEntry(rows, e, tags)
	}, func(e *ledger.Entry) error {
		if q.DeliveryID == "" || hasDelivery(e, q.DeliveryID) {
			entries = append(entries, *e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return q.PageOf(entries), nil
}

// conds collects the conditions of an audit query and their arguments,
// numbered $1, $2, … in the order they are added.
type conds struct {
	where []string
	args  []any
}

// arg binds v and returns its placeholder.
func (c *conds) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

func (c *conds) add(cond ...string) { c.where = append(c.where, cond...) }

// querySQL is the statement and arguments of the audit query q, normalised
// (cur from q.Normalize).
func querySQL(q ledger.Query, cur *ledger.Cursor) (string, []any) {
	var c conds
	c.recordFilters(q)
	c.deliveryIDFilter(q.DeliveryID)
	c.timeAndPositionFilters(q)
	desc := q.Sort == ledger.SortTimeDesc
	if cur != nil {
		c.cursorFilter(cur, desc)
	}
	sql := selectEntry
	if len(c.where) > 0 {
		sql += " WHERE " + strings.Join(c.where, " AND ")
	}
	if desc {
		sql += ` ORDER BY e.decision_time DESC, c.topic DESC, c.partition DESC, e."offset" DESC`
	} else {
		sql += ` ORDER BY e.decision_time, c.topic, c.partition, e."offset"`
	}
	// A delivery id's candidates are filtered after the read (hasDelivery),
	// so a LIMIT could cut off the one that matches.
	if q.DeliveryID == "" {
		sql += " LIMIT " + c.arg(q.Limit+1)
	}
	return sql, c.args
}

// recordFilters: dataset, agreement, consumer, decision and reason.
func (c *conds) recordFilters(q ledger.Query) {
	if q.Dataset != "" {
		c.add("c.dataset = " + c.arg(q.Dataset))
	}
	if q.Agreement != "" {
		a := c.arg(q.Agreement)
		c.add("(" + a + " = ANY(e.delivery_agreements) OR " + a + " = ANY(e.skip_agreements))")
	}
	if q.Consumer != "" {
		// The consumer is the second dot-separated part of deliver.<consumer>.<agreement>.
		c.add("EXISTS (SELECT 1 FROM unnest(e.delivery_topics) t WHERE split_part(t, '.', 1) = 'deliver' AND split_part(t, '.', 2) = " + c.arg(q.Consumer) + ")")
	}
	if q.Decision != "" {
		// A literal (Normalize allowed only the three decisions), so that
		// a generic plan can use the partial index of quarantined entries
		// (migration 0013).
		c.add("e.decision = '" + string(q.Decision) + "'")
	}
	if q.Reason != "" {
		c.add(c.arg(q.Reason) + " = ANY(e.reasons)")
	}
}

// deliveryIDFilter: the id names its source partition and offset: the
// (chain, offset) key of each chain on that partition finds the
// candidates, at most one per chain, and the id itself decides after the
// read (ids are derived, not stored, since migration 0004).
func (c *conds) deliveryIDFilter(id string) {
	if id == "" {
		return
	}
	p, o, ok := ledger.LocateDelivery(id)
	if !ok {
		c.add("false")
		return
	}
	c.add("c.partition = "+c.arg(p), `e."offset" = `+c.arg(o),
		"e.delivery_agreements IS NOT NULL", "(e.delivery_ids IS NULL OR "+c.arg(id)+" = ANY(e.delivery_ids))")
}

// timeAndPositionFilters: subject, decision time range, source position.
func (c *conds) timeAndPositionFilters(q ledger.Query) {
	if len(q.SubjectHash) > 0 {
		c.add("e.subject_hash = " + c.arg(q.SubjectHash))
	}
	if !q.From.IsZero() {
		c.add("e.decision_time >= " + c.arg(q.From))
	}
	if !q.To.IsZero() {
		c.add("e.decision_time < " + c.arg(q.To))
	}
	if q.Topic != "" {
		c.add("c.topic = " + c.arg(q.Topic))
	}
	if q.Partition != nil {
		c.add("c.partition = " + c.arg(*q.Partition))
	}
	if q.Offset != nil {
		c.add(`e."offset" = ` + c.arg(*q.Offset))
	}
}

// cursorFilter continues after the cursor's entry. The bare time bound
// lets the planner range-scan the time index; the row comparison orders
// ties.
func (c *conds) cursorFilter(cur *ledger.Cursor, desc bool) {
	op, bound := ">", ">="
	if desc {
		op, bound = "<", "<="
	}
	t := c.arg(cur.Time)
	c.add("e.decision_time "+bound+" "+t, fmt.Sprintf(`(e.decision_time, c.topic, c.partition, e."offset") %s (%s, %s, %s, %s)`,
		op, t, c.arg(cur.Topic), c.arg(cur.Partition), c.arg(cur.Offset)))
}

func hasDelivery(e *ledger.Entry, id string) bool {
	for _, d := range e.Deliveries {
		if d.DeliveryID == id {
			return true
		}
	}
	return false
}
