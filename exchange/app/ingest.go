// HTTP ingest (connectors/httpingest) in the assembled exchange: the
// handler over the plan in force, the registry, the store's idempotency
// keys and a producer of its own as the exchange's Kafka principal.

package app

import (
	"context"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/policy"
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
	c, err := kafkaclient.New(a.cfg.Kafka.Config)
	if err != nil {
		return fmt.Errorf("connectors.http_ingest: %w", err)
	}
	p := httpingest.NewKafkaProducer(c)
	h, err := httpingest.New(a.cfg.HTTPIngest, planDatasets{a.holder.Load}, a.reg, p,
		httpingest.WithKeys(storeKeys{a.db}), httpingest.WithLogger(a.log.With("connector", "http_ingest")),
		httpingest.WithMetrics(a.cfg.Metrics), httpingest.WithTracerProvider(a.cfg.TracerProvider))
	if err != nil {
		c.Close()
		return err
	}
	a.ingest = ingest{handler: h, producer: p, clients: c}
	return nil
}

// mountIngest mounts the handler (enabled only).
func (a *App) mountIngest() {
	if a.ingest.handler == nil {
		return
	}
	a.http.Handle(httpingest.Route, a.ingest.handler)
	a.http.Describe(ingestPath, "HTTP ingest: POST a JSON array of a dataset's records as a publisher of its owner (Idempotency-Key optional)")
}

// runIngest purges expired idempotency keys while the app runs.
func (a *App) runIngest(ctx context.Context) error {
	return a.ingest.handler.RunPurge(ctx, time.Hour)
}

// closeIngest closes the producer, then its clients.
func (a *App) closeIngest() error {
	if a.ingest.producer == nil {
		return nil
	}
	err := a.ingest.producer.Close()
	a.ingest.clients.Close()
	return err
}

// IngestEnabled reports whether HTTP ingest is mounted.
func (a *App) IngestEnabled() bool { return a.ingest.handler != nil }

// planDatasets answers the handler from the plan in force at each request.
type planDatasets struct{ plan func() *policy.Plan }

func (d planDatasets) Dataset(id string) (httpingest.Dataset, bool) {
	plan := d.plan()
	if plan == nil {
		return httpingest.Dataset{}, false
	}
	c, ok := plan.Contract(id)
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
