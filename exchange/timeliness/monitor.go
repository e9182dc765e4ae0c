package timeliness

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/calendar"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/policy"
)

// DefaultCheckInterval is how often the monitor looks for silences.
const DefaultCheckInterval = 500 * time.Millisecond

// SilenceSLA returns a dataset's silence SLA in plan: the longest silence
// allowed, measured in active time of cal; ok is false when the dataset has
// none. DefaultSilenceSLA reads the contract's expected_every in wall
// time; business calendars plug in here (expected_every in business time:
// cal the contract's calendar, every its active duration).
type SilenceSLA func(plan *policy.Plan, dataset string) (every time.Duration, cal sla.Calendar, ok bool)

// DefaultSilenceSLA is the contract's freshness.expected_every. With a
// freshness calendar it is measured in that calendar's active time (a
// business duration by its business length, a plain one by its own): no
// silence accrues while the calendar is closed. Without one, wall time.
func DefaultSilenceSLA(plan *policy.Plan, dataset string) (time.Duration, sla.Calendar, bool) {
	c, ok := plan.Contract(dataset)
	if !ok || c.Freshness == nil || c.Freshness.ExpectedEvery.IsZero() {
		return 0, nil, false
	}
	if c.Freshness.Calendar == "" {
		return measured(c.Freshness.ExpectedEvery, nil)
	}
	cal, ok := plan.Calendar(c.Freshness.Calendar)
	if !ok {
		return 0, nil, false // validation refuses an unknown calendar
	}
	return measured(c.Freshness.ExpectedEvery, cal)
}

// AgreementSilenceSLA returns an agreement's own silence SLA in plan, as
// SilenceSLA does for a dataset; ok is false when it has none.
type AgreementSilenceSLA func(plan *policy.Plan, agreement policy.AgreementInfo) (every time.Duration, cal sla.Calendar, ok bool)

// DefaultAgreementSilenceSLA is the agreement's own freshness
// expected_every (validation refuses one looser than its contract's), in
// its freshness calendar's active time (its own, else its contract's),
// else in wall time.
func DefaultAgreementSilenceSLA(plan *policy.Plan, ag policy.AgreementInfo) (time.Duration, sla.Calendar, bool) {
	every, cal, ok := plan.AgreementFreshness(ag.ID)
	if !ok || every.IsZero() {
		return 0, nil, false
	}
	return measured(every, cal)
}

// measured is a silence SLA of every in cal's active time (nil: wall time).
func measured(every calendar.Duration, cal *calendar.Calendar) (time.Duration, sla.Calendar, bool) {
	if cal == nil {
		return every.Wall(), sla.WallTime{}, true
	}
	return every.Active(cal), calendarTime{cal}, true
}

// calendarTime measures silences in a working calendar's active time.
type calendarTime struct{ cal *calendar.Calendar }

// Deadline is when d of the calendar's active time has passed since from.
func (c calendarTime) Deadline(from time.Time, d time.Duration) time.Time { return c.cal.Add(from, d) }

// Active is the calendar's active time between a and b.
func (c calendarTime) Active(a, b time.Time) time.Duration { return c.cal.Between(a, b) }

// Monitor detects silences: a dataset whose contract sets expected_every
// and whose last accepted record (the store's, over every process) is
// older than that, in its calendar's active time; and an active agreement
// whose freshness sets its own expected_every and whose last delivery is
// older than that. It runs in every process, leader-less: the store's
// unique event key makes one process the sender of each notice.
type Monitor struct {
	store       sla.Store
	plans       exchange.PlanSource
	notify      *Notifier
	silenceOf   SilenceSLA
	agreementOf AgreementSilenceSLA
	every       time.Duration
	now         func() time.Time
	log         *slog.Logger
	metrics     *Metrics
	shown       map[string]bool // datasets with gauges
	shownAg     map[string]bool // agreements with gauges
}

// MonitorConfig configures NewMonitor; zero values take the defaults.
type MonitorConfig struct {
	// CheckInterval: default DefaultCheckInterval.
	CheckInterval time.Duration
	// SilenceSLA: default DefaultSilenceSLA.
	SilenceSLA SilenceSLA
	// AgreementSilenceSLA: default DefaultAgreementSilenceSLA.
	AgreementSilenceSLA AgreementSilenceSLA
	// Now: default time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// NewMonitor returns a monitor of the datasets and agreements of plans.
func NewMonitor(st sla.Store, plans exchange.PlanSource, n *Notifier, cfg MonitorConfig) *Monitor {
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.SilenceSLA == nil {
		cfg.SilenceSLA = DefaultSilenceSLA
	}
	if cfg.AgreementSilenceSLA == nil {
		cfg.AgreementSilenceSLA = DefaultAgreementSilenceSLA
	}
	return &Monitor{store: st, plans: plans, notify: n, silenceOf: cfg.SilenceSLA, agreementOf: cfg.AgreementSilenceSLA,
		every: cfg.CheckInterval, now: cfg.Now, log: cfg.Logger, metrics: cfg.Metrics,
		shown: map[string]bool{}, shownAg: map[string]bool{}}
}

// Run checks every CheckInterval until ctx ends. A failing store is logged
// and the check retried at the next tick.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := m.Check(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("silence check failed", "err", err)
			}
		}
	}
}

