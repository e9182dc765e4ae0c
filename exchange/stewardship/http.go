package stewardship

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// maxBody bounds a request body: one agreement document is small.
const maxBody = 1 << 20

// ActorFunc is who made a request. An error is the answer (an *auth.Error
// keeps its status; any other is 403).
type ActorFunc func(r *http.Request) (Actor, error)

// ActorOf maps an authenticated principal to an actor: a steward acts for
// its agency, auditors and operators read everything. ok is false for a
// request without a principal (a server run with --insecure): it may read
// everything and act on nothing.
func ActorOf(p *auth.Principal, ok bool) Actor {
	if !ok {
		return Actor{Name: "anonymous", ReadsAll: true}
	}
	return Actor{
		Name: p.Subject, Agency: p.Agency,
		Steward:  p.Kind == auth.KindSteward && p.HasRole(auth.RoleSteward),
		ReadsAll: p.HasRole(auth.RoleAuditor) || p.HasRole(auth.RoleOperator),
	}
}

// Routes are the agreements API's handlers by ServeMux pattern; mount each
// under the server's authentication.
func (s *Service) Routes(actorOf ActorFunc) map[string]http.Handler {
	h := &api{s: s, actorOf: actorOf}
	return map[string]http.Handler{
		"GET /api/v1/agreements":                   h.handle(h.list),
		"POST /api/v1/agreements":                  h.handle(h.propose),
		"GET /api/v1/agreements/{id}":              h.handle(h.get),
		"POST /api/v1/agreements/{id}/approve":     h.handle(h.approve),
		"POST /api/v1/agreements/{id}/transitions": h.handle(h.transition),
	}
}

type api struct {
	s       *Service
	actorOf ActorFunc
}

// handle resolves the actor, runs fn and writes its answer or error.
func (h *api) handle(fn func(r *http.Request, actor Actor) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := h.actorOf(r)
		if err != nil {
			writeRefusal(w, err)
			return
		}
		code, v, err := fn(r, actor)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, code, v)
	})
}

func (h *api) list(r *http.Request, actor Actor) (int, any, error) {
	vs, err := h.s.List(r.Context(), actor)
	return http.StatusOK, map[string]any{"agreements": vs}, err
}

func (h *api) get(r *http.Request, actor Actor) (int, any, error) {
	v, err := h.s.Get(r.Context(), actor, r.PathValue("id"))
	return http.StatusOK, v, err
}

func (h *api) propose(r *http.Request, actor Actor) (int, any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: reading the body: %w", ErrInvalid, err)
	}
	v, err := h.s.Propose(r.Context(), actor, body)
	return http.StatusOK, v, err
}

func (h *api) approve(r *http.Request, actor Actor) (int, any, error) {
	var req struct {
		ContentHash string `json:"content_hash"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return 0, nil, err
	}
	v, err := h.s.Approve(r.Context(), actor, r.PathValue("id"), req.ContentHash)
	return http.StatusOK, v, err
}

func (h *api) transition(r *http.Request, actor Actor) (int, any, error) {
	var req struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return 0, nil, err
	}
	v, err := h.s.Transition(r.Context(), actor, r.PathValue("id"), agreements.Status(req.To), req.Reason)
	return http.StatusOK, v, err
}

// decodeJSON reads one JSON object with known fields only.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the body must be a JSON object: %w", ErrInvalid, err)
	}
	return nil
}

// writeError answers with the status err calls for; the message never
// holds more than ids, statuses, names and hashes.
func (h *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrForbidden):
		auth.Forbidden(auth.RoleSteward, strings.TrimPrefix(err.Error(), ErrForbidden.Error()+": ")).Write(w, nil, auth.FormatAPI)
	case errors.Is(err, ErrInvalid):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")})
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no agreement %q", r.PathValue("id"))})
	case IsConflict(err):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	case errors.Is(err, ledger.ErrUnavailable):
		h.s.log.Warn("agreements store unavailable", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "store unavailable"})
	default:
		h.s.log.Error("agreements request failed", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
	}
}

// writeRefusal answers with err: its own status when it is an
// *auth.Error, 403 otherwise.
func writeRefusal(w http.ResponseWriter, err error) {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		ae = auth.Forbidden("right", err.Error())
	}
	ae.Write(w, nil, auth.FormatAPI)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("writing an agreements answer", "err", err)
	}
}
