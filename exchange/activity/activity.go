package activity

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/sla"
)

// DefaultInterval is how often a summary is logged while records flow.
const DefaultInterval = 10 * time.Second

// Log aggregates batch activity and logs it every interval. It implements
// exchange.ActivityObserver; one Log serves every worker of a process.
type Log struct {
	log      *slog.Logger
	interval time.Duration

	mu       sync.Mutex
	datasets map[string]*counts             // since the last summary
	firsts   []first                        // first occurrences not logged yet
	seen     map[exchange.DatasetLabel]bool // quarantine reasons already reported
}

// counts is one dataset's activity since the last summary.
type counts struct {
	in, warned  int
	delivered   map[string]int // by agreement
	quarantined map[string]int // by reason code
	skipped     map[string]int // by "agreement/reason"
}

// first is the first record of a dataset quarantined for a reason.
type first struct {
	dataset, reason, detail string
}

// New returns a Log writing to log every interval (DefaultInterval when 0
// or less).
func New(log *slog.Logger, interval time.Duration) *Log {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Log{log: log, interval: interval, datasets: map[string]*counts{}, seen: map[exchange.DatasetLabel]bool{}}
}

// ObserveActivity adds one batch's counts (exchange.ActivityObserver).
func (l *Log) ObserveActivity(b exchange.BatchActivity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ds, n := range b.In {
		l.dataset(ds).in += n
	}
	for k, n := range b.Delivered {
		l.dataset(k.Dataset).delivered[k.Label] += n
	}
	for k, n := range b.Quarantined {
		l.dataset(k.Dataset).quarantined[k.Label] += n
	}
	for k, n := range b.Warned {
		l.dataset(k.Dataset).warned += n
	}
	for k, n := range b.Skipped {
		l.dataset(k.Dataset).skipped[k.Agreement+"/"+k.Reason] += n
	}
	for k, detail := range b.Details {
		if !l.seen[k] {
			l.seen[k] = true
			l.firsts = append(l.firsts, first{dataset: k.Dataset, reason: k.Label, detail: withoutEventTime(detail)})
		}
	}
}

func (l *Log) dataset(ds string) *counts {
	c := l.datasets[ds]
	if c == nil {
		c = &counts{delivered: map[string]int{}, quarantined: map[string]int{}, skipped: map[string]int{}}
		l.datasets[ds] = c
	}
	return c
}

// Run logs a summary every interval until ctx ends, then logs what is left.
func (l *Log) Run(ctx context.Context) error {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.Flush()
			return nil
		case <-t.C:
			l.Flush()
		}
	}
}

// Flush logs the first occurrences and the summary of every dataset that
// saw records since the last flush, and starts a new interval.
func (l *Log) Flush() {
	l.mu.Lock()
	datasets, firsts := l.datasets, l.firsts
	l.datasets, l.firsts = map[string]*counts{}, nil
	l.mu.Unlock()
	for _, f := range firsts {
		l.log.Info(fmt.Sprintf("activity: first record of %s quarantined for %s: %s", f.dataset, f.reason, f.detail),
			"dataset", f.dataset, "reason", f.reason, "detail", f.detail)
	}
	for _, ds := range slices.Sorted(maps.Keys(datasets)) {
		l.summary(ds, datasets[ds])
	}
}

// summary logs one dataset's line: a readable message and the same counts
// as keys (totals, then delivered_to.<agreement>, quarantined_for.<reason>,
// skipped_by.<agreement/reason>).
func (l *Log) summary(ds string, c *counts) {
	delivered, quarantined, skipped := sum(c.delivered), sum(c.quarantined), sum(c.skipped)
	msg := fmt.Sprintf("activity: %s: %d in, %d delivered%s, %d quarantined%s, %d skipped%s",
		ds, c.in, delivered, breakdown(c.delivered), quarantined, breakdown(c.quarantined), skipped, breakdown(c.skipped))
	if c.warned > 0 {
		msg += fmt.Sprintf(", %d warnings", c.warned)
	}
	l.log.Info(msg, "dataset", ds, "interval", l.interval.String(),
		"in", c.in, "delivered", delivered, "quarantined", quarantined, "skipped", skipped, "warned", c.warned,
		group("delivered_to", c.delivered), group("quarantined_for", c.quarantined), group("skipped_by", c.skipped))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// breakdown is " (a 3, b 1)" in key order, "" for an empty map.
func breakdown(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// group is m as a log group, keys in order.
func group(name string, m map[string]int) slog.Attr {
	attrs := make([]any, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		attrs = append(attrs, slog.Int(k, m[k]))
	}
	return slog.Group(name, attrs...)
}

// withoutEventTime drops the record's event time from a detail: the event
// time can itself be personal (a vaccination time), and the log is read by
// more people than the ledger and the quarantine topic, which keep it. The
// lag and the bound stay, which is what an operator acts on. (Notices to
// providers drop it the same way.)
func withoutEventTime(detail string) string { return sla.WithoutValues(detail) }
