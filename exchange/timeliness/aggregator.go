package timeliness

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/policy"
)

// DefaultFlushInterval is how often the aggregator writes to the store.
const DefaultFlushInterval = time.Second

// Owners returns the owning agency of a dataset ("" when unknown).
type Owners func(dataset string) string

// Aggregator is the workers' ActivityObserver for timeliness: it keeps the
// last accepted decision time per dataset, the last delivery decision time
// per agreement, and the day's aggregates in
// memory, and turns quarantined records into (rate-limited) notices to
// their dataset's owner; Run flushes them. Safe for concurrent use.
type Aggregator struct {
	store   sla.Store
	reasons sla.ReasonStore // nil when the store keeps no per-reason counts
	skipper sla.SkipStore   // nil when the store keeps no skip counts
	notify  *Notifier
	owners  Owners
	log     *slog.Logger
	metrics *Metrics
	every   time.Duration

	mu        sync.Mutex
	last      map[string]time.Time // per dataset: last accepted
	delivered map[string]time.Time // per agreement: last delivered
	daily     map[dailyKey]*sla.Daily
	byReason  map[dailyKey]*sla.ReasonDaily // agreement field: the reason code
	skips     map[skipKey]int64
	notices   []sla.Notice
	limiter   *Limiter
}

type dailyKey struct{ day, dataset, agreement string }

type skipKey struct{ day, dataset, agreement, reason string }

// AggregatorConfig configures NewAggregator; zero values take the defaults.
type AggregatorConfig struct {
	// FlushInterval: default DefaultFlushInterval.
	FlushInterval time.Duration
	// NoticesPerMinute per dataset: default DefaultNoticesPerMinute.
	NoticesPerMinute int
	// NoticeWindow is the "minute" of NoticesPerMinute, after which the
	// records beyond the limit are summed up; default one minute.
	NoticeWindow time.Duration
	Logger       *slog.Logger
	Metrics      *Metrics
}

