package timeliness

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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
	every := c.Freshness.ExpectedEvery
	if c.Freshness.Calendar == "" {
		return every.Wall(), sla.WallTime{}, true
	}
	cal, ok := plan.Calendar(c.Freshness.Calendar)
	if !ok {
		return 0, nil, false // validation refuses an unknown calendar
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
// older than that, in its calendar's active time. It runs in every process,
// leader-less: the store's unique event key makes one process the sender
// of each notice.
type Monitor struct {
	store     sla.Store
	plans     exchange.PlanSource
	notify    *Notifier
	silenceOf SilenceSLA
	every     time.Duration
	now       func() time.Time
	log       *slog.Logger
	metrics   *Metrics
	shown     map[string]bool // datasets with gauges
}

// MonitorConfig configures NewMonitor; zero values take the defaults.
type MonitorConfig struct {
	// CheckInterval: default DefaultCheckInterval.
	CheckInterval time.Duration
	// SilenceSLA: default DefaultSilenceSLA.
	SilenceSLA SilenceSLA
	// Now: default time.Now.
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// NewMonitor returns a monitor of the datasets of plans.
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
	return &Monitor{store: st, plans: plans, notify: n, silenceOf: cfg.SilenceSLA, every: cfg.CheckInterval,
		now: cfg.Now, log: cfg.Logger, metrics: cfg.Metrics, shown: map[string]bool{}}
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
	last, err := m.store.LastAccepted(ctx)
	if err != nil {
		return fmt.Errorf("reading last accepted records: %w", err)
	}
	open, err := m.store.OpenSilences(ctx)
	if err != nil {
		return fmt.Errorf("reading open silences: %w", err)
	}
	openOf := map[string][]sla.Event{}
	for _, e := range open {
		if e.Agreement == "" {
			openOf[e.Dataset] = append(openOf[e.Dataset], e)
		}
	}
	now := m.now()
	seen := map[string]bool{}
	var notices []sla.Notice
	for _, ds := range plan.Datasets() {
		every, cal, ok := m.silenceOf(plan, ds)
		if !ok {
			continue
		}
		if cal == nil {
			cal = sla.WallTime{}
		}
		seen[ds] = true
		ns, err := m.checkDataset(ctx, ds, owner(plan, ds), cal, every, last[ds], openOf[ds], now)
		if err != nil {
			return err
		}
		notices = append(notices, ns...)
	}
	m.forget(seen)
	m.notify.Send(ctx, notices)
	return nil
}

// owner is the agency owning ds in plan.
func owner(plan *policy.Plan, ds string) string {
	if c, ok := plan.Contract(ds); ok {
		return c.Owner
	}
	return ""
}

// checkDataset closes the open silences of ds that a record newer than
// their start ended, opens one when ds is silent now, and sets its gauges;
// it returns the notices of the events this process changed. A dataset
// that never had an accepted record is not judged (there is no time to
// measure from).
func (m *Monitor) checkDataset(ctx context.Context, ds, owner string, cal sla.Calendar, every time.Duration,
	last time.Time, open []sla.Event, now time.Time) ([]sla.Notice, error) {
	if last.IsZero() {
		m.metrics.silent.WithLabelValues(ds).Set(0)
		return nil, nil
	}
	m.metrics.lastRecord.WithLabelValues(ds).Set(float64(last.UnixMicro()) / 1e6)
	start := cal.Deadline(last, every) // when the current silence starts (or started)
	var notices []sla.Notice
	stillOpen := false
	for _, e := range open {
		if !start.After(e.Start) {
			stillOpen = stillOpen || e.Start.Equal(start)
			continue
		}
		// A record accepted since the silence started ends it then (a
		// record flushed late by another process may predate it: 0 long).
		e.End = last
		if e.End.Before(e.Start) {
			e.End = e.Start
		}
		closed, err := m.store.CloseSilence(ctx, e)
		if err != nil {
			return notices, fmt.Errorf("closing the silence of %s: %w", ds, err)
		}
		if closed {
			m.log.Info("dataset silence ended", "dataset", ds, "start", e.Start, "end", e.End, "duration", e.Duration(now))
			notices = append(notices, silenceNotice(sla.KindSilenceEnded, owner, e, now))
		}
	}
	silent := !now.Before(start)
	if silent && !stillOpen {
		e := sla.Event{Dataset: ds, Start: start}
		opened, err := m.store.OpenSilence(ctx, e)
		if err != nil {
			return notices, fmt.Errorf("opening the silence of %s: %w", ds, err)
		}
		if opened {
			m.log.Warn("dataset silent", "dataset", ds, "expected_every", every, "last_record", last, "since", start)
			notices = append(notices, silenceNotice(sla.KindSilenceStarted, owner, e, now))
		}
	}
	v := 0.0
	if silent {
		v = 1
	}
	m.metrics.silent.WithLabelValues(ds).Set(v)
	return notices, nil
}

// forget drops the gauges of datasets no longer monitored.
func (m *Monitor) forget(seen map[string]bool) {
	for ds := range m.shown {
		if !seen[ds] {
			m.metrics.silent.DeleteLabelValues(ds)
			m.metrics.lastRecord.DeleteLabelValues(ds)
		}
	}
	m.shown = seen
}

func silenceNotice(kind, owner string, e sla.Event, now time.Time) sla.Notice {
	n := sla.Notice{Agency: owner, Kind: kind, Dataset: e.Dataset, Agreement: e.Agreement, Partition: -1, Offset: -1, At: now}
	start := e.Start
	n.WindowStart = &start
	if !e.Open() {
		end := e.End
		n.WindowEnd = &end
	}
	return n
}
