package catalogapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/store"
)

// idAttempts bounds how many agreement numbers an acceptance tries when
// another process took the one it picked.
const idAttempts = 5

// decision records a provider steward's decision; accepting proposes the
// request's agreement first, so an accepted request always names one.
func (h *Handler) decision(w http.ResponseWriter, r *http.Request) {
	p, ae := h.steward(r, "deciding an access request")
	if ae != nil {
		writeRefusal(w, ae)
		return
	}
	var in Decision
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if in.Accept == nil {
		writeError(w, http.StatusBadRequest, "accept: required (true to propose the agreement, false to reject)")
		return
	}
	if len(in.Reason) > maxText {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reason: longer than %d bytes", maxText))
		return
	}
	h.decide.Lock()
	defer h.decide.Unlock()
	req, ok := h.load(w, r)
	if !ok {
		return
	}
	if p.Agency != req.Provider {
		writeRefusal(w, auth.Forbidden("agency", fmt.Sprintf("access request %d asks for %s of agency %s: only a steward of %s decides it, and %s is not", req.ID, req.Dataset, req.Provider, req.Provider, p)))
		return
	}
	if req.Status != store.AccessPending {
		writeError(w, http.StatusConflict, fmt.Sprintf("access request %d was %s already by %s", req.ID, req.Status, req.DecidedBy))
		return
	}
	d := store.AccessDecision{ID: req.ID, Accept: *in.Accept, By: p.Subject, At: h.cfg.Now(), Reason: strings.TrimSpace(in.Reason)}
	if d.Accept {
		id, err := h.propose(r.Context(), p, req)
		if err != nil {
			h.proposeError(w, r, req, err)
			return
		}
		d.Agreement = id
	}
	out, err := h.cfg.Requests.DecideAccessRequest(r.Context(), d)
	if err != nil {
		if d.Agreement != "" {
			// Proposed, but no request names it: the stewards see it in
			// the agreements API and may revoke it.
			h.cfg.Log.Error("agreement proposed for an access request whose decision was not recorded", "request", d.ID, "agreement", d.Agreement, "err", err)
		}
		h.storeError(w, r, err)
		return
	}
	h.cfg.Log.Info("access request decided", "request", out.ID, "status", out.Status, "agreement", out.Agreement, "by", p.String())
	h.notify(r.Context(), out, string(out.Status))
	writeJSON(w, http.StatusOK, out)
}

// propose builds the request's agreement, checks it loads back and
// validates against the contract, and proposes it under the next free
// number.
func (h *Handler) propose(ctx context.Context, p *auth.Principal, req store.AccessRequest) (string, error) {
	c, ok := h.cfg.Plan().Contract(req.Dataset)
	if !ok {
		return "", fmt.Errorf("%w: dataset %s is no longer in the catalog", ErrProposal, req.Dataset)
	}
	var schema avro.Schema
	if h.cfg.Schemas != nil {
		if v, err := h.cfg.Schemas.Latest(ctx, c.Subject); err == nil {
			schema = v.Avro
		}
	}
	now := h.cfg.Now()
	a, err := proposal(req, c, schema, now)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrProposal, err)
	}
	ids, err := h.usedIDs(ctx)
	if err != nil {
		return "", err
	}
	n := nextNumber(ids, now.UTC().Year())
	for range idAttempts {
		a.ID = agreementID(c.Owner, req.Consumer, now.UTC().Year(), n)
		n++
		// Proposing a known id would amend that agreement's terms: an
		// access request always makes a new one.
		switch _, err := h.cfg.Documents.Document(ctx, agreements.KindAgreement, a.ID, 0); {
		case err == nil:
			continue
		case !errors.Is(err, store.ErrNotFound):
			return "", fmt.Errorf("looking up agreement %s: %w", a.ID, err)
		}
		if err := h.checkProposal(a, c); err != nil {
			return "", err
		}
		id, err := h.cfg.Proposer.Propose(ctx, *p, a)
		if !errors.Is(err, store.ErrConflict) {
			return id, err
		}
	}
	return "", fmt.Errorf("proposing the agreement of access request %d: %d numbers taken in a row: %w", req.ID, idAttempts, store.ErrConflict)
}

// checkProposal writes a as YAML, loads it back and validates it with its
// contract and the agencies: what any proposed agreement must pass.
func (h *Handler) checkProposal(a *agreements.Agreement, c *agreements.DataContract) error {
	y, err := agreements.MarshalAgreement(a, "")
	if err != nil {
		return err
	}
	name := a.ID + ".yaml"
	set, err := agreements.Load(name, y)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProposal, err)
	}
	set.Agencies = h.cfg.Agencies()
	set.Contracts = []agreements.DataContract{*c}
	var mine []string
	for _, p := range agreements.Validate(set) {
		if p.Pos.File == name {
			mine = append(mine, p.Message)
		}
	}
	if len(mine) > 0 {
		return fmt.Errorf("%w: %s", ErrProposal, strings.Join(mine, "; "))
	}
	return nil
}

// proposeError answers a failed proposal: 409 when the request no longer
// fits the policy (or no number was free), else as a store failure.
func (h *Handler) proposeError(w http.ResponseWriter, r *http.Request, req store.AccessRequest, err error) {
	var ae *auth.Error
	switch {
	case errors.As(err, &ae):
		writeRefusal(w, ae)
	case errors.Is(err, ErrProposal), errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, fmt.Sprintf("access request %d: %v", req.ID, err))
	default:
		h.storeError(w, r, err)
	}
}
