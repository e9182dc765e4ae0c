package httpingest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/schemas"
)

// Route is the pattern the exchange mounts the handler at.
const Route = "POST /api/v1/datasets/{dataset}/records"

// HeaderPrincipal names, on every record HTTP ingest produces, the
// authenticated HTTP principal it produced for. The exchange's Kafka
// principal writes the record; this header says for whom. Like every
// exchange-* header it stays on the ingress topic (which only the
// exchange reads) and is stripped before delivery.
const HeaderPrincipal = "exchange-ingest-principal"

// HeaderIdempotencyKey is the request header that makes a retry safe.
const HeaderIdempotencyKey = "Idempotency-Key"

// maxKeyLen bounds an Idempotency-Key (visible ASCII).
const maxKeyLen = 255

// Dataset is what the handler needs of a dataset's contract.
type Dataset struct {
	Owner    string // the agency whose publishers may post its records
	KeyField string // the contract's key: field; "" as `exchange publish`: record_id when the schema has it
}

// Datasets looks datasets up in the plan in force.
type Datasets interface {
	Dataset(id string) (Dataset, bool)
}

// Schemas is the registry: the latest version of a subject
// (schemas.ErrSubjectNotFound when it has none).
type Schemas interface {
	Latest(ctx context.Context, subject string) (schemas.SchemaVersion, error)
}

// Handler serves Route. Build it with New; safe for concurrent use.
type Handler struct {
	cfg      Config
	datasets Datasets
	schemas  Schemas
	producer Producer
	keys     Keys // nil: Idempotency-Key is refused (400)
	log      *slog.Logger
	metrics  *metrics
	tracer   trace.Tracer
	limits   *limiters
	now      func() time.Time
	encoders sync.Map // encoderKey → *publish.Encoder
}

// Option configures New.
type Option func(*Handler)

// WithKeys keeps Idempotency-Key entries in k. Default none: a request
// with the header is refused, since it could not be honoured.
func WithKeys(k Keys) Option { return func(h *Handler) { h.keys = k } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithMetrics registers the metrics on reg (default: not registered).
func WithMetrics(reg prometheus.Registerer) Option {
	return func(h *Handler) { h.metrics = newMetrics(reg) }
}

// WithTracerProvider makes a span of every request (default no-op).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(h *Handler) { h.tracer = tp.Tracer("github.com/exchange-gov/exchange/connectors/httpingest") }
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// New returns the handler of cfg (defaults applied; an invalid cfg is an
// error) over the plan's datasets, the registry and a producer.
func New(cfg Config, ds Datasets, reg Schemas, p Producer, opts ...Option) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if ds == nil || reg == nil || p == nil {
		return nil, errors.New("http ingest: datasets, schemas and producer are required")
	}
	h := &Handler{cfg: cfg, datasets: ds, schemas: reg, producer: p, log: slog.Default(), now: time.Now,
		tracer: noop.NewTracerProvider().Tracer(""), limits: newLimiters(cfg.RecordsPerSecond, cfg.Burst)}
	for _, o := range opts {
		o(h)
	}
	if h.metrics == nil {
		h.metrics = newMetrics(nil)
	}
	return h, nil
}

// Config is the configuration in force, defaults applied.
func (h *Handler) Config() Config { return h.cfg }

// answer is what a request gets.
type answer struct {
	status     int
	body       []byte
	authErr    *auth.Error // 401/403: written the way the authenticator writes them
	retryAfter time.Duration
	replayed   bool  // an Idempotency-Key's stored answer
	accepted   int   // records acknowledged
	err        error // for the log only
}

func errorAnswer(status int, msg string) answer {
	body, _ := json.Marshal(map[string]string{"error": msg})
	return answer{status: status, body: body}
}

func jsonAnswer(status int, v any) answer {
	body, err := json.Marshal(v)
	if err != nil {
		return answer{status: http.StatusInternalServerError, body: []byte(`{"error":"encoding the answer"}`), err: err}
	}
	return answer{status: status, body: body}
}

