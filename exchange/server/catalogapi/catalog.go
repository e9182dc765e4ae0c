package catalogapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// SchemaSource gives the latest version of a registry subject
// (*schemas.Registry).
type SchemaSource interface {
	Latest(ctx context.Context, subject string) (schemas.SchemaVersion, error)
}

// Config is what the handler needs. Plan, Agencies, Requests, Documents
// and Proposer are required.
type Config struct {
	// Plan is the plan in force: the datasets and their contracts.
	Plan func() *policy.Plan
	// Agencies are the agencies of the documents in force, with their
	// stewards: only a steward listed for an agency acts for it.
	Agencies func() []agreements.Agency
	// Schemas gives each dataset's latest schema; nil: the catalog shows none.
	Schemas SchemaSource
	// Requests keeps the access requests.
	Requests store.AccessRequests
	// Documents lists the agreement ids in use, to number a proposed one.
	Documents store.AgreementStore
	// Proposer proposes the agreement of an accepted request.
	Proposer Proposer
	// Notify sends notices to agencies (timeliness.Notifier.Send); nil:
	// none are sent.
	Notify func(ctx context.Context, ns []sla.Notice)
	Log    *slog.Logger // default: discard
	Now    func() time.Time
}

// Handler serves the catalog and the access requests.
type Handler struct {
	cfg Config
	// decide serialises decisions in this process, so that two accepted
	// requests do not pick the same agreement number; across processes
	// the store's unique agreement id catches it.
	decide sync.Mutex
	// pending counts notices in flight (Drain).
	pending sync.WaitGroup
}

// New returns the handler of cfg.
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}
}

// Mux is where Mount adds the routes (*server.Server, *http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Mount adds every route of the package to m.
func (h *Handler) Mount(m Mux) {
	m.Handle("GET /api/v1/catalog", http.HandlerFunc(h.list))
	m.Handle("GET /api/v1/catalog/{dataset}", http.HandlerFunc(h.one))
	m.Handle("POST /api/v1/catalog/{dataset}/requests", http.HandlerFunc(h.file))
	m.Handle("GET /api/v1/catalog/requests", http.HandlerFunc(h.requests))
	m.Handle("GET /api/v1/catalog/requests/{id}", http.HandlerFunc(h.request))
	m.Handle("POST /api/v1/catalog/requests/{id}/decision", http.HandlerFunc(h.decision))
}

// Dataset is one entry of the catalog.
type Dataset struct {
	Dataset     string `json:"dataset"`
	Owner       string `json:"owner"`
	Description string `json:"description"`
	Subject     string `json:"subject"`
	// DataSubject names the field identifying the person a record is about.
	DataSubject string        `json:"data_subject,omitempty"`
	Key         string        `json:"key,omitempty"`
	Fields      []Field       `json:"fields"`
	Quality     []QualityRule `json:"quality"`
	Freshness   *Freshness    `json:"freshness"`
	Schema      *Schema       `json:"schema"`
}

// Field is a field's classification.
type Field struct {
	Name           string `json:"name"`
	Classification string `json:"classification"`
}

// QualityRule is a rule of the contract (CEL over the record).
type QualityRule struct {
	Name        string `json:"name"`
	Rule        string `json:"rule"`
	Severity    string `json:"severity"`
	Description string `json:"description,omitempty"`
}

// Freshness is the contract's freshness SLA.
type Freshness struct {
	EventTime     string `json:"event_time"`
	MaxAge        string `json:"max_age,omitempty"`
	ExpectedEvery string `json:"expected_every,omitempty"`
	Calendar      string `json:"calendar,omitempty"`
	OnStale       string `json:"on_stale"`
}

// Schema is the latest version of the dataset's ingress subject.
type Schema struct {
	Subject string          `json:"subject"`
	Version int             `json:"version"`
	ID      int             `json:"id"`
	Schema  json.RawMessage `json:"schema"`
}

// Catalog is the answer of GET /api/v1/catalog.
type Catalog struct {
	Datasets []Dataset `json:"datasets"`
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	plan := h.cfg.Plan()
	out := Catalog{Datasets: []Dataset{}}
	for _, d := range plan.Datasets() {
		if c, ok := plan.Contract(d); ok {
			out.Datasets = append(out.Datasets, h.entry(r.Context(), c))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) one(w http.ResponseWriter, r *http.Request) {
	c, ok := h.cfg.Plan().Contract(r.PathValue("dataset"))
	if !ok {
		writeError(w, http.StatusNotFound, "dataset "+r.PathValue("dataset")+": not in the catalog")
		return
	}
	writeJSON(w, http.StatusOK, h.entry(r.Context(), c))
}

// entry describes one contract: what it says, and its latest schema.
func (h *Handler) entry(ctx context.Context, c *agreements.DataContract) Dataset {
	d := Dataset{
		Dataset: c.Dataset, Owner: c.Owner, Description: c.Description, Subject: c.Subject,
		DataSubject: c.DataSubject, Key: c.Key, Fields: []Field{}, Quality: []QualityRule{},
	}
	for _, f := range c.Fields {
		d.Fields = append(d.Fields, Field{Name: f.Name, Classification: string(f.Class)})
	}
	for _, q := range c.Quality {
		d.Quality = append(d.Quality, QualityRule{Name: q.Name, Rule: q.Rule, Severity: string(q.Severity), Description: q.Description})
	}
	if f := c.Freshness; f != nil {
		d.Freshness = &Freshness{EventTime: f.EventTime, Calendar: f.Calendar, OnStale: string(f.OnStale)}
		if !f.MaxAge.IsZero() {
			d.Freshness.MaxAge = f.MaxAge.String()
		}
		if !f.ExpectedEvery.IsZero() {
			d.Freshness.ExpectedEvery = f.ExpectedEvery.String()
		}
	}
	if h.cfg.Schemas != nil {
		v, err := h.cfg.Schemas.Latest(ctx, c.Subject)
		switch {
		case err == nil && json.Valid([]byte(v.Text)):
			d.Schema = &Schema{Subject: v.Subject, Version: v.Version, ID: v.ID, Schema: json.RawMessage(v.Text)}
		case err != nil && !errors.Is(err, schemas.ErrSubjectNotFound):
			h.cfg.Log.Warn("catalog: reading the latest schema", "subject", c.Subject, "err", err)
		}
	}
	return d
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// writeProblems answers 400 with every problem of a request.
func writeProblems(w http.ResponseWriter, msg string, problems []string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": msg, "problems": problems})
}

// writeRefusal answers with an *auth.Error's status and body.
func writeRefusal(w http.ResponseWriter, e *auth.Error) { e.Write(w, nil, auth.FormatAPI) }