// Check reads the store once and opens and closes the silences it shows.
func (m *Monitor) Check(ctx context.Context) error {
	plan := m.plans.Load()
	if plan == nil {
		return nil
	}
	st, err := m.read(ctx)
	if err != nil {
		return err
	}
	now := m.now()
	seen, seenAg := map[string]bool{}, map[string]bool{}
	var notices []sla.Notice
	// The notices of events this process changed are sent even when a
	// later store call fails: no other process will send them.
	defer func() { m.notify.Send(ctx, notices) }()
	for _, ds := range plan.Datasets() {
		ns, err := m.checkDataset(ctx, plan, ds, st, now, seen)
		notices = append(notices, ns...)
		if err != nil {
			return err
		}
		for _, ag := range plan.Agreements(ds) {
			ns, err := m.checkAgreement(ctx, plan, ds, ag, st, now, seenAg)
			notices = append(notices, ns...)
			if err != nil {
				return err
			}
		}
	}
	m.forget(seen, seenAg)
	return nil
}

// stored is what one check reads from the store.
type stored struct {
	accepted, delivered map[string]time.Time
	open                map[sla.Event][]sla.Event // by Dataset and Agreement (Start zero)
}

func (m *Monitor) read(ctx context.Context) (stored, error) {
	var st stored
	var err error
	if st.accepted, err = m.store.LastAccepted(ctx); err != nil {
		return st, fmt.Errorf("reading last accepted records: %w", err)
	}
	if st.delivered, err = m.store.LastDelivered(ctx); err != nil {
		return st, fmt.Errorf("reading last deliveries: %w", err)
	}
	open, err := m.store.OpenSilences(ctx)
	if err != nil {
		return st, fmt.Errorf("reading open silences: %w", err)
	}
	st.open = map[sla.Event][]sla.Event{}
	for _, e := range open {
		k := sla.Event{Dataset: e.Dataset, Agreement: e.Agreement}
		st.open[k] = append(st.open[k], e)
	}
	return st, nil
}

// owner is the agency owning ds in plan.
func owner(plan *policy.Plan, ds string) string {
	if c, ok := plan.Contract(ds); ok {
		return c.Owner
	}
	return ""
}

// watched is one silence SLA to judge: a dataset's (Agreement empty) or an
// agreement's, the agencies its notices go to, and the last record time.
type watched struct {
	key   sla.Event // Dataset and Agreement
	to    []string
	cal   sla.Calendar
	every time.Duration
	last  time.Time
}

// checkDataset judges ds's own silence SLA, if it has one, and sets its
// gauges. A dataset that never had an accepted record is not judged
// (there is no time to measure from).
func (m *Monitor) checkDataset(ctx context.Context, plan *policy.Plan, ds string, st stored, now time.Time,
	seen map[string]bool) ([]sla.Notice, error) {
	every, cal, ok := m.silenceOf(plan, ds)
	if !ok {
		return nil, nil
	}
	seen[ds] = true
	w := watched{key: sla.Event{Dataset: ds}, to: []string{owner(plan, ds)}, cal: cal, every: every, last: st.accepted[ds]}
	if w.last.IsZero() {
		m.metrics.silent.WithLabelValues(ds).Set(0)
		return nil, nil
	}
	m.metrics.lastRecord.WithLabelValues(ds).Set(float64(w.last.UnixMicro()) / 1e6)
	silent, notices, err := m.judge(ctx, w, st.open[w.key], now)
	m.metrics.silent.WithLabelValues(ds).Set(gaugeOf(silent))
	return notices, err
}

