// Package auditapi serves the audit ledger over HTTP for stewards and
// governance:
//
//	GET /api/v1/audit?dataset=&agreement=&consumer=&decision=&reason=&delivery_id=&subject_hash=&from=&to=&topic=&partition=&offset=&sort=&after=&limit=
//	GET /api/v1/lineage?topic=&partition=&offset=
//	GET /api/v1/lineage?delivery_id=
//	GET /api/v1/openapi.json
//	GET /api/v1/delivery-keys (DeliveryKeys: the keys of exchange-signature headers)
//	GET /api/v1/sla?dataset=&agreement=&from=&to=
//	GET /api/v1/sla/events?dataset=&from=&to=
//	GET /api/v1/notices?agency=&since=&after=&limit=
//
// The last three need WithTimeliness (timeliness.go).
//
// /audit returns one page {"entries": […], "next": CURSOR}; pass next as
// after= for the following page. /lineage returns where one record came
// from and everywhere it went, each delivery with its agreement's purpose
// and legal basis. Every parameter is bound in SQL by the store, sort keys
// come from an allow-list, and unknown parameters are refused (400).
//
// WithScope restricts every answer to what the request's principal may
// see (scope.go); WithAccessLog records data-subject queries. Mount it:
//
//	api := auditapi.New(db, auditapi.WithAgreements(auditapi.AgreementsFromStore(db)), auditapi.WithLogger(log))
//	mux.Handle("GET /api/v1/audit", api.Audit())
//	mux.Handle("GET /api/v1/lineage", api.Lineage())
//	mux.Handle("GET /api/v1/openapi.json", api.OpenAPI())
package auditapi

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// Agreement is what lineage shows about an agreement: the terms of one
// version of it.
type Agreement struct {
	ID         string `json:"id"`
	Consumer   string `json:"consumer,omitempty"`
	Purpose    string `json:"purpose,omitempty"`
	LegalBasis string `json:"legal_basis,omitempty"`
	Status     string `json:"status,omitempty"`
	// Version is the stored document version these terms are from, and
	// ContentHash their hash (agreements.(*Agreement).ContentHash).
	Version     int    `json:"version,omitempty"`
	ContentHash string `json:"content_hash,omitempty"`
	// Transforms is each delivered field with its transform, in the
	// agreement's order.
	Transforms []FieldTransform `json:"transforms,omitempty"`
}

// FieldTransform is one field of an agreement's allow-list.
type FieldTransform struct {
	Field     string `json:"field"`
	Transform string `json:"transform"`
}

// AgreementLookup returns the terms of an agreement's version whose content
// hash is contentHash (a delivery's: the terms it went by), or of the latest
// version when contentHash is empty (entries written before deliveries
// carried it). ok is false when no such version is known: lineage then
// shows no terms rather than terms the record did not go by.
type AgreementLookup func(ctx context.Context, id, contentHash string) (a Agreement, ok bool, err error)

// AgreementsFromStore looks agreements up in the agreements store, newest
// version first, parsing each stored agreement document until one has the
// asked content hash: lineage shows the terms in force when the record was
// delivered, not the latest.
func AgreementsFromStore(s store.AgreementStore) AgreementLookup {
	return func(ctx context.Context, id, contentHash string) (Agreement, bool, error) {
		var docs []store.Document
		if contentHash == "" {
			d, err := s.Document(ctx, agreements.KindAgreement, id, 0)
			if errors.Is(err, store.ErrNotFound) {
				return Agreement{}, false, nil
			}
			if err != nil {
				return Agreement{}, false, err
			}
			docs = []store.Document{d}
		} else {
			var err error
			if docs, err = s.DocumentVersions(ctx, agreements.KindAgreement, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return Agreement{}, false, err
			}
		}
		for i := len(docs) - 1; i >= 0; i-- {
			a, ok, err := parseAgreement(id, docs[i])
			if err != nil {
				return Agreement{}, false, err
			}
			if ok && (contentHash == "" || a.ContentHash == contentHash) {
				return a, true, nil
			}
		}
		return Agreement{}, false, nil
	}
}

