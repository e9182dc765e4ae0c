package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/exchange-gov/exchange/connectors/outbox"
)

func init() {
	registerConnector("outbox", "publish an agency's PostgreSQL outbox table to its ingress topics",
		func(ctx context.Context, args []string) error { return connectOutboxCmd(ctx, args) })
}

// connectOutboxCmd is `exchange connect outbox --config FILE`: runs until
// SIGINT/SIGTERM; the position is in the agency's database, so a restart
// (or a kill -9) resumes there.
func connectOutboxCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("connect outbox", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: exchange connect outbox --config FILE [--metrics-addr HOST:PORT]

Publishes the rows of an agency's outbox table (PostgreSQL) to the ingress
topics of its datasets, at least once and in order per key, by logical
replication or by polling. The YAML names the agency, the database URL's
environment variable or file, the agency's Kafka credentials and the
registry (see the connectors/outbox package doc).

`)
		fs.PrintDefaults()
	}
	config := fs.String("config", "", "connector YAML `FILE` (required)")
	metricsAddr := fs.String("metrics-addr", "", "serve the connector's Prometheus metrics, unauthenticated, at http://`HOST:PORT`/metrics: bind a private address (default: not served)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *config == "" {
		fs.Usage()
		return exitError{2}
	}
	cfg, err := outbox.Load(*config)
	if err != nil {
		return err
	}
	kc, err := cfg.KafkaClients()
	if err != nil {
		return err
	}
	defer kc.Close()
	hc, err := cfg.RegistryClient()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	c, err := outbox.New(cfg, kc, hc, outbox.WithRegisterer(reg), outbox.WithLogger(slog.Default()))
	if err != nil {
		return err
	}
	defer c.Close()
	if *metricsAddr != "" {
		stop, err := serveMetrics(*metricsAddr, reg)
		if err != nil {
			return err
		}
		defer stop()
	}
	return c.Run(ctx)
}

// serveMetrics serves reg at addr/metrics until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "metrics server: %v\n", err)
		}
	}()
	return func() { _ = srv.Close() }, nil
}

// outboxFlag adds --outbox FILE (repeatable) to fs: outbox connectors that
// run inside the process, each from the YAML `exchange connect outbox`
// reads (loaded and validated as the flag is parsed).
func outboxFlag(fs *flag.FlagSet) *[]outbox.Config {
	var out []outbox.Config
	fs.Func("outbox", "run an agency's outbox connector inside the process, from `FILE` (the YAML of exchange connect outbox); repeatable", func(path string) error {
		c, err := outbox.Load(path)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return &out
}
