// Agreements: the inventory, one agreement's page (terms, version
// history with the diff of `exchange agreement diff`, approvals,
// lifecycle history, activity chart) and the steward actions.

package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store"
)

// agreementRoutes registers the agreements, catalog and access request
// pages.
func (c *Console) agreementRoutes() {
	c.mux.Handle("GET "+Prefix+"agreements", c.signedIn(c.agreementList))
	c.mux.Handle("GET "+Prefix+"agreements/{id}", c.signedIn(c.agreementPage))
	c.mux.Handle("POST "+Prefix+"agreements/{id}/action", c.signedIn(c.agreementAction))
	c.mux.Handle("GET "+Prefix+"catalog", c.signedIn(c.catalogPage))
	c.mux.Handle("GET "+Prefix+"catalog/{dataset}", c.signedIn(c.datasetPage))
	c.mux.Handle("POST "+Prefix+"catalog/{dataset}/request", c.signedIn(c.requestAccess))
	c.mux.Handle("GET "+Prefix+"requests", c.signedIn(c.requestList))
	c.mux.Handle("POST "+Prefix+"requests/{id}/decision", c.signedIn(c.decideRequest))
}

type agreementFilters struct{ Status, Party, Text string }

type agreementsData struct {
	Filters  agreementFilters
	Statuses []agreements.Status
	Parties  []string // the agencies of the visible agreements
	Rows     []stewardship.View
	Total    int // visible agreements before the filters
}

// actorOf is the stewardship actor of the page's principal.
func actorOf(v *view) stewardship.Actor { return stewardship.ActorOf(v.Principal, true) }

// agreementList is the inventory: every agreement the principal may see
// (stewardship's rule), filtered by status, party and text.
func (c *Console) agreementList(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	f := agreementFilters{Status: strings.TrimSpace(q.Get("status")), Party: strings.TrimSpace(q.Get("party")), Text: strings.TrimSpace(q.Get("q"))}
	list, err := c.cfg.Stewardship.List(r.Context(), actorOf(v))
	if err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	d := agreementsData{Filters: f, Statuses: agreements.Statuses, Total: len(list), Rows: []stewardship.View{}}
	for _, a := range list {
		for _, p := range []string{providerAgency(a.Provider), a.Consumer} {
			if !slices.Contains(d.Parties, p) {
				d.Parties = append(d.Parties, p)
			}
		}
		if f.matches(a) {
			d.Rows = append(d.Rows, a)
		}
	}
	slices.Sort(d.Parties)
	v.Title, v.Nav, v.Data = "Agreements", "agreements", d
	c.render(w, r, "agreements", v)
}

// matches reports whether a passes the filters (text: any of id, dataset,
// consumer, purpose, legal basis, case-insensitive).
func (f agreementFilters) matches(a stewardship.View) bool {
	if f.Status != "" && a.Status != f.Status {
		return false
	}
	if f.Party != "" && providerAgency(a.Provider) != f.Party && a.Consumer != f.Party {
		return false
	}
	if f.Text == "" {
		return true
	}
	t := strings.ToLower(f.Text)
	for _, s := range []string{a.ID, a.Provider, a.Consumer, a.Purpose, a.LegalBasis} {
		if strings.Contains(strings.ToLower(s), t) {
			return true
		}
	}
	return false
}

// version is one stored version of an agreement's terms and what changed
// from the version before (agreements.Diff, as `exchange agreement diff`
// prints it).
type version struct {
	Version int
	Created time.Time
	Author  string
	InForce bool // the version the lifecycle state applies to
	First   bool // the first readable version: nothing to compare with
	Changes []agreements.FieldChange
	Problem string // the version could not be read
}

// action is a steward action the page offers.
type action struct {
	Name, Label string
	NeedsReason bool
}

