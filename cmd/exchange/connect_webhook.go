package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/exchange-gov/exchange/connectors/webhook"
)

func init() {
	registerConnector("webhook", "POST an agreement's deliveries to the consumer's HTTPS endpoint, signed (connectors/webhook)",
		func(ctx context.Context, args []string) error { return connectWebhook(ctx, os.Stderr, args) })
}

const connectWebhookUsage = `usage: exchange connect webhook --config FILE [--metrics-addr ADDR] [--json]

Reads each configured agreement's delivery topic as its consumer agency and
POSTs every delivery as JSON to the agency's endpoint, signed with
Exchange-Signature (HMAC-SHA256, package connectors/webhook documents how a
receiver verifies it), with Idempotency-Key = the delivery id. Offsets are
committed only after a 2xx; a failing endpoint holds its partitions.

FILE:

  webhooks:
    - agreement: health-to-social-2026-001
      consumer: social-services
      url: https://intake.social.example/exchange
      secret_file: /etc/exchange/webhook-secret      # shared with the receiver
      properties: .exchange-dev/credentials/agencies/social-services.properties
      # or kafka: {brokers: [...], sasl: {...}, tls: {...}}; registry: {url: ...}
      # tls: {ca_file, cert_file, key_file} (mTLS), timeout, max_backoff, alert_after

`

func connectWebhook(ctx context.Context, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("connect webhook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), connectWebhookUsage); fs.PrintDefaults() }
	path := fs.String("config", "", "the webhooks' configuration file (required)")
	jsonLogs := fs.Bool("json", false, "log JSON lines (default: text)")
	metricsAddr := fs.String("metrics-addr", "", "serve the connectors' metrics at http://ADDR/metrics (default: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	f, err := webhook.LoadFile(*path)
	if err != nil {
		return err
	}
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if *jsonLogs {
		h = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(h)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := webhook.NewMetrics(reg)
	if err != nil {
		return err
	}
	if *metricsAddr != "" {
		stop, err := serveMetrics(*metricsAddr, reg)
		if err != nil {
			return err
		}
		defer stop()
	}
	return webhook.RunAll(ctx, f.Webhooks, webhook.Logger(log), webhook.WithMetrics(m))
}
