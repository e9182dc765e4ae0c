package sla

import (
	"context"
	"time"
)

// Store keeps what every exchange process shares about timeliness. Both
// store backends implement it (exchange/store/storetest checks them).
// Times are stored with microsecond precision.
type Store interface {
	// AddTimeliness, in one transaction, raises each dataset's last
	// accepted decision time to the one given (never lowers it), and adds
	// each Daily's counts and lag histogram to the stored ones of its
	// (Day, Dataset, Agreement).
	AddTimeliness(ctx context.Context, last map[string]time.Time, daily []Daily) error
	// LastAccepted returns every dataset's last accepted decision time.
	LastAccepted(ctx context.Context) (map[string]time.Time, error)
	// AddDelivered raises each agreement's last delivery decision time to
	// the one given (never lowers it).
	AddDelivered(ctx context.Context, last map[string]time.Time) error
	// LastDelivered returns every agreement's last delivery decision time.
	LastDelivered(ctx context.Context) (map[string]time.Time, error)
	// OpenSilence stores e (End zero) unless an event of its (Dataset,
	// Agreement, Start) exists; opened reports whether this call stored it.
	OpenSilence(ctx context.Context, e Event) (opened bool, err error)
	// CloseSilence sets End of the open event of e's (Dataset, Agreement,
	// Start); closed reports whether this call closed it (false when it was
	// closed already or does not exist).
	CloseSilence(ctx context.Context, e Event) (closed bool, err error)
	// OpenSilences returns every open event, by dataset, agreement, start.
	OpenSilences(ctx context.Context) ([]Event, error)
	// Events returns the events of q, by start, dataset, agreement.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
	// Daily returns the aggregates of q, by day, dataset, agreement.
	Daily(ctx context.Context, q DailyQuery) ([]Daily, error)
	// AddNotices stores notices; each gets its ID.
	AddNotices(ctx context.Context, ns []Notice) error
	// Notices returns up to q.Limit notices of q.Agency with ID > q.After
	// and At ≥ q.Since, by ID.
	Notices(ctx context.Context, q NoticeQuery) ([]Notice, error)
}

// Event is one SLA event: a silence of a dataset (Agreement empty) or of a
// dataset under one agreement. End is zero while it lasts.
type Event struct {
	Dataset   string    `json:"dataset"`
	Agreement string    `json:"agreement"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

// Open reports whether the silence lasts.
func (e Event) Open() bool { return e.End.IsZero() }

// Duration is End - Start, or now - Start while open.
func (e Event) Duration(now time.Time) time.Duration {
	if e.Open() {
		return max(now.Sub(e.Start), 0)
	}
	return max(e.End.Sub(e.Start), 0)
}

// EventQuery selects events overlapping [From, To) (zero: unbounded) of
// Dataset (empty: all).
type EventQuery struct {
	Dataset  string
	From, To time.Time
}

// DayLayout is how days are written: UTC dates.
const DayLayout = "2006-01-02"

// Day is the UTC date of t.
func Day(t time.Time) string { return t.UTC().Format(DayLayout) }

// Daily is one day's aggregate of a dataset (Agreement empty) or of one
// agreement of it. For a dataset: Records decided, OnTime of them accepted
// and not stale, Stale carrying freshness:stale, Quarantined. For an
// agreement: OnTime records delivered, Stale records skipped as stale for
// its stricter max_age (Records = OnTime + Stale; Quarantined 0: the
// dataset's row counts them). Lag counts publish→delivery lags of the
// deliveries (for a dataset: of all its agreements).
type Daily struct {
	Day         string
	Dataset     string
	Agreement   string
	Records     int64
	OnTime      int64
	Stale       int64
	Quarantined int64
	Lag         Histogram
}

// Add adds o's counts to d.
func (d *Daily) Add(o *Daily) {
	d.Records += o.Records
	d.OnTime += o.OnTime
	d.Stale += o.Stale
	d.Quarantined += o.Quarantined
	d.Lag.Add(&o.Lag)
}

// DailyQuery selects the aggregates of days in [From, To] (DayLayout;
// empty: unbounded) of Dataset and Agreement (empty: all; AgreementNone:
// the dataset rows only).
type DailyQuery struct {
	Dataset, Agreement string
	From, To           string
}

// AgreementNone in DailyQuery.Agreement selects the datasets' own rows.
const AgreementNone = "-"

// NoticeQuery selects an agency's notices.
type NoticeQuery struct {
	Agency string
	Since  time.Time
	After  int64
	Limit  int
}

// MaxNotices bounds NoticeQuery.Limit.
const MaxNotices = 1000

// ReasonDaily is one day's count of a dataset's records carrying one
// reason code: Quarantined records quarantined with it (every reason of a
// record counts), Warned records delivered with it as a warning (quality
// rules of severity warn). The quality and quarantine pages of the
// console chart failure rates from it against the dataset's Daily.Records.
type ReasonDaily struct {
	Day         string
	Dataset     string
	Reason      string
	Quarantined int64
	Warned      int64
}

// ReasonStore keeps the per-reason daily counts; both store backends
// implement it beside Store (exchange/store/storetest checks them).
type ReasonStore interface {
	// AddReasons adds each row's counts to the stored ones of its (Day,
	// Dataset, Reason), in one transaction.
	AddReasons(ctx context.Context, rows []ReasonDaily) error
	// Reasons returns the rows of days in [q.From, q.To] of q.Dataset
	// (q.Agreement is ignored), by day, dataset, reason.
	Reasons(ctx context.Context, q DailyQuery) ([]ReasonDaily, error)
}

// SkipDaily is one day's count of the records of a dataset that one
// agreement did not receive for one reason (the policy Skip* codes: stale,
// filter, revoked, suspended, expired, not_active, not_approved,
// not_recorded...), as the ledger entries' Skips record them. The console's
// "skipped (all reasons)" totals and charts are read from it.
type SkipDaily struct {
	Day       string
	Dataset   string
	Agreement string
	Reason    string
	Skipped   int64
}

// SkipStore keeps the per-reason daily skip counts; both store backends
// implement it beside Store (exchange/store/storetest checks them).
type SkipStore interface {
	// AddSkips adds each row's count to the stored one of its (Day,
	// Dataset, Agreement, Reason), in one transaction.
	AddSkips(ctx context.Context, rows []SkipDaily) error
	// Skips returns the rows of days in [q.From, q.To] of q.Dataset and
	// q.Agreement (empty: all; AgreementNone selects nothing: every skip
	// has an agreement), by day, dataset, agreement, reason.
	Skips(ctx context.Context, q DailyQuery) ([]SkipDaily, error)
}
