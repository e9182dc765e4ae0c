// The audit indexer of the process and the index lag the workers and
// /readyz read.

package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/indexer"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// newIndexer builds the process's audit indexer (it joins the group
// <group>.indexer, so N processes share the audit partitions) and the lag
// watch.
func (a *App) newIndexer() error {
	metrics := indexer.NewMetrics(a.cfg.Metrics)
	tuning := a.cfg.Worker.WithDefaults()
	writers := tuning.IndexWriters
	if writers == 0 {
		writers = 1
		if strings.HasPrefix(strings.ToLower(a.cfg.DatabaseURL), "postgres") {
			writers = 4 // PostgreSQL locks per chain: writers on different chains run in parallel
		}
	}
	clients, err := kafkaclient.New(a.cfg.Kafka.Config)
	if err != nil {
		return fmt.Errorf("audit indexer: %w", err)
	}
	ix, err := indexer.New(indexer.Config{
		Kafka:        a.cfg.Kafka.Config,
		Group:        a.cfg.Kafka.GroupID,
		StoreTimeout: a.cfg.Worker.LedgerTimeout,
		Writers:      writers,
		// The workers' group timings: a killed process's partitions move
		// to the survivors after the same session timeout in both groups
		// (kafka-go's 30 s default would hold the index back three times
		// as long as the deliveries).
		SessionTimeout:    tuning.SessionTimeout,
		HeartbeatInterval: tuning.HeartbeatInterval,
		RebalanceTimeout:  tuning.RebalanceTimeout,
		StallTimeout:      tuning.StallTimeout, // the workers' reader watchdog bound
	}, a.db, indexer.WithLogger(a.log.With("component", "indexer")), indexer.WithMetrics(metrics), indexer.WithClients(clients))
	if err != nil {
		clients.Close()
		return fmt.Errorf("audit indexer: %w", err)
	}
	a.indexer, a.indexClients = ix, clients
	a.indexLag = indexer.NewLagWatch(clients, a.cfg.Kafka.GroupID, indexer.LagLogger(a.log.With("component", "index lag")), indexer.LagMetrics(metrics))
	return nil
}

// workerLag is the index lag as the workers read it (exchange.IndexLag).
type workerLag struct{ w *indexer.LagWatch }

func (l workerLag) Behind() (time.Duration, bool) {
	lag := l.w.Lag()
	return lag.Behind, lag.Known
}

// runIndexer creates the audit topic when it is missing (the workers would
// too, but the indexer can only join its group once the topic exists, and
// the creation refreshes its clients' metadata at once), then runs the
// indexer until ctx ends.
func (a *App) runIndexer(ctx context.Context) error {
	err := exchange.EnsureAuditTopic(ctx, a.indexClients, names.Audit(a.cfg.Kafka.GroupID), a.cfg.Kafka.Partitions, a.cfg.Kafka.ReplicationFactor)
	if err != nil && ctx.Err() == nil {
		a.log.Warn("creating the audit topic failed; the workers create it later", "err", err)
	}
	return a.indexer.Run(ctx)
}

// indexReady is the audit_index check of /readyz: it fails while the
// index is further behind the audit topic than the workers allow (they
// are paused), and says how far behind it is.
func (a *App) indexReady(context.Context) error {
	lag, maxLag := a.indexLag.Lag(), a.cfg.Worker.WithDefaults().MaxIndexLag
	switch {
	case !lag.Known:
		return fmt.Errorf("audit index lag unknown (Kafka not answering)")
	case lag.Behind > maxLag:
		return fmt.Errorf("audit index %v behind the audit topic (%d messages), over worker.max_index_lag %v: workers paused",
			lag.Behind.Round(time.Second), lag.Messages, maxLag)
	}
	return nil
}

// WaitIndexed returns once the SQL ledger holds every decision audited in
// the audit topic when it was called (read-your-writes for audit queries
// and tests), or ctx's error.
func (a *App) WaitIndexed(ctx context.Context) error { return a.indexLag.WaitCaughtUp(ctx) }
