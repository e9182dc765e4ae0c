package app

import (
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/timeliness"
)

// newTimeliness builds silence detection, the SLA aggregator and the
// notices producer (its clients open no connection before the first
// notice).
func (a *App) newTimeliness() error {
	m, n := a.tmetrics, a.notifier
	log := a.log.With("component", "timeliness")
	tc := a.cfg.Timeliness
	a.aggregator = timeliness.NewAggregator(a.db, n, a.owner, timeliness.AggregatorConfig{
		FlushInterval: tc.FlushInterval, NoticesPerMinute: tc.NoticesPerMinute, NoticeWindow: tc.NoticeWindow,
		Logger: log, Metrics: m,
	})
	a.monitor = timeliness.NewMonitor(a.db, a.holder, n, timeliness.MonitorConfig{
		CheckInterval: tc.CheckInterval, Logger: log, Metrics: m,
	})
	return nil
}

// newNotifier builds the notices producer and notifier before the first
// plan: the file sync of that plan's agreements already sends notices.
func (a *App) newNotifier() error {
	a.tmetrics = timeliness.NewMetrics(a.cfg.Metrics)
	var err error
	a.notices, err = timeliness.NewKafkaProducer(a.cfg.Kafka, false, a.reg)
	if err != nil {
		return err
	}
	a.notifier = timeliness.NewNotifier(a.db, a.notices, a.tmetrics, a.log.With("component", "timeliness"))
	return nil
}

// owner is the agency owning dataset in the plan in force ("" when none).
func (a *App) owner(dataset string) string {
	if plan := a.holder.Load(); plan != nil {
		if c, ok := plan.Contract(dataset); ok {
			return c.Owner
		}
	}
	return ""
}

// fanout tells every observer of it each batch's activity.
type fanout []exchange.ActivityObserver

// ObserveActivity passes b on, in order.
func (f fanout) ObserveActivity(b exchange.BatchActivity) {
	for _, o := range f {
		o.ObserveActivity(b)
	}
}