type agreementData struct {
	A        stewardship.View
	Terms    *agreements.Agreement
	Versions []version
	Chart    activityChart
	Actions  []action
	Done     string // what the action just taken did (after the redirect)
	// ProviderName and ConsumerName are the parties' names in agencies.yaml.
	ProviderName, ConsumerName string
}

// agreementPage: the terms in force as a table, the version history with
// its diffs, the approvals, the lifecycle history, the activity chart and,
// for a steward of a party, the actions.
func (c *Console) agreementPage(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	id := r.PathValue("id")
	a, err := c.cfg.Stewardship.Get(ctx, actorOf(v), id)
	if err != nil {
		c.stewardshipFail(w, r, v, err)
		return
	}
	d := agreementData{A: a, Actions: actionsFor(actorOf(v), a), Done: doneMessages[r.URL.Query().Get("done")]}
	for _, ag := range c.cfg.Agencies() {
		switch ag.ID {
		case providerAgency(a.Provider):
			d.ProviderName = ag.Name
		case a.Consumer:
			d.ConsumerName = ag.Name
		}
	}
	if d.Terms, err = c.cfg.Stewardship.TermsOf(ctx, id, a.Version); err == nil {
		d.Versions, err = c.versions(r, a)
	}
	if err == nil {
		d.Chart, err = c.agreementActivity(r, a)
	}
	if err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	v.Title, v.Nav, v.Data = "Agreement "+a.ID, "agreements", d
	c.render(w, r, "agreement", v)
}

// versions lists every stored version of a's terms, newest first, each
// with its diff from the one before.
func (c *Console) versions(r *http.Request, a stewardship.View) ([]version, error) {
	docs, err := c.cfg.Store.DocumentVersions(r.Context(), agreements.KindAgreement, a.ID)
	if err != nil {
		return nil, err
	}
	out := make([]version, 0, len(docs))
	var prev *agreements.Agreement
	for _, d := range docs {
		ver := version{Version: d.Version, Created: d.Created, Author: d.Author, InForce: d.Version == a.Version}
		terms, err := c.cfg.Stewardship.TermsOf(r.Context(), a.ID, d.Version)
		if err != nil {
			// A stored version that no longer parses is shown, not fatal.
			ver.Problem = err.Error()
		} else {
			ver.First = prev == nil
			if !ver.First {
				ver.Changes = agreements.Diff(prev, terms)
			}
			prev = terms
		}
		out = append(out, ver)
	}
	slices.Reverse(out)
	return out, nil
}

// actionsFor lists what a steward of a party may do from a's status (the
// service decides again when it is done); none for anyone else.
func actionsFor(actor stewardship.Actor, a stewardship.View) []action {
	if !actor.Steward || (actor.Agency != providerAgency(a.Provider) && actor.Agency != a.Consumer) {
		return nil
	}
	st := agreements.Status(a.Status)
	var out []action
	if st == agreements.StatusProposed {
		out = append(out, action{Name: "approve", Label: "Approve these terms"})
	}
	if agreements.CanTransition(st, agreements.StatusSuspended) {
		out = append(out, action{Name: "suspend", Label: "Suspend", NeedsReason: true})
	}
	if st == agreements.StatusSuspended {
		out = append(out, action{Name: "resume", Label: "Resume"})
	}
	if agreements.CanTransition(st, agreements.StatusRevoked) {
		out = append(out, action{Name: "revoke", Label: "Revoke", NeedsReason: true})
	}
	return out
}

// actionTargets are the lifecycle statuses the transition actions move to.
var actionTargets = map[string]agreements.Status{
	"suspend": agreements.StatusSuspended, "resume": agreements.StatusActive, "revoke": agreements.StatusRevoked,
}

type confirmData struct {
	A                   stewardship.View
	Action              action
	Reason, ContentHash string
	Consequence         string
}

