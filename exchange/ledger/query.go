package ledger

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrBadQuery is wrapped by query errors caused by the caller (unknown sort
// key, malformed cursor, limit out of range); the HTTP API answers 400.
var ErrBadQuery = errors.New("bad ledger query")

// Sort keys accepted by Query.Sort. Nothing else reaches SQL.
const (
	SortTimeAsc  = "decision_time"
	SortTimeDesc = "-decision_time"
)

// Query limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Query selects ledger entries. Empty fields do not filter. Results are
// ordered by (decision time, topic, partition, offset) and paged by keyset:
// pass Page.Next as After to continue.
type Query struct {
	Dataset    string
	Agreement  string // delivered to or skipped by this agreement
	Consumer   string // delivered to this consumer agency
	Decision   Decision
	Reason     string // carries this reason code
	DeliveryID string
	// SubjectHash selects the decisions about one data subject (the keyed
	// hash the runtime stores); indexed on both backends (subject_hash, decision time).
	SubjectHash []byte
	From, To    time.Time // decision time, From inclusive, To exclusive
	// Source position: Topic alone, Topic+Partition, or all three.
	Topic     string
	Partition *int32
	Offset    *int64

	Sort  string // SortTimeAsc (default) or SortTimeDesc
	After string // cursor from Page.Next
	Limit int    // default DefaultLimit, at most MaxLimit
}

// Page is one page of query results.
type Page struct {
	Entries []Entry `json:"entries"`
	// Next is the cursor of the following page, empty on the last page.
	Next string `json:"next,omitempty"`
}

// Reader answers audit queries.
type Reader interface {
	Query(ctx context.Context, q Query) (*Page, error)
}

// Cursor is the decoded keyset position of a page boundary.
type Cursor struct {
	Desc      bool      `json:"d,omitempty"`
	Time      time.Time `json:"t"`
	Topic     string    `json:"s"`
	Partition int32     `json:"p"`
	Offset    int64     `json:"o"`
}

// Encode returns the opaque cursor string.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CursorAfter returns the cursor that continues after e.
func CursorAfter(e *Entry, desc bool) string {
	return Cursor{Desc: desc, Time: e.DecisionTime, Topic: e.Topic, Partition: e.Partition, Offset: e.Offset}.Encode()
}

// PageOf is the page answering q (normalised) from entries, what a
// backend read for it in q's order: a store reads one entry more than
// q.Limit, and that one's presence is what sets Next.
func (q *Query) PageOf(entries []Entry) *Page {
	page := &Page{Entries: entries}
	if page.Entries == nil {
		page.Entries = []Entry{}
	}
	if len(page.Entries) > q.Limit {
		page.Entries = page.Entries[:q.Limit]
		page.Next = CursorAfter(&page.Entries[q.Limit-1], q.Sort == SortTimeDesc)
	}
	return page
}

// Normalize checks q and fills defaults; the returned cursor is nil when
// q.After is empty. Backends call it before building SQL.
func (q *Query) Normalize() (*Cursor, error) {
	switch q.Sort {
	case "":
		q.Sort = SortTimeAsc
	case SortTimeAsc, SortTimeDesc:
	default:
		return nil, fmt.Errorf("%w: sort must be %q or %q", ErrBadQuery, SortTimeAsc, SortTimeDesc)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return nil, fmt.Errorf("%w: limit must be between 1 and %d", ErrBadQuery, MaxLimit)
	}
	switch q.Decision {
	case "", Delivered, Dropped, Quarantined:
	default:
		return nil, fmt.Errorf("%w: decision must be delivered, dropped or quarantined", ErrBadQuery)
	}
	if (q.Partition != nil || q.Offset != nil) && q.Topic == "" {
		return nil, fmt.Errorf("%w: partition and offset need a topic", ErrBadQuery)
	}
	if q.Offset != nil && q.Partition == nil {
		return nil, fmt.Errorf("%w: offset needs a partition", ErrBadQuery)
	}
	if q.DeliveryID != "" {
		if _, _, ok := LocateDelivery(q.DeliveryID); !ok {
			return nil, fmt.Errorf("%w: delivery_id must be %d lowercase hex digits (an exchange-delivery-id header value)", ErrBadQuery, DeliveryIDLen)
		}
	}
	if len(q.SubjectHash) > maxHashLen {
		return nil, fmt.Errorf("%w: subject hash longer than %d bytes", ErrBadQuery, maxHashLen)
	}
	q.From, q.To = normTime(q.From), normTime(q.To)
	if q.After == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.After)
	if err != nil || len(raw) > 4096 {
		return nil, fmt.Errorf("%w: malformed cursor", ErrBadQuery)
	}
	var c Cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: malformed cursor", ErrBadQuery)
	}
	if c.Desc != (q.Sort == SortTimeDesc) {
		return nil, fmt.Errorf("%w: cursor belongs to another sort order", ErrBadQuery)
	}
	c.Time = normTime(c.Time)
	return &c, nil
}

