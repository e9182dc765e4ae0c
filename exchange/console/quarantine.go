package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/schemas"
)

// quarantinePageSize is how many entries the quarantine page lists.
const quarantinePageSize = 50

// readTimeout bounds a read of the quarantine topic.
const readTimeout = 10 * time.Second

// reasonRow is one reason of one dataset over the period.
type reasonRow struct {
	Dataset, Reason string
	Count           int64
}

type quarantineData struct {
	periodFilter
	Chart   seriesChart
	Reasons []reasonRow
	Entries []ledger.Entry
	Next    string // cursor of the next page of entries
	Paged   bool   // this is not the first page
}

// quarantine: quarantined records by reason and dataset over the period
// (the per-reason daily aggregates) and the newest quarantined entries
// (the audit API: decision=quarantined, the partial index of quarantined
// entries, the principal's scope).
func (c *Console) quarantine(w http.ResponseWriter, r *http.Request, v *view) {
	scope, err := c.cfg.Scope(r)
	if err != nil {
		c.failView(w, r, v, http.StatusForbidden, err.Error())
		return
	}
	d := quarantineData{periodFilter: c.periodFilter(r)}
	q := d.query()
	reasons, err := c.cfg.Store.Reasons(r.Context(), q)
	var rows []sla.Daily
	if err == nil {
		rows, err = c.cfg.Store.Daily(r.Context(), sla.DailyQuery{Dataset: q.Dataset, Agreement: sla.AgreementNone, From: q.From, To: q.To})
	}
	if err == nil {
		err = c.quarantineEntries(r, &d)
	}
	if err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	reasons = slices.DeleteFunc(reasons, func(x sla.ReasonDaily) bool { return !allows(scope, x.Dataset, "") || x.Quarantined == 0 })
	rows = slices.DeleteFunc(rows, func(x sla.Daily) bool { return !allows(scope, x.Dataset, "") })
	d.Datasets = datasetsOf(rows)
	d.Reasons, d.Chart = quarantineReasons(&d.periodFilter, reasons)
	v.Title, v.Nav, v.Data = "Quarantine", "quarantine", d
	c.render(w, r, "quarantine", v)
}

// quarantineEntries reads one page of the newest quarantined entries of
// the period through the audit API.
func (c *Console) quarantineEntries(r *http.Request, d *quarantineData) error {
	q := url.Values{"decision": {string(ledger.Quarantined)}, "sort": {ledger.SortTimeDesc},
		"from": {d.From + "T00:00:00Z"}, "limit": {strconv.Itoa(quarantinePageSize)}}
	if d.Dataset != "" {
		q.Set("dataset", d.Dataset)
	}
	if after := r.URL.Query().Get("after"); after != "" {
		q.Set("after", after)
		d.Paged = true
	}
	var page ledger.Page
	if err := callAPI(r, c.cfg.Audit.Audit(), "/api/v1/audit", q, &page); err != nil {
		return err
	}
	d.Entries, d.Next = page.Entries, page.Next
	return nil
}

// quarantineReasons sums the period's quarantines per dataset and reason
// and charts each one per day.
func quarantineReasons(f *periodFilter, reasons []sla.ReasonDaily) ([]reasonRow, seriesChart) {
	byKey := map[[2]string]*reasonRow{}
	perDay := map[string][]float64{}
	dayIdx := indexOf(f.Days)
	var names []string
	for _, x := range reasons {
		k := [2]string{x.Dataset, x.Reason}
		name := x.Dataset + " " + x.Reason
		if byKey[k] == nil {
			byKey[k] = &reasonRow{Dataset: x.Dataset, Reason: x.Reason}
			names = append(names, name)
			perDay[name] = make([]float64, len(f.Days))
		}
		byKey[k].Count += x.Quarantined
		if i, ok := dayIdx[x.Day]; ok {
			perDay[name][i] += float64(x.Quarantined)
		}
	}
	out := make([]reasonRow, 0, len(byKey))
	for _, rr := range byKey {
		out = append(out, *rr)
	}
	largestFirst(out, func(r reasonRow) (float64, string) { return float64(r.Count), r.Dataset + " " + r.Reason })
	sort.Strings(names)
	ch := newSeriesChart("quarantine-reasons", "Quarantined records per day by reason",
		"One line per dataset and reason code: the records quarantined with that reason each day (a record with several reasons counts under each).",
		"", f.Days, names, perDay)
	return out, ch
}

