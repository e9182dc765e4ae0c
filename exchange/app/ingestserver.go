// HTTP ingest run alone (`exchange connect http-ingest`): the connector of
// ingest.go without the exchange around it, so that it can be scaled and
// deployed apart from the record workers. It shares the exchange's store
// (the registry it reads; the Idempotency-Key entries that every ingest
// process and the exchange honour) and contracts directory, and serves
// nothing else: no registry, no audit, agreements or other API.

package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/schemas"
)

// IngestConfig is what HTTP ingest run alone needs. Zero values take the
// defaults named on each field.
type IngestConfig struct {
	// Kafka is the cluster and the principal the records are produced as
	// (brokers required): the exchange's own, granted WRITE on every
	// ingress topic with http_ingest enabled, or one agency's user, which
	// may write only its own datasets' ingress topics.
	Kafka          kafkaclient.Config
	DatabaseURL    string        // the exchange's store; required
	ContractsDir   string        // the exchange's contracts directory; required
	ReloadInterval time.Duration // how often ContractsDir is polled; default 1s
	Logger         *slog.Logger
	// Metrics registry; default a new one with Go and process collectors.
	Metrics *prometheus.Registry
	// TracerProvider for request spans; default no-op.
	TracerProvider trace.TracerProvider
	// HTTP is who may call; NewIngestServer refuses a zero value unless
	// HTTP.Insecure (and even then HTTP ingest answers an anonymous
	// request 401).
	HTTP HTTPSecurity
	// HTTPIngest tunes the connector; its Enabled is not consulted:
	// running the connector alone is that choice.
	HTTPIngest httpingest.Config
}

// IngestServer is HTTP ingest run alone, ready to Run.
type IngestServer struct {
	cfg     IngestConfig
	log     *slog.Logger
	db      store.Backend
	builder *planBuilder // loads and validates the documents only
	set     atomic.Pointer[agreements.Set]
	ingest  ingest
	http    *server.Server
}

// NewIngestServer opens the store and loads the contracts. It compiles
// no plan: the contracts' owners and key fields are all HTTP ingest needs,
// so the process holds neither the pseudonym key nor the ledger key, and
// writes nothing to the store but Idempotency-Key entries.
func NewIngestServer(ctx context.Context, cfg IngestConfig) (*IngestServer, error) {
	if err := cfg.Kafka.Validate(); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL == "" || cfg.ContractsDir == "" {
		return nil, errors.New("database URL and contracts directory are required")
	}
	if err := cfg.HTTP.check(); err != nil {
		return nil, err
	}
	cfg.Logger, cfg.Metrics, cfg.TracerProvider = telemetryDefaults(cfg.Logger, cfg.Metrics, cfg.TracerProvider)
	if cfg.ReloadInterval <= 0 {
		cfg.ReloadInterval = time.Second
	}
	s := &IngestServer{cfg: cfg, log: cfg.Logger, builder: &planBuilder{dir: cfg.ContractsDir, log: cfg.Logger}}
	set, err := s.builder.loadDocuments(ctx)
	if err != nil {
		return nil, err
	}
	s.set.Store(set)
	if s.db, err = store.Open(ctx, cfg.DatabaseURL, store.WithLogger(cfg.Logger)); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", store.Redact(cfg.DatabaseURL), err)
	}
	// Read only: nothing this process serves writes to the registry.
	reg := schemas.NewRegistry(s.db.Schemas(), schemas.WithLogger(cfg.Logger))
	ds := contractDatasets(func(id string) (*agreements.DataContract, bool) { return s.set.Load().Contract(id) })
	s.ingest, err = buildIngest(ingestDeps{cfg: cfg.HTTPIngest, kafka: cfg.Kafka, datasets: ds, reg: reg, db: s.db,
		log: cfg.Logger, metrics: cfg.Metrics, tp: cfg.TracerProvider})
	if err != nil {
		s.db.Close()
		return nil, err
	}
	s.http = server.New(cfg.Logger, cfg.Metrics, cfg.HTTP.serverOptions()...)
	cfg.HTTP.secure(s.http)
	s.ingest.mount(s.http)
	s.http.AddCheck("store", s.db.Ping)
	s.http.AddCheck("kafka", brokerReachable(cfg.Kafka.Brokers[0]))
	return s, nil
}

// Server is the HTTP server, for a caller that sets readiness details.
func (s *IngestServer) Server() *server.Server { return s.http }

// Datasets is how many contracts are in force.
func (s *IngestServer) Datasets() int { return len(s.set.Load().Contracts) }

// Reload loads the contracts directory now; on a problem the contracts in
// force stay, and /readyz names the problem until a good reload.
func (s *IngestServer) Reload(ctx context.Context) error {
	set, err := s.builder.loadDocuments(ctx)
	if err != nil {
		s.log.Error("contracts change refused; the previous contracts stay in force", "err", err)
		s.http.SetDetail("contracts", "change refused, the previous contracts stay in force: "+err.Error())
		return err
	}
	s.set.Store(set)
	s.http.SetDetail("contracts", "")
	s.log.Info("contracts reloaded", "datasets", len(set.Contracts))
	return nil
}

// Run serves HTTP on ln, reloads the contracts when their directory
// changes and purges expired Idempotency-Key entries, until ctx is
// cancelled (then requests in flight finish) or one of them fails.
func (s *IngestServer) Run(ctx context.Context, ln net.Listener) error {
	g := newGroup(ctx, s.log)
	g.run("contracts reloader", func(ctx context.Context) error {
		return watchPolicy(ctx, s.builder, s.cfg.ReloadInterval, nil, s.log, func(ctx context.Context) { _ = s.Reload(ctx) })
	})
	g.run("http ingest key purge", s.ingest.run)
	g.serveHTTP(s.http, ln, s.cfg.HTTP.MetricsListener)
	return g.wait()
}

// Close closes the producer (what it has in flight is written first), its
// Kafka clients and the store. Run closes nothing itself.
func (s *IngestServer) Close() error { return errors.Join(s.ingest.close(), s.db.Close()) }