// agreementAction runs a steward action in two steps: the form posts
// without confirm and gets a confirmation page (nothing changes); that
// page posts confirm=yes and the stewardship service acts, deciding who
// may (a forged POST by anyone but a steward of a party is its 403).
func (c *Console) agreementAction(w http.ResponseWriter, r *http.Request, v *view) {
	ctx, id := r.Context(), r.PathValue("id")
	name, reason, hash := r.PostFormValue("action"), strings.TrimSpace(r.PostFormValue("reason")), strings.TrimSpace(r.PostFormValue("content_hash"))
	to, transition := actionTargets[name]
	if !transition && name != "approve" {
		c.failView(w, r, v, http.StatusBadRequest, "Unknown action "+name+": want approve, suspend, resume or revoke.")
		return
	}
	if r.PostFormValue("confirm") == "yes" {
		var err error
		if transition {
			_, err = c.cfg.Stewardship.Transition(ctx, actorOf(v), id, to, reason)
		} else {
			_, err = c.cfg.Stewardship.Approve(ctx, actorOf(v), id, hash)
		}
		if err != nil {
			c.stewardshipFail(w, r, v, err)
			return
		}
		c.log.Info("console: agreement action", "agreement", id, "action", name, "by", v.Principal.String())
		http.Redirect(w, r, Prefix+"agreements/"+url.PathEscape(id)+"?"+url.Values{"done": {name}}.Encode(), http.StatusSeeOther)
		return
	}
	a, err := c.cfg.Stewardship.Get(ctx, actorOf(v), id)
	if err != nil {
		c.stewardshipFail(w, r, v, err)
		return
	}
	i := slices.IndexFunc(actionsFor(actorOf(v), a), func(x action) bool { return x.Name == name })
	if i < 0 {
		c.failView(w, r, v, http.StatusForbidden, "You may not "+name+" agreement "+id+" (status "+a.Status+"): actions are for the stewards of its two agencies, from the statuses that allow them.")
		return
	}
	act := actionsFor(actorOf(v), a)[i]
	if act.NeedsReason && reason == "" {
		v.Status, v.Error = http.StatusBadRequest, act.Label+" needs a reason."
	}
	if name == "approve" && hash != a.ContentHash {
		// What the steward reviewed is not what is proposed now: the
		// service would refuse the approval anyway.
		v.Status, v.Error = http.StatusConflict, "The terms changed since you opened the page (content hash "+a.ContentHash+" now, not "+hash+"). Review them again."
	}
	v.Title, v.Nav = act.Label+" "+a.ID+"?", "agreements"
	v.Data = confirmData{A: a, Action: act, Reason: reason, ContentHash: hash, Consequence: consequences[name]}
	c.render(w, r, "agreement_confirm", v)
}

// consequences say what each action does, on the confirmation page.
var consequences = map[string]string{
	"approve": "Your approval is recorded for the terms with this content hash. When a steward of the other agency has approved the same terms, the agreement becomes approved, and active if it is within its validity window.",
	"suspend": "Deliveries stop within seconds, until a steward of either agency resumes the agreement. Both agencies are notified.",
	"resume":  "Deliveries start again within seconds (if the agreement is within its validity window). Both agencies are notified.",
	"revoke":  "Revocation is final: deliveries stop within seconds and the agreement can never be active again. Both agencies are notified.",
}

// doneMessages confirm an action after its redirect (?done=<action>).
var doneMessages = map[string]string{
	"approve": "Your approval is recorded.", "suspend": "Suspended.", "resume": "Resumed.", "revoke": "Revoked.",
}

// stewardshipFail shows a refusal of the stewardship service with its
// status: 403, 400, 404, 409, else as errorOf says.
func (c *Console) stewardshipFail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	code := 0
	switch {
	case errors.Is(err, stewardship.ErrForbidden):
		code = http.StatusForbidden
	case errors.Is(err, stewardship.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	case stewardship.IsConflict(err):
		code = http.StatusConflict
	}
	if code == 0 {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	c.failView(w, r, v, code, err.Error())
}