// entryData is one quarantined entry, what its quarantine copy says, and
// (for the provider's stewards, after they asked) its value.
type entryData struct {
	Entry    ledger.Entry
	Source   string // topic/partition/offset of the ingress record
	Detail   string // the exchange-detail header, without values
	ReadErr  string // why the quarantine copy could not be read
	Provider bool   // the principal is a steward of the provider agency
	Purpose  string
	Copy     *QuarantinedRecord // shown only after an audited value request
	Value    string             // the value, as JSON when it decodes
	ValueErr string             // why it is shown raw
	At       time.Time
}

// quarantineEntry shows one quarantined entry with the detail of its
// quarantine copy; the provider agency's stewards get a form to see the
// record's value.
func (c *Console) quarantineEntry(w http.ResponseWriter, r *http.Request, v *view) {
	d, ok := c.entryData(w, r, v)
	if !ok {
		return
	}
	if c.cfg.Quarantine == nil {
		d.ReadErr = "This exchange reads no quarantine topic (no Kafka configured for the console)."
	} else if rec, err := c.readCopy(r.Context(), d); err != nil {
		d.ReadErr = readProblem(err)
	} else {
		d.Detail = sla.WithoutValues(rec.Detail)
	}
	v.Title, v.Nav, v.Data = "Quarantined record", "quarantine", d
	c.render(w, r, "quarantine_entry", v)
}

// quarantineValue shows a quarantined record's value to a steward of the
// provider agency, for a stated purpose, after recording the view in the
// access log; anyone else is refused (403) whatever the form says.
func (c *Console) quarantineValue(w http.ResponseWriter, r *http.Request, v *view) {
	// Refused before any lookup, from the position's own dataset, so a
	// forged request learns nothing about the entry either.
	dataset, _ := names.DatasetOfIngress(r.PostFormValue("topic"))
	if !c.providerSteward(r, v, dataset) {
		c.failView(w, r, v, http.StatusForbidden, fmt.Sprintf("Only the stewards of the agency providing %s see its quarantined values; %s is not one.", dataset, v.Principal))
		return
	}
	d, ok := c.entryData(w, r, v)
	if !ok {
		return
	}
	if !d.Provider { // the entry's dataset is another than the topic's
		c.failView(w, r, v, http.StatusForbidden, fmt.Sprintf("Only the stewards of the agency providing %s see its quarantined values; %s is not one.", d.Entry.Dataset, v.Principal))
		return
	}
	v.Title, v.Nav, v.Data = "Quarantined record", "quarantine", d
	d.Purpose = strings.TrimSpace(r.PostFormValue("purpose"))
	if d.Purpose == "" {
		v.Status, v.Error = http.StatusBadRequest, "State the purpose of this view; it is written to the access log."
		c.render(w, r, "quarantine_entry", v)
		return
	}
	if c.cfg.Quarantine == nil {
		v.Status, v.Error = http.StatusServiceUnavailable, "This exchange reads no quarantine topic (no Kafka configured for the console)."
		c.render(w, r, "quarantine_entry", v)
		return
	}
	d.At = c.now().UTC()
	// Recorded before the value is read: a view is never unaudited.
	if err := c.cfg.Store.RecordAccess(r.Context(), store.Access{Who: v.Principal.String(), At: d.At, Purpose: d.Purpose,
		Query: "console quarantine value " + d.Source}); err != nil {
		v.Status, v.Error = c.errorOf(r, err)
		c.render(w, r, "quarantine_entry", v)
		return
	}
	rec, err := c.readCopy(r.Context(), d)
	if err != nil {
		v.Status, v.Error = http.StatusBadGateway, readProblem(err)
		c.render(w, r, "quarantine_entry", v)
		return
	}
	d.Copy, d.Detail = rec, rec.Detail
	d.Value, d.ValueErr = c.decodeValue(r.Context(), rec.Value)
	c.render(w, r, "quarantine_entry", v)
}

