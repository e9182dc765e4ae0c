package console

import (
	"encoding/csv"
	"encoding/hex"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
)

// auditFilters are the audit API's filters the search form offers (the
// API validates them: an unknown decision or a bad time is its 400).
var auditFilters = []string{"dataset", "agreement", "consumer", "decision", "reason", "delivery_id", "from", "to", "sort", "limit"}

// csvMaxPages bounds an export: at most this many pages of
// ledger.MaxLimit entries; narrow the filters for more.
const csvMaxPages = 50

type auditData struct {
	Decisions []ledger.Decision // the decision filter's choices
	Filters   map[string]string
	Query     url.Values // the filters as given, for the export and next links
	Page      *ledger.Page
	// Next and CSV are query strings built by url.Values.Encode.
	Next  template.URL
	CSV   template.URL
	Asked bool
}

// filtersOf keeps the audit API's filters of the request's query.
func filtersOf(in url.Values) url.Values {
	q := url.Values{}
	for _, k := range auditFilters {
		if s := strings.TrimSpace(in.Get(k)); s != "" {
			q.Set(k, s)
		}
	}
	return q
}

// audit is the ledger search: the audit API's filters, its scope, its
// paging (the next link carries the API's cursor).
func (c *Console) audit(w http.ResponseWriter, r *http.Request, v *view) {
	in := r.URL.Query()
	q := filtersOf(in)
	d := auditData{Decisions: []ledger.Decision{ledger.Delivered, ledger.Dropped, ledger.Quarantined}, Filters: map[string]string{}, Query: q, Asked: len(q) > 0 || in.Has("search")}
	for _, k := range auditFilters {
		d.Filters[k] = q.Get(k)
	}
	v.Title, v.Nav, v.Data = "Audit", "audit", &d
	if d.Asked {
		api := url.Values{}
		for k := range q {
			api.Set(k, q.Get(k))
		}
		if after := in.Get("after"); after != "" {
			api.Set("after", after)
		}
		var page ledger.Page
		if err := callAPI(r, c.cfg.Audit.Audit(), "/api/v1/audit", api, &page); err != nil {
			code, msg := c.errorOf(r, err)
			v.Status, v.Error = code, msg
		} else {
			d.Page = &page
			if page.Next != "" {
				next := url.Values{}
				for k := range q {
					next.Set(k, q.Get(k))
				}
				next.Set("after", page.Next)
				d.Next = template.URL(next.Encode())
			}
		}
		d.CSV = template.URL(q.Encode())
	}
	c.render(w, r, "audit", v)
}

// auditCSV exports the search's entries as CSV, page by page through the
// audit API (so its scope applies), at most csvMaxPages pages.
func (c *Console) auditCSV(w http.ResponseWriter, r *http.Request, v *view) {
	q := filtersOf(r.URL.Query())
	q.Set("limit", strconv.Itoa(ledger.MaxLimit))
	var pages []ledger.Page
	for i := 0; i < csvMaxPages; i++ {
		var page ledger.Page
		if err := callAPI(r, c.cfg.Audit.Audit(), "/api/v1/audit", q, &page); err != nil {
			code, msg := c.errorOf(r, err)
			c.failView(w, r, v, code, msg)
			return
		}
		pages = append(pages, page)
		if page.Next == "" {
			break
		}
		q.Set("after", page.Next)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"decision_time", "dataset", "topic", "partition", "offset", "decision", "reasons", "deliveries", "skips", "plan_version", "hash"})
	for _, p := range pages {
		for _, e := range p.Entries {
			_ = cw.Write([]string{e.DecisionTime.UTC().Format("2006-01-02T15:04:05.000000Z"), csvSafe(e.Dataset), csvSafe(e.Topic),
				strconv.Itoa(int(e.Partition)), strconv.FormatInt(e.Offset, 10), string(e.Decision),
				csvSafe(strings.Join(e.Reasons, " ")), csvSafe(deliveriesText(e.Deliveries)), csvSafe(skipsText(e.Skips)),
				csvSafe(e.PlanVersion), hex.EncodeToString(e.Hash)})
		}
	}
	cw.Flush()
}

// csvSafe defuses a cell a spreadsheet would read as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func deliveriesText(ds []ledger.Delivery) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(d.AgreementID + ":" + d.DeliveryID)
	}
	return b.String()
}

func skipsText(ss []ledger.Skip) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.AgreementID + ":" + s.Reason)
	}
	return b.String()
}

// lineage shows where one delivery's record came from and everywhere it
// went: the audit API's lineage answer.
func (c *Console) lineage(w http.ResponseWriter, r *http.Request, v *view) {
	id := strings.TrimSpace(r.URL.Query().Get("delivery_id"))
	v.Title, v.Nav = "Lineage", "audit"
	type data struct {
		DeliveryID string
		Lineage    *auditapi.Lineage
	}
	d := data{DeliveryID: id}
	if id != "" {
		var l auditapi.Lineage
		if err := callAPI(r, c.cfg.Audit.Lineage(), "/api/v1/lineage", url.Values{"delivery_id": {id}}, &l); err != nil {
			v.Status, v.Error = c.errorOf(r, err)
		} else {
			d.Lineage = &l
		}
	}
	v.Data = d
	c.render(w, r, "lineage", v)
}