// entryJSON is the JSON form of an Entry: snake_case names, hashes in hex.
type entryJSON struct {
	Topic        string         `json:"topic"`
	Partition    int32          `json:"partition"`
	Offset       int64          `json:"offset"`
	Dataset      string         `json:"dataset"`
	KeyHash      string         `json:"key_hash,omitempty"`
	PayloadHash  string         `json:"payload_hash,omitempty"`
	SchemaID     int            `json:"schema_id"`
	Decision     Decision       `json:"decision"`
	Reasons      []string       `json:"reasons"`
	Deliveries   []deliveryJSON `json:"deliveries"`
	Skips        []skipJSON     `json:"skips"`
	PlanVersion  string         `json:"plan_version"`
	SubjectHash  string         `json:"subject_hash,omitempty"`
	EventTime    *time.Time     `json:"event_time,omitempty"`
	DecisionTime time.Time      `json:"decision_time"`
	Seq          int64          `json:"seq"`
	PrevHash     string         `json:"prev_hash,omitempty"`
	Hash         string         `json:"hash"`
}

type deliveryJSON struct {
	AgreementID string `json:"agreement"`
	Consumer    string `json:"consumer"`
	Topic       string `json:"topic"`
	DeliveryID  string `json:"delivery_id"`
	ContentHash string `json:"content_hash,omitempty"`
}

type skipJSON struct {
	AgreementID string `json:"agreement"`
	Reason      string `json:"reason"`
}

// MarshalJSON writes the entry with snake_case names and hex hashes; each
// delivery also names its consumer agency.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{
		Topic: e.Topic, Partition: e.Partition, Offset: e.Offset, Dataset: e.Dataset,
		KeyHash: hex.EncodeToString(e.KeyHash), PayloadHash: hex.EncodeToString(e.PayloadHash),
		SchemaID: e.SchemaID, Decision: e.Decision, Reasons: e.Reasons,
		Deliveries: make([]deliveryJSON, len(e.Deliveries)), Skips: make([]skipJSON, len(e.Skips)),
		PlanVersion: e.PlanVersion, SubjectHash: hex.EncodeToString(e.SubjectHash),
		DecisionTime: e.DecisionTime, Seq: e.Seq,
		PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
	}
	if j.Reasons == nil {
		j.Reasons = []string{}
	}
	if !e.EventTime.IsZero() {
		t := e.EventTime
		j.EventTime = &t
	}
	for i, d := range e.Deliveries {
		j.Deliveries[i] = deliveryJSON{d.AgreementID, Consumer(d.Topic), d.Topic, d.DeliveryID, d.ContentHash}
	}
	for i, s := range e.Skips {
		j.Skips[i] = skipJSON{s.AgreementID, s.Reason}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	hx := func(name, s string) ([]byte, error) {
		if s == "" {
			return nil, nil
		}
		v, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("ledger entry %s: %w", name, err)
		}
		return v, nil
	}
	out := Entry{
		Topic: j.Topic, Partition: j.Partition, Offset: j.Offset, Dataset: j.Dataset,
		SchemaID: j.SchemaID, Decision: j.Decision, Reasons: j.Reasons,
		PlanVersion: j.PlanVersion, DecisionTime: j.DecisionTime, Seq: j.Seq,
	}
	var err error
	for _, f := range []struct {
		name string
		src  string
		dst  *[]byte
	}{
		{"key_hash", j.KeyHash, &out.KeyHash}, {"payload_hash", j.PayloadHash, &out.PayloadHash},
		{"subject_hash", j.SubjectHash, &out.SubjectHash}, {"prev_hash", j.PrevHash, &out.PrevHash}, {"hash", j.Hash, &out.Hash},
	} {
		if *f.dst, err = hx(f.name, f.src); err != nil {
			return err
		}
	}
	if len(out.Reasons) == 0 {
		out.Reasons = nil
	}
	if j.EventTime != nil {
		out.EventTime = *j.EventTime
	}
	for _, d := range j.Deliveries {
		out.Deliveries = append(out.Deliveries, Delivery{AgreementID: d.AgreementID, Topic: d.Topic, DeliveryID: d.DeliveryID, ContentHash: d.ContentHash})
	}
	for _, s := range j.Skips {
		out.Skips = append(out.Skips, Skip{AgreementID: s.AgreementID, Reason: s.Reason})
	}
	*e = out
	return nil
}
