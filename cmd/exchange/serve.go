package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/exchange/activity"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/config"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server"
)

func init() {
	register("serve", "run the exchange against external Kafka and PostgreSQL (production)", runServe)
}

// errNoKafkaAuth is why serve refuses a kafka block without authentication.
var errNoKafkaAuth = errors.New("kafka: no authentication configured (kafka.sasl, or kafka.tls.cert_file and key_file): " +
	"any client of the brokers could read raw ingress records and write forged deliveries; " +
	"configure SASL or a client certificate, or pass --insecure to run anyway (experiments only)")

// insecureWarning is logged and shown on /readyz when --insecure let serve
// start without Kafka authentication.
const insecureWarning = "INSECURE: started with --insecure and no Kafka authentication; any Kafka client can bypass the exchange's agreements"

// warnInsecure says loudly, in the log and on /readyz, that the exchange
// runs without Kafka authentication.
func warnInsecure(log *slog.Logger, s *server.Server, k kafkaclient.Config) {
	log.Warn(insecureWarning, "kafka", k)
	s.SetDetail("kafka_security", insecureWarning)
}

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("exchange serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "exchange.yaml (environment variables EXCHANGE_* override it)")
	workers := fs.Int("workers", 1, "record workers in this process (each a member of the consumer group)")
	logJSON := fs.Bool("log-json", true, "log JSON lines (false: text)")
	insecure := fs.Bool("insecure", false, "run without authentication where none is configured: against brokers without it (no kafka.sasl, no TLS client certificate: any client could then read raw ingress and forge deliveries) and with an HTTP surface open to anyone (no auth.oidc, auth.basic or http.tls.client_ca); for experiments only")
	activityEvery := fs.Duration("activity-interval", activity.DefaultInterval, activityUsage)
	seed := fs.Bool("seed-from-files", false, "let an agreement id the store has never seen take the status and approvals its file declares, once (to migrate an existing estate); without it a new id is recorded as proposed with no approvals")
	usageWith(fs, serveHelp)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	sv, err := startServing(ctx, cfg, *insecure, *logJSON)
	if err != nil {
		return err
	}
	defer sv.close() // after the drain: the last batches' spans too
	log, sec, ln := sv.log, sv.sec, sv.ln
	consoleCfg, err := consoleSignin(cfg)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, app.Config{
		Console:          consoleCfg,
		Kafka:            cfg.Kafka,
		Worker:           cfg.Worker,
		DatabaseURL:      cfg.Database.URL,
		ContractsDir:     cfg.Contracts.Dir,
		KeyFile:          cfg.Secrets.KeyFile,
		SigningKeyFile:   cfg.Secrets.SigningKeyFile,
		Workers:          *workers,
		ActivityInterval: activityInterval(*activityEvery),
		Logger:           log,
		TracerProvider:   sv.tp,
		HTTP:             sec,
		SeedFromFiles:    *seed,
		HTTPIngest:       cfg.Connectors.HTTPIngest,
		Outboxes:         cfg.Connectors.Outboxes,
		Webhooks:         cfg.Connectors.Webhooks,
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if *insecure && !cfg.Kafka.Authenticated() {
		warnInsecure(log, a.Server(), cfg.Kafka.Config)
	}
	log.Info("exchange serving", "http", ln.Addr().String(), "tls", sec.TLS != nil, "brokers", cfg.Kafka.Brokers, "plan", a.Plan().Version(), "datasets", len(a.Plan().Datasets()))
	return a.Run(ctx, ln)
}

// serving is what serve and connect http-ingest set up alike from
// exchange.yaml before their process starts.
type serving struct {
	log   *slog.Logger
	sec   app.HTTPSecurity
	ln    net.Listener // http.addr; sec.MetricsListener: http.metrics_addr
	tp    trace.TracerProvider
	close func() // flushes the traces, then closes the listeners
}

// startServing refuses Kafka or HTTP without authentication unless
// insecure, then builds the logger, the HTTP security, the listeners and
// tracing.
func startServing(ctx context.Context, cfg config.Config, insecure, logJSON bool) (*serving, error) {
	if !cfg.Kafka.Authenticated() && !insecure {
		return nil, errNoKafkaAuth
	}
	log := stderrLogger(logJSON)
	sec, err := httpSecurity(ctx, cfg, insecure, log) // errNoHTTPAuth without insecure
	if err != nil {
		return nil, err
	}
	ln, closeListeners, err := listenHTTP(cfg.HTTP, &sec)
	if err != nil {
		return nil, err
	}
	tp, flushTraces, err := startTracing(ctx, cfg.Tracing.OTLPEndpoint, cfg.Tracing.SampleRatio, log)
	if err != nil {
		closeListeners()
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return &serving{log: log, sec: sec, ln: ln, tp: tp, close: func() { flushTraces(); closeListeners() }}, nil
}

// stderrLogger logs JSON lines (or text) to stderr.
func stderrLogger(logJSON bool) *slog.Logger {
	if logJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// listenHTTP binds http.addr and, when set, http.metrics_addr (into
// sec.MetricsListener); closeAll closes both.
func listenHTTP(cfg config.HTTP, sec *app.HTTPSecurity) (ln net.Listener, closeAll func(), err error) {
	if ln, err = listen("http.addr", cfg.Addr); err != nil {
		return nil, nil, err
	}
	if cfg.MetricsAddr != "" {
		if sec.MetricsListener, err = listen("http.metrics_addr", cfg.MetricsAddr); err != nil {
			ln.Close()
			return nil, nil, err
		}
	}
	return ln, func() {
		ln.Close()
		if sec.MetricsListener != nil {
			sec.MetricsListener.Close()
		}
	}, nil
}

// listen binds the address of config key key.
func listen(key, addr string) (net.Listener, error) {
	ln, err := server.Listen(addr)
	if errors.Is(err, server.ErrAddrInUse) {
		return nil, fmt.Errorf("%s %s is already in use by another process", key, addr)
	}
	return ln, err
}

// activityUsage is the --activity-interval flag's help, in dev and serve.
const activityUsage = "log a summary of the records that flowed (per dataset: in, delivered per agreement, quarantined by reason, skipped) this often while records flow; 0: no activity log"

// activityInterval maps the --activity-interval flag (0: off) to
// app.Config.ActivityInterval (negative: off).
func activityInterval(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
