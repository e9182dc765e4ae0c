package httpingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/propagation"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/schemas"
)

// produceRetryAfter is the Retry-After of a 503: Kafka did not acknowledge.
const produceRetryAfter = 5 * time.Second

// accepted is the 200 answer.
type accepted struct {
	Accepted  int        `json:"accepted"`
	Positions []Position `json:"positions"`
}

// produceAll converts every record with the dataset's latest schema and,
// only if all of them fit, produces all of them; 200 only once Kafka
// acknowledged every one.
func (h *Handler) produceAll(ctx context.Context, dataset string, ds Dataset, elems []json.RawMessage, p *auth.Principal) answer {
	subject := names.IngressSubject(dataset)
	sv, err := h.schemas.Latest(ctx, subject)
	switch {
	case errors.Is(err, schemas.ErrSubjectNotFound):
		return errorAnswer(http.StatusConflict, fmt.Sprintf("dataset %s has no schema under %s yet; register one first", dataset, subject))
	case err != nil:
		a := errorAnswer(http.StatusServiceUnavailable, "the schema registry cannot be read; retry")
		a.retryAfter, a.err = produceRetryAfter, err
		return a
	}
	enc, err := h.encoder(&sv, ds.KeyField)
	if err != nil {
		a := errorAnswer(http.StatusInternalServerError, fmt.Sprintf("the contract of %s does not fit its schema: %v", dataset, err))
		a.err = err
		return a
	}
	msgs, bad := encodeAll(enc, elems, h.headers(ctx, p))
	if bad != nil {
		return jsonAnswer(http.StatusUnprocessableEntity, map[string][]RecordError{"errors": bad})
	}
	if len(msgs) == 0 {
		return jsonAnswer(http.StatusOK, accepted{Positions: []Position{}})
	}
	pctx, cancel := context.WithTimeout(ctx, h.cfg.ProduceTimeout)
	defer cancel()
	positions, err := h.producer.Produce(pctx, names.Ingress(dataset), msgs)
	if err != nil {
		a := errorAnswer(http.StatusServiceUnavailable, fmt.Sprintf("Kafka did not acknowledge all %d records (in %v, or it refused them: the exchange logs why): none of this request is accepted, though some may have been written; retry with the same Idempotency-Key", len(msgs), h.cfg.ProduceTimeout))
		a.retryAfter, a.err = produceRetryAfter, err
		return a
	}
	a := jsonAnswer(http.StatusOK, accepted{Accepted: len(positions), Positions: positions})
	a.accepted = len(positions)
	return a
}

// headers are the headers of every record of a request: who it was
// produced for, and the request's trace context so that the pipeline's
// spans join the request's.
func (h *Handler) headers(ctx context.Context, p *auth.Principal) []kafka.Header {
	hs := []kafka.Header{{Key: HeaderPrincipal, Value: []byte(p.String())}}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	if tp := carrier.Get("traceparent"); tp != "" {
		hs = append(hs, kafka.Header{Key: "traceparent", Value: []byte(tp)})
	}
	return hs
}

type encoderKey struct {
	id       int
	keyField string
}

// encoder is the cached publish.Encoder of a schema version and key field.
func (h *Handler) encoder(sv *schemas.SchemaVersion, keyField string) (*publish.Encoder, error) {
	k := encoderKey{sv.ID, keyField}
	if e, ok := h.encoders.Load(k); ok {
		return e.(*publish.Encoder), nil
	}
	e, err := publish.NewEncoder(sv, keyField)
	if err != nil {
		return nil, err
	}
	h.encoders.Store(k, e)
	return e, nil
}

// idempotent runs do at most once per principal and Idempotency-Key: a
// retry of an answered request gets its answer back, a request while the
// first is in progress 409, the key reused for another request 422.
// Answers that say what happened (200, 422 on records) are kept; any
// other answer releases the key, so that a retry may publish.
func (h *Handler) idempotent(ctx context.Context, key, dataset string, body []byte, p *auth.Principal, do func() answer) answer {
	if h.keys == nil {
		return errorAnswer(http.StatusBadRequest, "this exchange keeps no Idempotency-Key store; send the request without the header")
	}
	if len(key) > maxKeyLen || strings.IndexFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return errorAnswer(http.StatusBadRequest, fmt.Sprintf("Idempotency-Key must be 1 to %d visible ASCII characters", maxKeyLen))
	}
	now := h.now()
	c := Claim{Principal: principalID(p), Key: key, RequestHash: requestHash(dataset, body), Created: now,
		Expires: now.Add(h.cfg.IdempotencyTTL), LockedUntil: now.Add(max(DefaultIdempotencyLock, 2*h.cfg.ProduceTimeout))}
	prior, claimed, err := h.keys.Claim(ctx, c, now)
	switch {
	case err != nil:
		a := errorAnswer(http.StatusServiceUnavailable, "the Idempotency-Key store cannot be reached; retry")
		a.retryAfter, a.err = produceRetryAfter, err
		return a
	case !claimed && prior.Status == 0:
		return errorAnswer(http.StatusConflict, "a request with this Idempotency-Key is in progress; retry once it has been answered")
	case !claimed && !bytes.Equal(prior.RequestHash, c.RequestHash):
		return errorAnswer(http.StatusUnprocessableEntity, "this Idempotency-Key was used with a different request (dataset or body); use a new key for a new request")
	case !claimed:
		return answer{status: prior.Status, body: prior.Body, replayed: true}
	}
	a := do()
	// The outcome is recorded even if the client went away meanwhile.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if a.status == http.StatusOK || a.status == http.StatusUnprocessableEntity {
		err = h.keys.Answer(sctx, c.Principal, key, a.status, a.body)
	} else {
		err = h.keys.Release(sctx, c.Principal, key)
	}
	if err != nil {
		h.log.Error("http ingest: recording the outcome of an Idempotency-Key; a retry may publish again or wait for the lock",
			"principal", p.String(), "dataset", dataset, "status", a.status, "err", err)
	}
	return a
}

// RunPurge deletes expired Idempotency-Key entries and forgets idle
// principals' rate buckets, now and every interval (default an hour),
// until ctx ends.
func (h *Handler) RunPurge(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		h.limits.prune(h.now())
		if h.keys != nil {
			n, err := h.keys.Purge(ctx, h.now())
			switch {
			case err != nil && ctx.Err() == nil:
				h.log.Error("http ingest: purging expired Idempotency-Key entries", "err", err)
			case n > 0:
				h.log.Info("http ingest: expired Idempotency-Key entries purged", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