// NewAggregator returns an aggregator flushing to st and sending notices
// through n to the owners of datasets.
func NewAggregator(st sla.Store, n *Notifier, owners Owners, cfg AggregatorConfig) *Aggregator {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.NoticesPerMinute <= 0 {
		cfg.NoticesPerMinute = DefaultNoticesPerMinute
	}
	if cfg.NoticeWindow <= 0 {
		cfg.NoticeWindow = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	rs, _ := st.(sla.ReasonStore)
	ss, _ := st.(sla.SkipStore)
	return &Aggregator{store: st, reasons: rs, skipper: ss, byReason: map[dailyKey]*sla.ReasonDaily{}, skips: map[skipKey]int64{}, notify: n, owners: owners, log: cfg.Logger, metrics: cfg.Metrics,
		every: cfg.FlushInterval, last: map[string]time.Time{}, delivered: map[string]time.Time{}, daily: map[dailyKey]*sla.Daily{},
		limiter: NewLimiter(cfg.NoticesPerMinute, cfg.NoticeWindow)}
}

var _ exchange.ActivityObserver = (*Aggregator)(nil)

// ObserveActivity adds an audited batch (the worker's audit goroutine):
// map updates only, no I/O.
func (a *Aggregator) ObserveActivity(b exchange.BatchActivity) {
	a.mu.Lock()
	defer a.mu.Unlock()
	day := sla.Day(b.At)
	for ds, dt := range b.Timeliness {
		if dt.Records > dt.Quarantined && b.At.After(a.last[ds]) {
			a.last[ds] = b.At
		}
		row := a.row(dailyKey{day, ds, ""})
		row.Records += int64(dt.Records)
		row.Quarantined += int64(dt.Quarantined)
		row.Stale += int64(dt.Stale)
		// Stale records quarantined count once, as quarantined.
		row.OnTime += int64(dt.Records - dt.Quarantined - staleAccepted(dt))
		for ag, at := range dt.Agreements {
			if at.Delivered > 0 && b.At.After(a.delivered[ag]) {
				a.delivered[ag] = b.At
			}
			ar := a.row(dailyKey{day, ds, ag})
			ar.Records += int64(at.Delivered + at.Stale)
			ar.OnTime += int64(at.Delivered)
			ar.Stale += int64(at.Stale)
			for _, l := range at.Lags {
				ar.Lag.Observe(l)
				row.Lag.Observe(l)
			}
		}
		a.quarantineNotices(ds, dt.Quarantines, b.Produced)
	}
	for l, n := range b.Quarantined {
		a.reasonRow(day, l).Quarantined += int64(n)
	}
	for l, n := range b.Warned {
		a.reasonRow(day, l).Warned += int64(n)
	}
	// Every skip, whatever its reason (stale, filter, revoked...): the
	// same counts as exchange_records_skipped_total.
	for l, n := range b.Skipped {
		a.skips[skipKey{day, l.Dataset, l.Agreement, l.Reason}] += int64(n)
	}
}

// reasonRow is the day's per-reason row of a dataset and reason code.
func (a *Aggregator) reasonRow(day string, l exchange.DatasetLabel) *sla.ReasonDaily {
	k := dailyKey{day, l.Dataset, l.Label}
	r := a.byReason[k]
	if r == nil {
		r = &sla.ReasonDaily{Day: day, Dataset: l.Dataset, Reason: l.Label}
		a.byReason[k] = r
	}
	return r
}

// staleAccepted counts the stale records of dt that were delivered flagged
// (the others were quarantined).
func staleAccepted(dt *exchange.DatasetTimeliness) int {
	n := dt.Stale
	for _, q := range dt.Quarantines {
		for _, r := range q.Reasons {
			if r.Code == staleCode {
				n--
				break
			}
		}
	}
	return n
}

func (a *Aggregator) row(k dailyKey) *sla.Daily {
	r := a.daily[k]
	if r == nil {
		r = &sla.Daily{Day: k.day, Dataset: k.dataset, Agreement: k.agreement}
		a.daily[k] = r
	}
	return r
}

// quarantineNotices queues a notice per quarantined record the limiter
// admits (the owner is looked up when they are sent).
func (a *Aggregator) quarantineNotices(ds string, qs []exchange.QuarantinedRecord, at time.Time) {
	for _, q := range qs {
		codes := make([]string, len(q.Reasons))
		details := make([]string, 0, len(q.Reasons))
		for i, r := range q.Reasons {
			codes[i] = r.Code
			if r.Detail != "" {
				details = append(details, r.Code+": "+sla.WithoutValues(r.Detail))
			}
		}
		if !a.limiter.Admit(ds, codes, at) {
			continue
		}
		a.notices = append(a.notices, sla.Notice{Kind: sla.KindQuarantine, Dataset: ds, Reason: joinCodes(codes),
			Detail: strings.Join(details, "; "), Topic: q.Topic, Partition: q.Partition, Offset: q.Offset,
			SchemaID: int32(q.SchemaID), At: at})
	}
}

// Run flushes every FlushInterval until ctx ends, then once more (bounded
// by 5 s) so that what the workers' drain audited is not lost.
func (a *Aggregator) Run(ctx context.Context) error {
	t := time.NewTicker(a.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			a.Flush(fctx, time.Now())
			return nil
		case <-t.C:
			a.Flush(ctx, time.Now())
		}
	}
}