// parseAgreement reads agreement id from a stored document version.
func parseAgreement(id string, d store.Document) (Agreement, bool, error) {
	set, err := agreements.Load(fmt.Sprintf("%s@v%d", id, d.Version), d.YAML)
	if set == nil {
		return Agreement{}, false, fmt.Errorf("agreement %s version %d: %w", id, d.Version, err)
	}
	for i := range set.Agreements {
		a := &set.Agreements[i]
		if a.ID != id {
			continue
		}
		out := Agreement{ID: id, Consumer: a.Consumer, Purpose: a.Purpose, LegalBasis: a.LegalBasis, Status: string(a.Status),
			Version: d.Version, ContentHash: a.ContentHash()}
		for _, f := range a.Fields {
			out.Transforms = append(out.Transforms, FieldTransform{Field: f.Name, Transform: f.Transform.String()})
		}
		return out, true, nil
	}
	return Agreement{}, false, nil
}

// Handler serves the audit endpoints.
type Handler struct {
	r          ledger.Reader
	lookup     AgreementLookup
	log        *slog.Logger
	timeliness sla.Store // nil: no SLA or notices
	now        func() time.Time
	scope      ScopeFunc // nil: every request sees all
	access     AccessLog // nil: data-subject queries are not recorded
	// waitIndexed returns once the ledger has indexed what the audit
	// topic held when called; nil: ?wait=indexed is refused.
	waitIndexed func(context.Context) error
}

// WithIndexWait lets requests ask for ?wait=indexed: wait returns once the
// SQL ledger has indexed every decision the audit topic held when it was
// called (App.WaitIndexed).
func WithIndexWait(wait func(context.Context) error) Option {
	return func(h *Handler) { h.waitIndexed = wait }
}

// maxIndexWait bounds ?wait=indexed.
const maxIndexWait = 30 * time.Second

// awaitIndex serves ?wait=indexed: it reports whether the request may go
// on (false: an error was written).
func (h *Handler) awaitIndex(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Query().Get("wait") {
	case "":
		return true
	case "indexed":
	default:
		writeError(w, http.StatusBadRequest, "wait: the only value is indexed")
		return false
	}
	if h.waitIndexed == nil {
		writeError(w, http.StatusBadRequest, "wait=indexed: this server has no audit index to wait for")
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxIndexWait)
	defer cancel()
	if err := h.waitIndexed(ctx); err != nil {
		h.log.Warn("waiting for the audit index", "err", err)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the audit index did not catch up with the audit topic within %v; retry, or query without wait", maxIndexWait))
		return false
	}
	return true
}

// Option configures New.
type Option func(*Handler)

// WithAgreements adds purpose and legal basis to lineage (default: ids only).
func WithAgreements(l AgreementLookup) Option { return func(h *Handler) { h.lookup = l } }

// WithLogger sets the logger for server-side errors (default: discard).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New returns the handler over r.
func New(r ledger.Reader, opts ...Option) *Handler {
	h := &Handler{r: r, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(h)
	}
	return h
}

// ServeHTTP routes /api/v1/audit, /api/v1/lineage, /api/v1/openapi.json
// and the timeliness endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v1/audit":
		h.Audit().ServeHTTP(w, r)
	case "/api/v1/lineage":
		h.Lineage().ServeHTTP(w, r)
	case "/api/v1/openapi.json":
		h.OpenAPI().ServeHTTP(w, r)
	case "/api/v1/sla":
		h.SLA().ServeHTTP(w, r)
	case "/api/v1/sla/events":
		h.SLAEvents().ServeHTTP(w, r)
	case "/api/v1/notices":
		h.Notices().ServeHTTP(w, r)
	default:
		writeError(w, http.StatusNotFound, "not found")
	}
}

var auditParams = map[string]bool{
	"dataset": true, "agreement": true, "consumer": true, "decision": true, "reason": true, "delivery_id": true,
	"subject_hash": true, "purpose": true, "from": true, "to": true, "topic": true, "partition": true, "offset": true, "sort": true, "after": true, "limit": true,
	"wait": true,
}