// checkAgreement judges an active agreement's own silence SLA, if it has
// one: a delivery under it at least every expected_every. Its notices go to
// the provider (the dataset's owner) and the consumer. An agreement not
// active now (suspended, revoked, expired, not yet valid) is not judged,
// nor one that never had a delivery.
func (m *Monitor) checkAgreement(ctx context.Context, plan *policy.Plan, ds string, ag policy.AgreementInfo, st stored,
	now time.Time, seen map[string]bool) ([]sla.Notice, error) {
	if !activeAt(ag, now) {
		return nil, nil
	}
	every, cal, ok := m.agreementOf(plan, ag)
	if !ok {
		return nil, nil
	}
	seen[ag.ID] = true
	w := watched{key: sla.Event{Dataset: ds, Agreement: ag.ID}, to: []string{owner(plan, ds), ag.Consumer}, cal: cal,
		every: every, last: st.delivered[ag.ID]}
	if w.last.IsZero() {
		m.metrics.agreementSilent.WithLabelValues(ag.ID).Set(0)
		return nil, nil
	}
	silent, notices, err := m.judge(ctx, w, st.open[w.key], now)
	m.metrics.agreementSilent.WithLabelValues(ag.ID).Set(gaugeOf(silent))
	return notices, err
}

// activeAt reports whether ag delivers at now.
func activeAt(ag policy.AgreementInfo, now time.Time) bool {
	return ag.Status == agreements.StatusActive && (ag.ValidFrom.IsZero() || !now.Before(ag.ValidFrom)) &&
		(ag.ValidUntil.IsZero() || now.Before(ag.ValidUntil))
}

func gaugeOf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// judge closes the open silences of w that a record newer than their
// start ended, opens one when w is silent now, and reports whether it is;
// it returns the notices of the events this process changed.
func (m *Monitor) judge(ctx context.Context, w watched, open []sla.Event, now time.Time) (bool, []sla.Notice, error) {
	if w.cal == nil {
		w.cal = sla.WallTime{}
	}
	start := w.cal.Deadline(w.last, w.every) // when the current silence starts (or started)
	var notices []sla.Notice
	stillOpen := false
	for _, e := range open {
		if !start.After(e.Start) {
			stillOpen = stillOpen || e.Start.Equal(start)
			continue
		}
		// A record accepted since the silence started ends it then (a
		// record flushed late by another process may predate it: 0 long).
		e.End = w.last
		if e.End.Before(e.Start) {
			e.End = e.Start
		}
		closed, err := m.store.CloseSilence(ctx, e)
		if err != nil {
			return false, notices, fmt.Errorf("closing the silence of %s: %w", silenceName(e), err)
		}
		if closed {
			m.log.Info(silenceKind(e)+" silence ended", "dataset", e.Dataset, "agreement", e.Agreement, "start", e.Start, "end", e.End, "duration", e.Duration(now))
			notices = append(notices, silenceNotices(sla.KindSilenceEnded, w.to, e, now)...)
		}
	}
	silent := !now.Before(start)
	if silent && !stillOpen {
		e := w.key
		e.Start = start
		opened, err := m.store.OpenSilence(ctx, e)
		if err != nil {
			return silent, notices, fmt.Errorf("opening the silence of %s: %w", silenceName(e), err)
		}
		if opened {
			m.log.Warn(silenceKind(e)+" silent", "dataset", e.Dataset, "agreement", e.Agreement, "expected_every", w.every, "last_record", w.last, "since", start)
			notices = append(notices, silenceNotices(sla.KindSilenceStarted, w.to, e, now)...)
		}
	}
	return silent, notices, nil
}

// silenceKind is "dataset" or "agreement", for logs.
func silenceKind(e sla.Event) string {
	if e.Agreement != "" {
		return "agreement"
	}
	return "dataset"
}

// silenceName names what e is the silence of, for errors.
func silenceName(e sla.Event) string {
	if e.Agreement != "" {
		return "agreement " + e.Agreement
	}
	return e.Dataset
}

// forget drops the gauges of datasets and agreements no longer monitored.
func (m *Monitor) forget(seen, seenAg map[string]bool) {
	for ds := range m.shown {
		if !seen[ds] {
			m.metrics.silent.DeleteLabelValues(ds)
			m.metrics.lastRecord.DeleteLabelValues(ds)
		}
	}
	for ag := range m.shownAg {
		if !seenAg[ag] {
			m.metrics.agreementSilent.DeleteLabelValues(ag)
		}
	}
	m.shown, m.shownAg = seen, seenAg
}

// silenceNotices is one notice of e per distinct recipient.
func silenceNotices(kind string, to []string, e sla.Event, now time.Time) []sla.Notice {
	var out []sla.Notice
	for i, agency := range to {
		if agency == "" || slices.Contains(to[:i], agency) {
			continue
		}
		out = append(out, silenceNotice(kind, agency, e, now))
	}
	return out
}

func silenceNotice(kind, agency string, e sla.Event, now time.Time) sla.Notice {
	n := sla.Notice{Agency: agency, Kind: kind, Dataset: e.Dataset, Agreement: e.Agreement, Partition: -1, Offset: -1, At: now}
	start := e.Start
	n.WindowStart = &start
	if !e.Open() {
		end := e.End
		n.WindowEnd = &end
	}
	return n
}
