package catalogapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/store"
)

// maxBody bounds a request body: a purpose, a legal basis and field names.
const maxBody = 64 << 10

// maxText bounds each free-text value of a request or decision.
const maxText = 4096

// FileRequest is the body of POST /api/v1/catalog/{dataset}/requests.
type FileRequest struct {
	Purpose    string    `json:"purpose"`
	LegalBasis string    `json:"legal_basis"`
	Fields     []string  `json:"fields"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
	Reason     string    `json:"reason,omitempty"`
}

// Decision is the body of POST /api/v1/catalog/requests/{id}/decision.
type Decision struct {
	Accept *bool  `json:"accept"`
	Reason string `json:"reason"`
}

// RequestList is the answer of GET /api/v1/catalog/requests.
type RequestList struct {
	Requests []store.AccessRequest `json:"requests"`
}

// file files an access request by a steward of the consumer agency.
func (h *Handler) file(w http.ResponseWriter, r *http.Request) {
	p, ae := h.steward(r, "filing an access request")
	if ae != nil {
		writeRefusal(w, ae)
		return
	}
	contract, ok := h.cfg.Plan().Contract(r.PathValue("dataset"))
	if !ok {
		writeError(w, http.StatusNotFound, "dataset "+r.PathValue("dataset")+": not in the catalog")
		return
	}
	if contract.Owner == p.Agency {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("agency %s owns %s: its own dataset needs no access request", p.Agency, contract.Dataset))
		return
	}
	var in FileRequest
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if probs := checkRequest(in, contract, h.cfg.Now()); len(probs) > 0 {
		writeProblems(w, fmt.Sprintf("access request for %s: %s", contract.Dataset, strings.Join(probs, "; ")), probs)
		return
	}
	req, err := h.cfg.Requests.AddAccessRequest(r.Context(), store.AccessRequest{
		Dataset: contract.Dataset, Provider: contract.Owner, Consumer: p.Agency, RequestedBy: p.Subject,
		Purpose: strings.TrimSpace(in.Purpose), LegalBasis: strings.TrimSpace(in.LegalBasis), Fields: in.Fields,
		ValidUntil: in.ValidUntil.UTC(), Reason: strings.TrimSpace(in.Reason),
	})
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.cfg.Log.Info("access request filed", "request", req.ID, "dataset", req.Dataset, "consumer", req.Consumer, "by", p.String())
	h.notify(r.Context(), req, "requested")
	writeJSON(w, http.StatusCreated, req)
}

// checkRequest lists every problem of a request against the contract:
// empty purpose or legal basis, no fields, each unknown or repeated field
// by name, a validity end already past.
func checkRequest(in FileRequest, c *agreements.DataContract, now time.Time) []string {
	var probs []string
	if strings.TrimSpace(in.Purpose) == "" {
		probs = append(probs, "purpose: required (why the consumer needs the data)")
	}
	if strings.TrimSpace(in.LegalBasis) == "" {
		probs = append(probs, "legal_basis: required (the act and section that allow the sharing)")
	}
	for _, s := range []struct{ name, v string }{{"purpose", in.Purpose}, {"legal_basis", in.LegalBasis}, {"reason", in.Reason}} {
		if len(s.v) > maxText {
			probs = append(probs, fmt.Sprintf("%s: longer than %d bytes", s.name, maxText))
		}
	}
	if len(in.Fields) == 0 {
		probs = append(probs, "fields: name at least one field of the dataset")
	}
	known := make([]string, 0, len(c.Fields))
	for _, f := range c.Fields {
		known = append(known, f.Name)
	}
	seen := map[string]bool{}
	for _, f := range in.Fields {
		switch {
		case seen[f]:
			probs = append(probs, fmt.Sprintf("fields: %q named twice", f))
		case !slices.Contains(known, f):
			probs = append(probs, fmt.Sprintf("fields: %q is not a field of %s (its fields: %s)", f, c.Dataset, strings.Join(known, ", ")))
		}
		seen[f] = true
	}
	if !in.ValidUntil.IsZero() && !in.ValidUntil.After(now) {
		probs = append(probs, fmt.Sprintf("valid_until: %s is not in the future", in.ValidUntil.UTC().Format(time.RFC3339)))
	}
	return probs
}

// requests lists the requests the caller may see: a steward those of its
// agency as consumer or provider; auditors and operators all.
func (h *Handler) requests(w http.ResponseWriter, r *http.Request) {
	agency, ae := h.readScope(r)
	if ae != nil {
		writeRefusal(w, ae)
		return
	}
	rs, err := h.cfg.Requests.AccessRequests(r.Context(), store.AccessRequestQuery{Agency: agency})
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	if rs == nil {
		rs = []store.AccessRequest{}
	}
	writeJSON(w, http.StatusOK, RequestList{Requests: rs})
}

// request answers one request, to a party's steward, an auditor or an
// operator.
func (h *Handler) request(w http.ResponseWriter, r *http.Request) {
	agency, ae := h.readScope(r)
	if ae != nil {
		writeRefusal(w, ae)
		return
	}
	req, ok := h.load(w, r)
	if !ok {
		return
	}
	if agency != "" && agency != req.Consumer && agency != req.Provider {
		writeRefusal(w, auth.Forbidden("agency", fmt.Sprintf("access request %d is between %s and %s; a steward of %s may not read it", req.ID, req.Consumer, req.Provider, agency)))
		return
	}
	writeJSON(w, http.StatusOK, req)
}

// load reads the request of the path's id; false when it answered.
func (h *Handler) load(w http.ResponseWriter, r *http.Request) (store.AccessRequest, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, "id: want a positive integer, got "+strconv.Quote(r.PathValue("id")))
		return store.AccessRequest{}, false
	}
	req, err := h.cfg.Requests.AccessRequest(r.Context(), id)
	if err != nil {
		h.storeError(w, r, err)
		return store.AccessRequest{}, false
	}
	return req, true
}

// decodeBody decodes a JSON body strictly: unknown keys, trailing data
// and oversized bodies are errors.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("body larger than %d bytes", maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return errors.New("body: more than one JSON value")
	}
	return nil
}

// storeError answers a store failure: 404, 409, 503 or 500.
func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
	case r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	case errors.Is(err, ledger.ErrUnavailable):
		h.cfg.Log.Warn("catalog: store unavailable", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
	default:
		h.cfg.Log.Error("catalog: store failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}
