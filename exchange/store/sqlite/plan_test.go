package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// queryPlan is EXPLAIN QUERY PLAN of the audit query q.
func queryPlan(t *testing.T, db *DB, q ledger.Query) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := q.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	sqlText, args := querySQL(q, cur)
	return explain(ctx, t, db, sqlText, args...)
}

// explain is the detail column of EXPLAIN QUERY PLAN of sqlText.
func explain(ctx context.Context, t *testing.T, db *DB, sqlText string, args ...any) []string {
	t.Helper()
	rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+sqlText, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestQueryPlans: audit queries without a position read the time index in
// order and sort only the entries of one time value at a time, so a page
// stops after its last time value instead of sorting everything selected.
func TestQueryPlans(t *testing.T) {
	db := openTest(t)
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	next := ledger.Cursor{Time: at, Topic: "ingress.a.x", Partition: 3, Offset: 12345}
	nextDesc := next
	nextDesc.Desc = true
	for name, q := range map[string]ledger.Query{
		"all":            {},
		"desc":           {Sort: ledger.SortTimeDesc},
		"time range":     {From: at, To: at.Add(time.Hour)},
		"dataset":        {Dataset: "a.x"},
		"agreement":      {Agreement: "agr-1", From: at},
		"consumer":       {Consumer: "statistics"},
		"decision":       {Decision: ledger.Quarantined, Reason: "quality:x"},
		"next page":      {After: next.Encode()},
		"next page desc": {Sort: ledger.SortTimeDesc, After: nextDesc.Encode()},
	} {
		plan := queryPlan(t, db, q)
		text := strings.Join(plan, "\n")
		t.Logf("%s:\n%s", name, text)
		if len(plan) == 0 || !strings.HasPrefix(plan[0], "SCAN e USING INDEX ledger_entries_time") && !strings.HasPrefix(plan[0], "SEARCH e USING INDEX ledger_entries_time") {
			t.Errorf("%s: plan does not start with the time index:\n%s", name, text)
		}
		if plan[len(plan)-1] != "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" && plan[len(plan)-1] != "USE TEMP B-TREE FOR LAST 3 TERMS OF ORDER BY" {
			t.Errorf("%s: plan sorts more than the ties of one time value:\n%s", name, text)
		}
	}
}

// TestSubjectQueryPlan: the data subject report's query (subject_hash,
// with or without a time range) searches the subject index, not the
// whole time index.
func TestSubjectQueryPlan(t *testing.T) {
	db := openTest(t)
	at := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	for name, q := range map[string]ledger.Query{
		"subject":            {SubjectHash: []byte{1, 2, 3}},
		"subject time range": {SubjectHash: []byte{1, 2, 3}, From: at, To: at.Add(time.Hour)},
	} {
		plan := queryPlan(t, db, q)
		text := strings.Join(plan, "\n")
		t.Logf("%s:\n%s", name, text)
		if len(plan) == 0 || !strings.HasPrefix(plan[0], "SEARCH e USING INDEX ledger_entries_subject (subject_hash=?") {
			t.Errorf("%s: a data subject's entries are not searched through the subject index:\n%s", name, text)
		}
	}
}

// TestChainEntriesPlan: a chain is read as a range of row ids, in order.
func TestChainEntriesPlan(t *testing.T) {
	db := openTest(t)
	plan := explain(context.Background(), t, db, chainEntriesSQL, "ingress.a.x", 3)
	text := strings.Join(plan, "\n")
	t.Logf("\n%s", text)
	if !strings.Contains(text, "SEARCH e USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)") || strings.Contains(text, "TEMP B-TREE") {
		t.Errorf("chain entries are not read as a range of row ids in order:\n%s", text)
	}
}

// TestHighestOffsetPlan: the runtime asks for a chain's highest offset on
// every partition assignment; it must be one lookup at the end of the
// (chain, offset) index, not a scan of the chain's entries.
func TestHighestOffsetPlan(t *testing.T) {
	db := openTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	plan := explain(ctx, t, db, highestOffsetQuery, "ingress.a.x", 3)
	text := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", text)
	if !strings.Contains(text, "SEARCH ledger_entries USING COVERING INDEX") || strings.Contains(text, "SCAN ") {
		t.Errorf("highest offset is not an index lookup:\n%s", text)
	}
}
