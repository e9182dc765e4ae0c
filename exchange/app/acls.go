package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// aclReconciler keeps the cluster's ACLs equal to those the plan in force
// grants (kafka.manage_acls): it syncs at start, at once after every plan
// change, at the next validity bound of an agreement (so an agreement
// reaching valid_until loses its READ with no file changing), and every
// resync interval (which also repairs ACLs someone else removed). It runs
// beside the record workers on clients of its own: a slow or failing
// admin API never holds up a record. A failed sync is counted, logged at
// ERROR, refuses readiness, and is retried with backoff; a change of plan
// is synced at once, whatever the backoff.
type aclReconciler struct {
	clients *kafkaclient.Clients
	opt     acl.Options
	log     *slog.Logger
	now     func() time.Time

	timeout    time.Duration // one sync
	resync     time.Duration // longest wait between two syncs
	minBackoff time.Duration // first retry after a failure, doubling
	maxBackoff time.Duration

	kick chan struct{} // a new set to sync; buffered 1

	mu       sync.Mutex
	set      *agreements.Set // of the last good plan
	lastErr  error           // of the last sync; nil after a success
	failedAt time.Time       // first failure of the current run of failures
	inARow   int             // consecutive failures
	syncedAt time.Time       // last success; zero: none yet

	failures    prometheus.Counter
	lastSuccess prometheus.Gauge
}

// newACLReconciler builds the reconciler's own Kafka clients from k (their
// principal needs ALTER on the cluster) and registers its metrics. With
// httpIngest the exchange grants itself WRITE on the ingress topics
// (acl.Options.HTTPIngest).
func newACLReconciler(k exchange.KafkaConfig, httpIngest bool, log *slog.Logger, reg prometheus.Registerer) (*aclReconciler, error) {
	c, err := kafkaclient.New(k.Config)
	if err != nil {
		return nil, fmt.Errorf("kafka.manage_acls: %w", err)
	}
	r := &aclReconciler{
		clients: c, opt: acl.Options{ExchangePrincipal: k.ExchangePrincipal(), ExchangeGroup: k.GroupID, ManageACLs: true, HTTPIngest: httpIngest},
		log: log, now: time.Now, timeout: 15 * time.Second, resync: time.Minute,
		minBackoff: 500 * time.Millisecond, maxBackoff: 30 * time.Second,
		kick: make(chan struct{}, 1),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "exchange_acl_sync_failures_total",
			Help: "ACL syncs (kafka.manage_acls) that failed; each is retried with backoff. While they fail, revocations and expiries may not be enforced by the brokers."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "exchange_acl_sync_last_success_timestamp_seconds",
			Help: "Unix time of the last ACL sync that left the cluster's ACLs equal to the plan's; 0 before the first."}),
	}
	reg.MustRegister(r.failures, r.lastSuccess)
	return r, nil
}

// update makes set the one to sync and wakes the loop without waiting.
func (r *aclReconciler) update(set *agreements.Set) {
	r.mu.Lock()
	r.set = set
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default: // a sync is already due; it will take the newest set
	}
}

// run syncs until ctx ends. It never fails: a failed sync is reported and
// retried.
func (r *aclReconciler) run(ctx context.Context) error {
	defer r.clients.Close()
	backoff := time.Duration(0)
	for {
		set, err := r.syncOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := r.resync
		now := r.now()
		if next, ok := acl.NextChange(set, now); ok && next.Sub(now) < wait {
			wait = next.Sub(now) // at that instant Compile's answer changes
		}
		if err != nil {
			backoff = min(max(2*backoff, r.minBackoff), r.maxBackoff)
			wait = min(wait, backoff)
		} else {
			backoff = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-r.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// syncOnce reconciles the cluster with the newest set, now, and records
// the outcome. It returns the set it synced.
func (r *aclReconciler) syncOnce(ctx context.Context) (*agreements.Set, error) {
	r.mu.Lock()
	set := r.set
	r.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	ch, err := aclsync.Sync(sctx, r.clients, set, r.now(), r.opt, false)
	if ctx.Err() != nil {
		return set, ctx.Err() // shutting down: not a failure
	}
	r.record(ch, err)
	return set, err
}

// record counts, logs and keeps the outcome of one sync for readiness.
func (r *aclReconciler) record(ch acl.Changes, err error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastErr = err
	if err != nil {
		if r.inARow == 0 {
			r.failedAt = now
		}
		r.inARow++
		r.failures.Inc()
		r.log.Error("ACL sync failed; the cluster may still grant what the plan no longer does; retrying",
			"err", err, "attempts", r.inARow, "failing_since", r.failedAt.Format(time.RFC3339),
			"created", ruleList(ch.Create), "deleted", ruleList(ch.Delete))
		return
	}
	r.inARow = 0
	r.syncedAt = now
	r.lastSuccess.Set(float64(now.UnixNano()) / 1e9)
	if !ch.Empty() {
		r.log.Info("ACLs reconciled with the plan", "created", ruleList(ch.Create), "deleted", ruleList(ch.Delete),
			"unmanaged_left_alone", len(ch.Foreign))
	}
}

// ready refuses readiness until the first sync succeeds and while syncs
// fail, naming the failure.
func (r *aclReconciler) ready(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.lastErr != nil:
		return fmt.Errorf("ACL sync failing since %s (%d attempts; revocations may not be enforced): %w",
			r.failedAt.Format(time.RFC3339), r.inARow, r.lastErr)
	case r.syncedAt.IsZero():
		return errors.New("ACLs not reconciled with the plan yet")
	}
	return nil
}

// ruleList is rules on one line for the log ("" when none).
func ruleList(rules []acl.Rule) string {
	s := make([]string, len(rules))
	for i, r := range rules {
		s[i] = r.String()
	}
	return strings.Join(s, "; ")
}
