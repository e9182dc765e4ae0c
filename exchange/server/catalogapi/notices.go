package catalogapi

import (
	"context"
	"fmt"
	"strings"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// notify tells both agencies of a request what happened to it (what:
// requested, accepted, rejected), on notices.<agency>: the dataset, the
// fields asked for, who acted, the proposed agreement. Stewards' free
// text stays in the request (GET /api/v1/catalog/requests/{id}). Notices
// are best effort and never hold up the answer: they go out after it, in
// the background (Drain waits for them).
func (h *Handler) notify(ctx context.Context, req store.AccessRequest, what string) {
	if h.cfg.Notify == nil {
		return
	}
	var detail string
	switch what {
	case "requested":
		detail = fmt.Sprintf("access request %d by steward %s of %s for fields %s of %s", req.ID, req.RequestedBy, req.Consumer, strings.Join(req.Fields, ", "), req.Dataset)
	default:
		detail = fmt.Sprintf("access request %d of %s for %s %s by steward %s of %s", req.ID, req.Consumer, req.Dataset, what, req.DecidedBy, req.Provider)
		if req.Agreement != "" {
			detail += "; agreement " + req.Agreement + " proposed"
		}
	}
	at := h.cfg.Now()
	var ns []sla.Notice
	for _, agency := range []string{req.Consumer, req.Provider} {
		ns = append(ns, sla.Notice{Agency: agency, Kind: sla.KindAccessRequest, Dataset: req.Dataset, Agreement: req.Agreement,
			Reason: what, Detail: detail, Partition: -1, Offset: -1, At: at})
	}
	ctx = context.WithoutCancel(ctx)
	h.pending.Add(1)
	go func() {
		defer h.pending.Done()
		h.cfg.Notify(ctx, ns)
	}()
}

// Drain waits until every notice sent so far went out (or failed).
func (h *Handler) Drain() {
	if h != nil {
		h.pending.Wait()
	}
}
