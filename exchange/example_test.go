package exchange_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
)

// printLedger stands in for a ledger store (exchange/store/sqlite,
// exchange/store/postgres): Append must be durable before it returns.
type printLedger struct{ log *slog.Logger }

func (l printLedger) Append(_ context.Context, es []ledger.Entry) error {
	l.log.Info("audited", "entries", len(es))
	return nil
}

// Wiring a worker: a plan holder the reloader swaps plans into, a ledger,
// metrics on the process registry. Run returns after a graceful drain when
// the context is cancelled (here: SIGINT or SIGTERM).
func ExampleNewWorker() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	plans := &policy.Holder{} // plans.Store(plan) on every (re)load
	metrics := exchange.NewMetrics(prometheus.NewRegistry())

	w, err := exchange.NewWorker(exchange.WorkerConfig{
		Brokers: []string{"127.0.0.1:9092"},
		GroupID: "exchange",
	}, plans, printLedger{log}, exchange.WithLogger(log), exchange.WithMetrics(metrics))
	if err != nil {
		log.Error("worker config", "err", err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := w.Run(ctx); err != nil {
		log.Error("worker failed", "err", err)
	}
}
