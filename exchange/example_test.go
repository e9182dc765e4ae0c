package exchange_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite" // sqlite:// URLs
	"github.com/exchange-gov/exchange/policy"
)

// Wiring a worker: a plan holder the reloader swaps plans into, a ledger
// store (SQLite here; postgres://… in production), metrics on the process
// registry. Run returns after a graceful drain when the context is
// cancelled (here: SIGINT or SIGTERM).
func ExampleNewWorker() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	plans := &policy.Holder{} // plans.Store(plan) on every (re)load
	metrics := exchange.NewMetrics(prometheus.NewRegistry())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := store.Open(ctx, "sqlite:///var/lib/exchange/exchange.db")
	if err != nil {
		log.Error("opening the store", "err", err)
		return
	}
	defer db.Close()

	w, err := exchange.NewWorker(exchange.WorkerConfig{
		Kafka: exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"127.0.0.1:9092"}}, GroupID: "exchange"},
	}, plans, db, exchange.WithLogger(log), exchange.WithMetrics(metrics))
	if err != nil {
		log.Error("worker config", "err", err)
		return
	}
	if err := w.Run(ctx); err != nil {
		log.Error("worker failed", "err", err)
	}
}