// Flush writes the aggregates gathered since the last flush (kept for the
// next one when the store fails) and sends the queued notices and the
// summaries of the quarantine windows over by now.
func (a *Aggregator) Flush(ctx context.Context, now time.Time) {
	a.mu.Lock()
	last, delivered, daily, notices, byReason, skips := a.last, a.delivered, a.daily, a.notices, a.byReason, a.skips
	a.last, a.delivered, a.daily, a.notices = map[string]time.Time{}, map[string]time.Time{}, map[dailyKey]*sla.Daily{}, nil
	a.byReason, a.skips = map[dailyKey]*sla.ReasonDaily{}, map[skipKey]int64{}
	for _, s := range a.limiter.Due(now) {
		start, end := s.Start, s.End
		notices = append(notices, sla.Notice{Kind: sla.KindQuarantineSummary, Dataset: s.Dataset, Reason: s.Reason, Count: s.Count,
			Partition: -1, Offset: -1, WindowStart: &start, WindowEnd: &end, At: now})
	}
	a.mu.Unlock()

	if len(last) > 0 || len(daily) > 0 {
		rows := make([]sla.Daily, 0, len(daily))
		for _, k := range slices.SortedFunc(maps.Keys(daily), func(x, y dailyKey) int {
			return strings.Compare(x.day+"\x00"+x.dataset+"\x00"+x.agreement, y.day+"\x00"+y.dataset+"\x00"+y.agreement)
		}) {
			rows = append(rows, *daily[k])
		}
		if err := a.store.AddTimeliness(ctx, last, rows); err != nil {
			a.metrics.flushFailures.Inc()
			a.log.Warn("flushing timeliness aggregates failed; retrying with the next flush", "err", err)
			a.restore(last, nil, rows)
		}
	}
	if len(delivered) > 0 {
		if err := a.store.AddDelivered(ctx, delivered); err != nil {
			a.metrics.flushFailures.Inc()
			a.log.Warn("flushing last delivery times failed; retrying with the next flush", "err", err)
			a.restore(nil, delivered, nil)
		}
	}
	a.flushReasons(ctx, byReason)
	a.flushSkips(ctx, skips)
	a.send(ctx, notices)
}

// flushSkips writes the skip counts (kept for the next flush when the
// store fails).
func (a *Aggregator) flushSkips(ctx context.Context, skips map[skipKey]int64) {
	if a.skipper == nil || len(skips) == 0 {
		return
	}
	rows := make([]sla.SkipDaily, 0, len(skips))
	for k, n := range skips {
		rows = append(rows, sla.SkipDaily{Day: k.day, Dataset: k.dataset, Agreement: k.agreement, Reason: k.reason, Skipped: n})
	}
	if err := a.skipper.AddSkips(ctx, rows); err != nil {
		a.metrics.flushFailures.Inc()
		a.log.Warn("flushing skip aggregates failed; retrying with the next flush", "err", err)
		a.mu.Lock()
		defer a.mu.Unlock()
		for k, n := range skips {
			a.skips[k] += n
		}
	}
}

// flushReasons writes the per-reason counts (kept for the next flush when
// the store fails).
func (a *Aggregator) flushReasons(ctx context.Context, byReason map[dailyKey]*sla.ReasonDaily) {
	if a.reasons == nil || len(byReason) == 0 {
		return
	}
	rows := make([]sla.ReasonDaily, 0, len(byReason))
	for _, r := range byReason {
		rows = append(rows, *r)
	}
	if err := a.reasons.AddReasons(ctx, rows); err != nil {
		a.metrics.flushFailures.Inc()
		a.log.Warn("flushing reason aggregates failed; retrying with the next flush", "err", err)
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, r := range rows {
			row := a.reasonRow(r.Day, exchange.DatasetLabel{Dataset: r.Dataset, Label: r.Reason})
			row.Quarantined += r.Quarantined
			row.Warned += r.Warned
		}
	}
}

// restore merges an unflushed state back.
func (a *Aggregator) restore(last, delivered map[string]time.Time, rows []sla.Daily) {
	a.mu.Lock()
	defer a.mu.Unlock()
	raise(a.last, last)
	raise(a.delivered, delivered)
	for i := range rows {
		a.row(dailyKey{rows[i].Day, rows[i].Dataset, rows[i].Agreement}).Add(&rows[i])
	}
}

// raise sets each time of into to the later of its own and from's.
func raise(into, from map[string]time.Time) {
	for k, t := range from {
		if t.After(into[k]) {
			into[k] = t
		}
	}
}

// send addresses notices to their dataset's owner and sends them.
func (a *Aggregator) send(ctx context.Context, notices []sla.Notice) {
	out := notices[:0]
	for _, n := range notices {
		if n.Agency = a.owners(n.Dataset); n.Agency != "" {
			out = append(out, n)
		}
	}
	a.notify.Send(ctx, out)
}

// staleCode is policy.ReasonFreshnessStale.
const staleCode = policy.ReasonFreshnessStale
