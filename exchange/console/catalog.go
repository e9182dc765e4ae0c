// Catalog and access requests: the catalog API (exchange/server/catalogapi)
// asked in-process as the signed-in principal, so filing, reading and
// deciding a request go through the very code of its HTTP routes.

package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/server/catalogapi"
	"github.com/exchange-gov/exchange/exchange/store"
)

// catalogReady answers 404 when the console has no catalog API.
func (c *Console) catalogReady(w http.ResponseWriter, r *http.Request, v *view) bool {
	if c.catalog == nil {
		c.failView(w, r, v, http.StatusNotFound, "This exchange serves no catalog.")
		return false
	}
	return true
}

// catalogPage lists every dataset of the plan in force (any principal).
func (c *Console) catalogPage(w http.ResponseWriter, r *http.Request, v *view) {
	if !c.catalogReady(w, r, v) {
		return
	}
	var cat catalogapi.Catalog
	if err := doAPI(r, c.catalog, http.MethodGet, "/api/v1/catalog", nil, &cat); err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	v.Title, v.Nav, v.Data = "Catalog", "catalog", cat
	c.render(w, r, "catalog", v)
}

// requestForm is what the access request form was filled with, kept when
// the API refuses it so nothing typed is lost.
type requestForm struct {
	Fields                               map[string]bool
	Purpose, LegalBasis, Reason, ValidTo string
}

type datasetData struct {
	D catalogapi.Dataset
	// MayRequest: a steward of another agency than the owner.
	MayRequest bool
	Form       requestForm
}

// datasetPage shows one dataset's contract and, to a steward of another
// agency, the access request form.
func (c *Console) datasetPage(w http.ResponseWriter, r *http.Request, v *view) {
	c.showDataset(w, r, v, requestForm{Fields: map[string]bool{}})
}

func (c *Console) showDataset(w http.ResponseWriter, r *http.Request, v *view, form requestForm) {
	if !c.catalogReady(w, r, v) {
		return
	}
	var d datasetData
	if err := doAPI(r, c.catalog, http.MethodGet, "/api/v1/catalog/"+url.PathEscape(r.PathValue("dataset")), nil, &d.D); err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	p := v.Principal
	d.MayRequest = p.Kind == auth.KindSteward && p.HasRole(auth.RoleSteward) && p.Agency != d.D.Owner
	d.Form = form
	v.Title, v.Nav, v.Data = "Dataset "+d.D.Dataset, "catalog", d
	c.render(w, r, "dataset", v)
}

// requestAccess files an access request through POST
// /api/v1/catalog/{dataset}/requests; the API checks the steward and the
// request, and its refusal is shown above the form.
func (c *Console) requestAccess(w http.ResponseWriter, r *http.Request, v *view) {
	if !c.catalogReady(w, r, v) {
		return
	}
	if err := r.ParseForm(); err != nil {
		c.failView(w, r, v, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return
	}
	form := requestForm{Fields: map[string]bool{}, Purpose: r.PostForm.Get("purpose"), LegalBasis: r.PostForm.Get("legal_basis"),
		Reason: r.PostForm.Get("reason"), ValidTo: strings.TrimSpace(r.PostForm.Get("valid_until"))}
	in := catalogapi.FileRequest{Purpose: form.Purpose, LegalBasis: form.LegalBasis, Reason: form.Reason, Fields: r.PostForm["field"]}
	for _, f := range in.Fields {
		form.Fields[f] = true
	}
	if form.ValidTo != "" {
		t, err := time.Parse(time.DateOnly, form.ValidTo)
		if err != nil {
			v.Status, v.Error = http.StatusBadRequest, "Valid until: want a date like 2027-12-31."
			c.showDataset(w, r, v, form)
			return
		}
		in.ValidUntil = t.UTC()
	}
	var out store.AccessRequest
	err := doAPI(r, c.catalog, http.MethodPost, "/api/v1/catalog/"+url.PathEscape(r.PathValue("dataset"))+"/requests", in, &out)
	if err != nil {
		v.Status, v.Error = c.errorOf(r, err)
		c.showDataset(w, r, v, form)
		return
	}
	http.Redirect(w, r, Prefix+"requests?"+url.Values{"filed": {strconv.FormatInt(out.ID, 10)}}.Encode(), http.StatusSeeOther)
}

type requestsData struct {
	Requests []store.AccessRequest
	Agency   string // a steward's agency: it decides the pending requests it provides
	Filed    string
	Decided  string
}

// requestList shows the access requests the principal may read (the
// API's rule: a steward its agency's, auditors and operators all), with
// accept/reject forms for pending requests of the steward's datasets.
func (c *Console) requestList(w http.ResponseWriter, r *http.Request, v *view) {
	if !c.catalogReady(w, r, v) {
		return
	}
	var list catalogapi.RequestList
	if err := doAPI(r, c.catalog, http.MethodGet, "/api/v1/catalog/requests", nil, &list); err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	d := requestsData{Requests: list.Requests, Filed: r.URL.Query().Get("filed"), Decided: r.URL.Query().Get("decided")}
	if p := v.Principal; p.Kind == auth.KindSteward && p.HasRole(auth.RoleSteward) {
		d.Agency = p.Agency
	}
	v.Title, v.Nav, v.Data = "Access requests", "requests", d
	c.render(w, r, "requests", v)
}

// decideRequest accepts or rejects a request through POST
// /api/v1/catalog/requests/{id}/decision (the API checks the steward).
func (c *Console) decideRequest(w http.ResponseWriter, r *http.Request, v *view) {
	if !c.catalogReady(w, r, v) {
		return
	}
	var accept bool
	switch r.PostFormValue("decision") {
	case "accept":
		accept = true
	case "reject":
	default:
		c.failView(w, r, v, http.StatusBadRequest, "Decision: want accept or reject.")
		return
	}
	in := catalogapi.Decision{Accept: &accept, Reason: r.PostFormValue("reason")}
	var out store.AccessRequest
	id := r.PathValue("id")
	if err := doAPI(r, c.catalog, http.MethodPost, "/api/v1/catalog/requests/"+url.PathEscape(id)+"/decision", in, &out); err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	http.Redirect(w, r, Prefix+"requests?"+url.Values{"decided": {strconv.FormatInt(out.ID, 10)}}.Encode(), http.StatusSeeOther)
}
