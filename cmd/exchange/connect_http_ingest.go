package main

import (
	"context"
	"flag"
	"os"

	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/config"
)

func init() {
	registerConnector("http-ingest", "HTTP ingest alone: POST /api/v1/datasets/{dataset}/records into ingress.<dataset>", runConnectHTTPIngest)
}

// runConnectHTTPIngest is `exchange connect http-ingest --config FILE`:
// HTTP ingest as its own process (app.IngestServer), from the exchange's
// exchange.yaml, authenticated as serve is.
func runConnectHTTPIngest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("exchange connect http-ingest", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "exchange.yaml: kafka, database, contracts, auth, http, tracing, connectors.http_ingest (environment variables EXCHANGE_* override it; secrets.* and worker are not used)")
	logJSON := fs.Bool("log-json", true, "log JSON lines (false: text)")
	insecure := fs.Bool("insecure", false, "run without authentication where none is configured: against brokers without it, and with no auth.oidc, auth.basic or http.tls.client_ca (every post is then refused 401); for experiments only")
	usageWith(fs, connectHTTPIngestHelp)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.LoadIngest(*cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	sv, err := startServing(ctx, cfg, *insecure, *logJSON)
	if err != nil {
		return err
	}
	defer sv.close()
	log, sec, ln := sv.log, sv.sec, sv.ln
	s, err := app.NewIngestServer(ctx, app.IngestConfig{
		Kafka:          cfg.Kafka.Config,
		DatabaseURL:    cfg.Database.URL,
		ContractsDir:   cfg.Contracts.Dir,
		Logger:         log,
		TracerProvider: sv.tp,
		HTTP:           sec,
		HTTPIngest:     cfg.Connectors.HTTPIngest,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	if *insecure && !cfg.Kafka.Authenticated() {
		warnInsecure(log, s.Server(), cfg.Kafka.Config)
	}
	if cfg.Kafka.ManageACLs {
		log.Info("kafka.manage_acls is not used here: the exchange (serve) or exchange acl apply manages the ACLs")
	}
	log.Info("http ingest serving", "http", ln.Addr().String(), "tls", sec.TLS != nil, "kafka", cfg.Kafka.Config, "principal", cfg.Kafka.ExchangePrincipal(), "datasets", s.Datasets())
	return s.Run(ctx, ln)
}

// connectHTTPIngestHelp follows the flags in `exchange connect http-ingest --help`.
func connectHTTPIngestHelp() string {
	return `
What it serves on http.addr (HOST), and nothing else:
  POST http://HOST/api/v1/datasets/{dataset}/records   (connectors/httpingest; README "Publishing over HTTP")
  http://HOST/healthz  /readyz  /metrics

It reads the exchange's store (database.url: the schemas, and the
Idempotency-Key entries it shares with the exchange and every other ingest
process) and contracts directory (contracts.dir: owners and key fields,
reloaded when a file changes). It produces as the principal of its kafka
block: the exchange's, which the ACLs grant WRITE on every ingress topic
when connectors.http_ingest.enabled is true in the exchange's
configuration (exchange acl plan --http-ingest), or one agency's user,
which may write only that agency's datasets. Several processes may run
behind one load balancer. SIGTERM lets requests in flight finish.
`
}
