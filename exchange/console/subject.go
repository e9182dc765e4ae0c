package console

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/stewardship"
)

// subjectMaxPages bounds one report: this many pages of ledger.MaxLimit
// decisions about one person.
const subjectMaxPages = 20

// subjectRow is one delivery of a record about the data subject.
type subjectRow struct {
	Time       time.Time
	Dataset    string
	Consumer   string
	Agreement  string
	DeliveryID string
	Purpose    string
	LegalBasis string
	Version    int
	Fields     []agreements.FieldRule
}

type subjectData struct {
	Identifier, Purpose string
	Asked               bool
	Rows                []subjectRow
	Agencies            []string // distinct receiving agencies
	Decisions           int      // ledger decisions about the person
	Undelivered         int      // of them, delivered to nobody
	Truncated           bool
	At                  time.Time
}

func (c *Console) subjectForm(w http.ResponseWriter, r *http.Request, v *view) {
	if !c.requireRole(w, r, v, auth.RoleAuditor) {
		return
	}
	v.Title, v.Nav, v.Data = "Data subject report", "subject", subjectData{}
	c.render(w, r, "subject", v)
}

// subjectReport answers a subject-access request: every delivery of a
// record about the person, to which agency, when, under which agreement,
// purpose and legal basis, with the fields and transforms of the terms in
// force then. The identifier is posted (never in a URL or a log); the
// audit API hashes nothing itself, so the console sends the keyed hash,
// and the API records the lookup in the access log before answering.
func (c *Console) subjectReport(w http.ResponseWriter, r *http.Request, v *view) {
	if !c.requireRole(w, r, v, auth.RoleAuditor) {
		return
	}
	d := subjectData{Identifier: r.PostFormValue("identifier"), Purpose: strings.TrimSpace(r.PostFormValue("purpose")), Asked: true, At: c.now().UTC()}
	v.Title, v.Nav, v.Data = "Data subject report", "subject", &d
	switch {
	case strings.TrimSpace(d.Identifier) == "":
		v.Status, v.Error = http.StatusBadRequest, "Enter the person's identifier."
	case d.Purpose == "":
		v.Status, v.Error = http.StatusBadRequest, "State the purpose of this lookup (for example the subject-access request's reference); it is written to the access log."
	default:
		if err := c.fillSubject(r, &d); err != nil {
			v.Status, v.Error = c.errorOf(r, err)
			d.Rows = nil
		}
	}
	c.render(w, r, "subject", v)
}

// fillSubject pages through the audit API's answer for the subject hash.
func (c *Console) fillSubject(r *http.Request, d *subjectData) error {
	q := url.Values{"subject_hash": {hex.EncodeToString(c.cfg.SubjectHash(d.Identifier))}, "purpose": {d.Purpose},
		"limit": {strconv.Itoa(ledger.MaxLimit)}}
	terms := termsCache{c: c, m: map[termsKey]*agreements.Agreement{}}
	agencies := map[string]bool{}
	for i := 0; ; i++ {
		if i == subjectMaxPages {
			d.Truncated = true
			break
		}
		var page ledger.Page
		if err := callAPI(r, c.cfg.Audit.Audit(), "/api/v1/audit", q, &page); err != nil {
			return err
		}
		for _, e := range page.Entries {
			d.Decisions++
			if len(e.Deliveries) == 0 {
				d.Undelivered++
			}
			for _, del := range e.Deliveries {
				row := subjectRow{Time: e.DecisionTime, Dataset: e.Dataset, Consumer: ledger.Consumer(del.Topic),
					Agreement: del.AgreementID, DeliveryID: del.DeliveryID}
				a, version, err := terms.at(r.Context(), del.AgreementID, e.DecisionTime)
				if err != nil {
					return err
				}
				if a != nil {
					row.Purpose, row.LegalBasis, row.Fields, row.Version = a.Purpose, a.LegalBasis, a.Fields, version
				}
				agencies[row.Consumer] = true
				d.Rows = append(d.Rows, row)
			}
		}
		if page.Next == "" {
			break
		}
		q.Set("after", page.Next)
	}
	for a := range agencies {
		d.Agencies = append(d.Agencies, a)
	}
	sort.Strings(d.Agencies)
	return nil
}

type termsKey struct {
	id      string
	version int
}

// termsCache finds the terms of an agreement in force at a time: the
// version of its latest transition at or before then (the latest version
// when none is), each version parsed once per report.
type termsCache struct {
	c     *Console
	m     map[termsKey]*agreements.Agreement
	trans map[string][]timeVersion
}

type timeVersion struct {
	at      time.Time
	version int
}

func (t *termsCache) at(ctx context.Context, id string, when time.Time) (*agreements.Agreement, int, error) {
	if t.trans == nil {
		t.trans = map[string][]timeVersion{}
	}
	tv, ok := t.trans[id]
	if !ok {
		ts, err := t.c.cfg.Store.Transitions(ctx, id)
		if err != nil {
			return nil, 0, fmt.Errorf("transitions of agreement %s: %w", id, err)
		}
		for _, tr := range ts {
			tv = append(tv, timeVersion{tr.At, tr.Version})
		}
		t.trans[id] = tv
	}
	version := 0
	for _, x := range tv {
		if !x.at.After(when) {
			version = x.version
		}
	}
	k := termsKey{id, version}
	if a, ok := t.m[k]; ok {
		return a, version, nil
	}
	a, err := t.c.cfg.Stewardship.TermsOf(ctx, id, version)
	if errors.Is(err, stewardship.ErrNotFound) {
		a = nil // the row says the terms are not in the store
	} else if err != nil {
		return nil, 0, err
	}
	t.m[k] = a
	return a, version, nil
}