// maxParam bounds every parameter value.
const maxParam = 1024

// Audit serves GET /api/v1/audit.
func (h *Handler) Audit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		q, err := parseQuery(r.URL.Query(), auditParams)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		scope, ok := h.scopeOf(w, r)
		if !ok {
			return
		}
		if q.SubjectHash != nil && !h.subjectQuery(w, r, scope, q.SubjectHash, r.URL.Query().Get("purpose")) {
			return
		}
		if !h.awaitIndex(w, r) {
			return
		}
		page, err := h.r.Query(r.Context(), q)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		scope.filterEntries(page)
		writeJSON(w, http.StatusOK, page)
	})
}

var lineageParams = map[string]bool{"topic": true, "partition": true, "offset": true, "delivery_id": true, "wait": true}

// LineageDelivery is one place a record went.
type LineageDelivery struct {
	Agreement  string `json:"agreement"`
	Consumer   string `json:"consumer"`
	Topic      string `json:"topic"`
	DeliveryID string `json:"delivery_id"`
	// ContentHash is the hash of the agreement terms the delivery went
	// by, as the ledger entry records it (absent in older entries).
	ContentHash string `json:"content_hash,omitempty"`
	// The terms of that version (the latest when the entry has no hash;
	// none when no stored version has the hash).
	Purpose    string           `json:"purpose,omitempty"`
	LegalBasis string           `json:"legal_basis,omitempty"`
	Version    int              `json:"agreement_version,omitempty"`
	Transforms []FieldTransform `json:"transforms,omitempty"`
}

// LineageSkip is one agreement that did not receive the record.
type LineageSkip struct {
	Agreement string `json:"agreement"`
	Reason    string `json:"reason"`
}

// Lineage is the answer of /api/v1/lineage.
type Lineage struct {
	Source struct {
		Topic        string     `json:"topic"`
		Partition    int32      `json:"partition"`
		Offset       int64      `json:"offset"`
		Dataset      string     `json:"dataset"`
		SchemaID     int        `json:"schema_id"`
		PayloadHash  string     `json:"payload_hash,omitempty"`
		EventTime    *time.Time `json:"event_time,omitempty"`
		DecisionTime time.Time  `json:"decision_time"`
		PlanVersion  string     `json:"plan_version"`
	} `json:"source"`
	Decision   ledger.Decision   `json:"decision"`
	Reasons    []string          `json:"reasons"`
	Deliveries []LineageDelivery `json:"deliveries"`
	Skips      []LineageSkip     `json:"skips"`
	// Entry is the ledger entry itself, with its chain position and hashes.
	Entry ledger.Entry `json:"entry"`
}