// entryData finds the quarantined entry the request names (topic,
// partition, offset) through the audit API, so the principal's scope
// applies; false when it answered the request.
func (c *Console) entryData(w http.ResponseWriter, r *http.Request, v *view) (*entryData, bool) {
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	topic, part, off := form.Get("topic"), form.Get("partition"), form.Get("offset")
	_, perr := strconv.ParseInt(part, 10, 32)
	_, oerr := strconv.ParseInt(off, 10, 64)
	if topic == "" || perr != nil || oerr != nil {
		c.failView(w, r, v, http.StatusBadRequest, "Name the entry: topic, partition and offset (numbers).")
		return nil, false
	}
	q := url.Values{"topic": {topic}, "partition": {part}, "offset": {off}, "decision": {string(ledger.Quarantined)}}
	var page ledger.Page
	if err := callAPI(r, c.cfg.Audit.Audit(), "/api/v1/audit", q, &page); err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return nil, false
	}
	if len(page.Entries) == 0 {
		c.failView(w, r, v, http.StatusNotFound, "No quarantined entry you may see is at that position.")
		return nil, false
	}
	e := page.Entries[0]
	d := &entryData{Entry: e, Source: fmt.Sprintf("%s/%d/%d", e.Topic, e.Partition, e.Offset), Provider: c.providerSteward(r, v, e.Dataset)}
	return d, true
}

// providerSteward reports whether the principal is a steward of the
// agency providing dataset (its audit scope owns the dataset).
func (c *Console) providerSteward(r *http.Request, v *view, dataset string) bool {
	if dataset == "" || !v.Principal.HasRole(auth.RoleSteward) {
		return false
	}
	scope, err := c.cfg.Scope(r)
	return err == nil && scope.Datasets[dataset]
}

func (c *Console) readCopy(ctx context.Context, d *entryData) (*QuarantinedRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return c.cfg.Quarantine.ReadQuarantined(ctx, d.Entry.Dataset, d.Source, d.Entry.DecisionTime)
}

// readProblem says why the quarantine copy could not be read.
func readProblem(err error) string {
	if errors.Is(err, ErrNotInQuarantine) {
		return "The quarantine topic no longer holds this record (retention may have removed it)."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "Reading the quarantine topic took too long; try again."
	}
	return "The quarantine topic could not be read: " + err.Error()
}

// maxRawValue bounds a value shown undecoded.
const maxRawValue = 4 << 10

// decodeValue renders a quarantined value: JSON when it is Avro in the
// wire format under a schema of the registry, else the bytes quoted (cut
// at maxRawValue) with why.
func (c *Console) decodeValue(ctx context.Context, value []byte) (string, string) {
	raw := func(why string) (string, string) {
		b := value
		if len(b) > maxRawValue {
			b = b[:maxRawValue]
			why += fmt.Sprintf("; the first %d of %d bytes", maxRawValue, len(value))
		}
		return strconv.Quote(string(b)), why
	}
	if c.cfg.Registry == nil {
		return raw("no schema registry to decode it")
	}
	id, body, err := schemas.ParseFrame(value)
	if err != nil {
		return raw("not in the wire format: " + err.Error())
	}
	s, err := c.cfg.Registry.SchemaByID(ctx, id)
	if err != nil {
		return raw(fmt.Sprintf("schema %d: %v", id, err))
	}
	var x any
	if err := avro.Unmarshal(s.Avro, body, &x); err != nil {
		return raw(fmt.Sprintf("does not decode under schema %d: %v", id, err))
	}
	out, err := json.MarshalIndent(publish.ToJSON(s.Avro, x), "", "  ")
	if err != nil {
		return raw(err.Error())
	}
	return string(out), ""
}