// ServeHTTP answers one request (see the package doc for every answer).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	dataset := r.PathValue("dataset")
	ctx, span := h.tracer.Start(r.Context(), "http ingest", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("exchange.dataset", dataset)))
	defer span.End()
	p, _ := auth.FromContext(ctx)
	a := h.serve(ctx, r.WithContext(ctx), dataset, p)
	switch {
	case a.authErr != nil:
		a.status = a.authErr.Status
		a.authErr.Write(w, nil, auth.FormatAPI)
	default:
		if a.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(a.retryAfter)))
		}
		if a.replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}
	h.observe(span, a, dataset, p, time.Since(start))
}

// observe counts, logs and traces an answered request; never a value of
// a record.
func (h *Handler) observe(span trace.Span, a answer, dataset string, p *auth.Principal, took time.Duration) {
	h.metrics.answered(a.status)
	h.metrics.duration.Observe(took.Seconds())
	if a.accepted > 0 && !a.replayed {
		h.metrics.records.Add(float64(a.accepted))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", a.status), attribute.Int("exchange.records", a.accepted))
	attrs := []any{"dataset", dataset, "principal", p.String(), "status", a.status, "records", a.accepted, "took", took}
	switch {
	case a.status >= 500:
		span.SetStatus(codes.Error, http.StatusText(a.status))
		h.log.Error("http ingest failed", append(attrs, "err", a.err)...)
	case a.status >= 400:
		h.log.Info("http ingest refused", attrs...)
	default:
		h.log.Debug("http ingest", append(attrs, "replayed", a.replayed)...)
	}
}

// serve decides a request: who, which dataset, limits, idempotency, then
// validate everything and produce everything.
func (h *Handler) serve(ctx context.Context, r *http.Request, dataset string, p *auth.Principal) answer {
	if p == nil {
		return answer{authErr: &auth.Error{Status: http.StatusUnauthorized, Missing: "credentials",
			Message: "HTTP ingest needs an authenticated publisher; this exchange runs without HTTP authentication"}}
	}
	ds, ok := h.datasets.Dataset(dataset)
	if !ok {
		return errorAnswer(http.StatusNotFound, fmt.Sprintf("no dataset %q in the plan in force", dataset))
	}
	if err := authorize(p, dataset, ds.Owner); err != nil {
		return answer{authErr: err}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errorAnswer(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes (connectors.http_ingest.max_body_bytes); split the array", h.cfg.MaxBodyBytes))
	case err != nil:
		return errorAnswer(http.StatusBadRequest, "reading the body: "+err.Error())
	}
	elems, err := splitArray(body, h.cfg.MaxRecords)
	var tooMany *tooManyError
	switch {
	case errors.As(err, &tooMany):
		return errorAnswer(http.StatusRequestEntityTooLarge, err.Error())
	case err != nil:
		return errorAnswer(http.StatusBadRequest, err.Error())
	}
	if ok, wait := h.limits.take(principalID(p), max(1, len(elems)), h.now()); !ok {
		a := errorAnswer(http.StatusTooManyRequests, fmt.Sprintf("over %g records per second for %s (connectors.http_ingest.records_per_second); retry after Retry-After seconds", h.cfg.RecordsPerSecond, p))
		a.retryAfter = wait
		return a
	}
	key := r.Header.Get(HeaderIdempotencyKey)
	if key == "" {
		return h.produceAll(ctx, dataset, ds, elems, p)
	}
	return h.idempotent(ctx, key, dataset, body, p, func() answer { return h.produceAll(ctx, dataset, ds, elems, p) })
}

// authorize lets an agency principal with role publisher of the owner
// agency post; anyone else gets a 403 naming the missing right.
func authorize(p *auth.Principal, dataset, owner string) *auth.Error {
	return auth.PublisherOf(p, owner, "posting records of "+dataset)
}

// principalID keys the rate limit and idempotency entries of a principal.
func principalID(p *auth.Principal) string {
	return string(p.Kind) + ":" + p.Agency + ":" + p.Subject
}

// requestHash identifies what a request asked: its dataset and body.
func requestHash(dataset string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(dataset))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}