// Lineage serves GET /api/v1/lineage.
func (h *Handler) Lineage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		v := r.URL.Query()
		q, err := parseQuery(v, lineageParams)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		byPos := q.Topic != "" && q.Partition != nil && q.Offset != nil
		if byPos == (q.DeliveryID != "") {
			writeError(w, http.StatusBadRequest, "give topic, partition and offset, or delivery_id")
			return
		}
		scope, ok := h.scopeOf(w, r)
		if !ok {
			return
		}
		q.Limit = 2
		if !h.awaitIndex(w, r) {
			return
		}
		page, err := h.r.Query(r.Context(), q)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		if len(page.Entries) == 0 {
			writeError(w, http.StatusNotFound, "no ledger entry for this record")
			return
		}
		e := page.Entries[0]
		if !scope.allowsEntry(&e) {
			writeRefusal(w, auth.Forbidden("dataset or agreement", "this record's lineage is visible to the owner of its dataset, the parties of its agreements and auditors only"))
			return
		}
		var l Lineage
		l.Source.Topic, l.Source.Partition, l.Source.Offset = e.Topic, e.Partition, e.Offset
		l.Source.Dataset, l.Source.SchemaID, l.Source.PayloadHash = e.Dataset, e.SchemaID, fmt.Sprintf("%x", e.PayloadHash)
		l.Source.DecisionTime, l.Source.PlanVersion = e.DecisionTime, e.PlanVersion
		if !e.EventTime.IsZero() {
			t := e.EventTime
			l.Source.EventTime = &t
		}
		l.Decision, l.Reasons, l.Entry = e.Decision, e.Reasons, e
		if l.Reasons == nil {
			l.Reasons = []string{}
		}
		l.Deliveries, l.Skips = []LineageDelivery{}, []LineageSkip{}
		for _, d := range e.Deliveries {
			ld := LineageDelivery{Agreement: d.AgreementID, Consumer: ledger.Consumer(d.Topic), Topic: d.Topic, DeliveryID: d.DeliveryID, ContentHash: d.ContentHash}
			if h.lookup != nil {
				a, ok, err := h.lookup(r.Context(), d.AgreementID, d.ContentHash)
				if err != nil {
					h.storeError(w, r, err)
					return
				}
				if ok {
					ld.Purpose, ld.LegalBasis, ld.Version, ld.Transforms = a.Purpose, a.LegalBasis, a.Version, a.Transforms
				}
			}
			l.Deliveries = append(l.Deliveries, ld)
		}
		for _, s := range e.Skips {
			l.Skips = append(l.Skips, LineageSkip{Agreement: s.AgreementID, Reason: s.Reason})
		}
		writeJSON(w, http.StatusOK, l)
	})
}

func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return false
	}
	return true
}

// parseQuery turns URL parameters into a ledger.Query; unknown, repeated or
// oversized parameters are errors.
func parseQuery(v url.Values, allowed map[string]bool) (ledger.Query, error) {
	var q ledger.Query
	if err := checkParams(v, allowed); err != nil {
		return q, err
	}
	q.Dataset, q.Agreement, q.Consumer = v.Get("dataset"), v.Get("agreement"), v.Get("consumer")
	q.Decision, q.Reason, q.DeliveryID = ledger.Decision(v.Get("decision")), v.Get("reason"), v.Get("delivery_id")
	q.Topic, q.Sort, q.After = v.Get("topic"), v.Get("sort"), v.Get("after")
	if s := v.Get("subject_hash"); s != "" {
		h, err := hex.DecodeString(s)
		if err != nil {
			return q, errors.New("subject_hash: want hex")
		}
		q.SubjectHash = h
	}
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(tf.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, fmt.Errorf("%s: want an RFC 3339 time, e.g. 2026-11-27T00:00:00Z", tf.name)
			}
			*tf.dst = t
		}
	}
	if s := v.Get("partition"); s != "" {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return q, errors.New("partition: want a non-negative integer")
		}
		p32 := int32(p)
		q.Partition = &p32
	}
	if s := v.Get("offset"); s != "" {
		o, err := strconv.ParseInt(s, 10, 64)
		if err != nil || o < 0 {
			return q, errors.New("offset: want a non-negative integer")
		}
		q.Offset = &o
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > ledger.MaxLimit {
			return q, fmt.Errorf("limit: want 1 to %d", ledger.MaxLimit)
		}
		q.Limit = n
	}
	// Let the store's own checks (sort allow-list, cursor) speak as 400s too.
	check := q
	if _, err := check.Normalize(); err != nil {
		return q, err
	}
	return q, nil
}

// checkParams refuses unknown, repeated or oversized parameters.
func checkParams(v url.Values, allowed map[string]bool) error {
	for k, vs := range v {
		if !allowed[k] {
			return fmt.Errorf("unknown parameter %q", k)
		}
		if len(vs) != 1 {
			return fmt.Errorf("parameter %q given %d times", k, len(vs))
		}
		if len(vs[0]) > maxParam {
			return fmt.Errorf("parameter %q longer than %d bytes", k, maxParam)
		}
	}
	return nil
}

func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ledger.ErrBadQuery):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ledger.ErrUnavailable):
		h.log.Warn("audit store unavailable", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "audit store unavailable")
	case r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		h.log.Error("audit query failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
