// HTTP ingest (connectors/httpingest) in the assembled exchange: the
// handler over the plan in force, the registry, the store's idempotency
// keys and a producer of its own as the exchange's Kafka principal.

package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server"
	"github.com/exchange-gov/exchange/exchange/store"
)

// ingestPath is what the index at / lists for HTTP ingest.
const ingestPath = "/api/v1/datasets/{dataset}/records"

// ingest is the running connector; nil fields when it is disabled.
type ingest struct {
	handler  *httpingest.Handler
	producer *httpingest.KafkaProducer
	clients  *kafkaclient.Clients
}

// newIngest builds HTTP ingest when the configuration enables it.
func (a *App) newIngest() error {
	if !a.cfg.HTTPIngest.Enabled {
		return nil
	}
	ds := contractDatasets(func(id string) (*agreements.DataContract, bool) {
		plan := a.holder.Load()
		if plan == nil {
			return nil, false
		}
		return plan.Contract(id)
	})
	var err error
	a.ingest, err = buildIngest(ingestDeps{cfg: a.cfg.HTTPIngest, kafka: a.cfg.Kafka.Config, datasets: ds, reg: a.reg, db: a.db,
		log: a.log, metrics: a.cfg.Metrics, tp: a.cfg.TracerProvider})
	return err
}

// ingestDeps is what HTTP ingest is built from, in the exchange (App)
// and alone (IngestServer).
type ingestDeps struct {
	cfg      httpingest.Config
	kafka    kafkaclient.Config // the principal it produces as
	datasets httpingest.Datasets
	reg      httpingest.Schemas
	db       store.IngestKeys
	log      *slog.Logger
	metrics  prometheus.Registerer
	tp       trace.TracerProvider
}

// buildIngest builds the handler over its own Kafka clients and producer
// and the store's idempotency keys.
func buildIngest(d ingestDeps) (ingest, error) {
	c, err := kafkaclient.New(d.kafka)
	if err != nil {
		return ingest{}, fmt.Errorf("connectors.http_ingest: %w", err)
	}
	p := httpingest.NewKafkaProducer(c)
	h, err := httpingest.New(d.cfg, d.datasets, d.reg, p,
		httpingest.WithKeys(storeKeys{d.db}), httpingest.WithLogger(d.log.With("connector", "http_ingest")),
		httpingest.WithMetrics(d.metrics), httpingest.WithTracerProvider(d.tp))
	if err != nil {
		c.Close()
		return ingest{}, err
	}
	return ingest{handler: h, producer: p, clients: c}, nil
}

// mountIngest mounts the handler (enabled only).
func (a *App) mountIngest() { a.ingest.mount(a.http) }

// mount puts the handler on srv and in its index (nothing when disabled).
func (in ingest) mount(srv *server.Server) {
	if in.handler == nil {
		return
	}
	srv.Handle(httpingest.Route, in.handler)
	srv.Describe(ingestPath, "HTTP ingest: POST a JSON array of a dataset's records as a publisher of its owner (Idempotency-Key optional)")
}

// runIngest purges expired idempotency keys while the app runs.
func (a *App) runIngest(ctx context.Context) error { return a.ingest.run(ctx) }

// run purges expired idempotency keys until ctx ends.
func (in ingest) run(ctx context.Context) error { return in.handler.RunPurge(ctx, time.Hour) }

// closeIngest closes the producer, then its clients.
func (a *App) closeIngest() error { return a.ingest.close() }

func (in ingest) close() error {
	if in.producer == nil {
		return nil
	}
	err := in.producer.Close()
	in.clients.Close()
	return err
}

// IngestEnabled reports whether HTTP ingest is mounted.
func (a *App) IngestEnabled() bool { return a.ingest.handler != nil }

// contractDatasets answers the handler from the contracts in force at
// each request: the plan's in the exchange, the documents' alone.
type contractDatasets func(dataset string) (*agreements.DataContract, bool)

func (d contractDatasets) Dataset(id string) (httpingest.Dataset, bool) {
	c, ok := d(id)
	if !ok {
		return httpingest.Dataset{}, false
	}
	return httpingest.Dataset{Owner: c.Owner, KeyField: c.Key}, true
}

// storeKeys keeps the handler's Idempotency-Key entries in the store.
type storeKeys struct{ db store.IngestKeys }

func (s storeKeys) Claim(ctx context.Context, c httpingest.Claim, now time.Time) (httpingest.Prior, bool, error) {
	prior, ok, err := s.db.ClaimIngestKey(ctx, store.IngestKey{Principal: c.Principal, Key: c.Key, RequestHash: c.RequestHash,
		Created: c.Created, Expires: c.Expires, LockedUntil: c.LockedUntil}, now)
	return httpingest.Prior{RequestHash: prior.RequestHash, Status: prior.Status, Body: prior.Body}, ok, err
}

func (s storeKeys) Answer(ctx context.Context, principal, key string, status int, body []byte) error {
	return s.db.AnswerIngestKey(ctx, principal, key, status, body)
}

func (s storeKeys) Release(ctx context.Context, principal, key string) error {
	return s.db.ReleaseIngestKey(ctx, principal, key)
}

func (s storeKeys) Purge(ctx context.Context, now time.Time) (int64, error) {
	return s.db.PurgeIngestKeys(ctx, now)
}
