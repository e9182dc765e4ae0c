package timeliness_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/calendar"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/timeliness"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// planWithAgreement compiles a plan of dataset (owner health, no
// expected_every of its own) with one agreement to the agency benefits
// whose freshness expects a delivery every `every`, in status.
func planWithAgreement(t *testing.T, id string, every time.Duration, status agreements.Status) *policy.Holder {
	t.Helper()
	s := avro.MustParse(`{"type":"record","name":"Dose","fields":[{"name":"id","type":"string"}]}`)
	subject := names.IngressSubject(dataset)
	p, err := policy.Compile(policy.Input{
		Version: "v1", PseudonymKey: func(string) []byte { return []byte("k") },
		Schemas: []schemas.SchemaVersion{{ID: 1, Subject: subject, Version: 1, Avro: s}},
		Contracts: []agreements.DataContract{{Dataset: dataset, Owner: "health", Subject: subject,
			Fields: []agreements.FieldClass{{Name: "id", Class: agreements.Internal}}}},
		Agreements: []agreements.Agreement{{ID: id, Provider: dataset, Consumer: "benefits", Purpose: "Checks.",
			LegalBasis: "Act 1, s.1", Status: status, ExpectedEvery: calendar.Wall(every),
			Fields: []agreements.FieldRule{{Name: "id", Transform: agreements.Transform{Kind: agreements.Keep}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var h policy.Holder
	h.Store(p)
	return &h
}

// agreementRig is an aggregator and a monitor over one store with a fake
// clock, and what they sent.
type agreementRig struct {
	db  store.Backend
	agg *timeliness.Aggregator
	mon *timeliness.Monitor
	m   *timeliness.Metrics
	out *sent
	c   *clock
}

func newAgreementRig(t *testing.T, plans *policy.Holder) *agreementRig {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &agreementRig{db: db, m: timeliness.NewMetrics(nil), out: &sent{}, c: &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}}
	n := timeliness.NewNotifier(db, r.out, r.m, nil)
	r.agg = timeliness.NewAggregator(db, n, func(string) string { return "health" }, timeliness.AggregatorConfig{Metrics: r.m})
	r.mon = timeliness.NewMonitor(db, plans, n, timeliness.MonitorConfig{Now: r.c.now, Metrics: r.m})
	return r
}

// batch flushes one batch decided now of records accepted for the
// dataset, delivered under agreement (none when "").
func (r *agreementRig) batch(t *testing.T, agreement string) {
	t.Helper()
	dt := &exchange.DatasetTimeliness{Records: 1, Agreements: map[string]*exchange.AgreementTimeliness{}}
	if agreement != "" {
		dt.Agreements[agreement] = &exchange.AgreementTimeliness{Delivered: 1}
	} else {
		dt.Agreements["ag-filtered"] = &exchange.AgreementTimeliness{} // filtered out: no delivery
	}
	at := r.c.now()
	r.agg.ObserveActivity(exchange.BatchActivity{At: at, Produced: at, Timeliness: map[string]*exchange.DatasetTimeliness{dataset: dt}})
	r.agg.Flush(context.Background(), at)
}

func (r *agreementRig) check(t *testing.T) {
	t.Helper()
	if err := r.mon.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestAgreementSilence: an active agreement expecting a delivery every 3 s
// gets none for 3 s while its dataset's records flow (filtered out, say):
// it is silent, the gauge is 1, the provider and the consumer each get a
// silence_started notice and the store an SLA event of the agreement; a
// delivery ends it, with an end notice to both.
func TestAgreementSilence(t *testing.T) {
	const ag = "ag-health-benefits"
	r := newAgreementRig(t, planWithAgreement(t, ag, 3*time.Second, agreements.StatusActive))
	t0 := r.c.now()
	r.batch(t, ag)
	r.check(t)
	if v := timeliness.Gauge(t, r.m, "exchange_agreement_silent"); v != 0 {
		t.Fatalf("silent gauge %v right after a delivery", v)
	}
	for _, s := range []time.Duration{time.Second, 2 * time.Second} {
		r.c.set(t0.Add(s))
		r.batch(t, "") // accepted, not delivered under ag
	}
	r.c.set(t0.Add(3 * time.Second))
	r.check(t)
	r.check(t) // checked again: no second notice
	if got := r.out.kinds(); !equal(got, []string{sla.KindSilenceStarted, sla.KindSilenceStarted}) {
		t.Fatalf("notices %v, want silence_started to the provider and the consumer", got)
	}
	if v := timeliness.Gauge(t, r.m, "exchange_agreement_silent"); v != 1 {
		t.Fatalf("agreement silent gauge %v, want 1", v)
	}
	if v := timeliness.Gauge(t, r.m, "exchange_dataset_silent"); v != -1 {
		t.Fatalf("dataset silent gauge %v: the contract sets no expected_every", v)
	}
	r.c.set(t0.Add(5 * time.Second))
	r.batch(t, ag)
	r.check(t)
	if v := timeliness.Gauge(t, r.m, "exchange_agreement_silent"); v != 0 {
		t.Fatalf("agreement silent gauge %v after a delivery, want 0", v)
	}
	want := []string{sla.KindSilenceStarted, sla.KindSilenceStarted, sla.KindSilenceEnded, sla.KindSilenceEnded}
	if got := r.out.kinds(); !equal(got, want) {
		t.Fatalf("notices %v, want %v", got, want)
	}
	to := map[string]int{}
	for _, n := range r.out.ns {
		to[n.Agency]++
		if n.Dataset != dataset || n.Agreement != ag || n.WindowStart == nil || !n.WindowStart.Equal(t0.Add(3*time.Second)) {
			t.Errorf("notice %+v", n)
		}
	}
	if to["health"] != 2 || to["benefits"] != 2 {
		t.Fatalf("notices per agency %v, want 2 each to health and benefits", to)
	}
	evs, err := r.db.Events(context.Background(), sla.EventQuery{Dataset: dataset})
	if err != nil || len(evs) != 1 || evs[0].Agreement != ag || evs[0].Duration(time.Time{}) != 2*time.Second {
		t.Fatalf("events %+v, %v; want one of agreement %s, 2 s long", evs, err, ag)
	}
}

// TestInactiveAgreementNotJudged: a suspended, revoked or expired
// agreement without deliveries for far longer than its expected_every
// raises nothing.
func TestInactiveAgreementNotJudged(t *testing.T) {
	const ag = "ag-health-benefits"
	for _, st := range []agreements.Status{agreements.StatusSuspended, agreements.StatusRevoked, agreements.StatusExpired} {
		t.Run(string(st), func(t *testing.T) {
			r := newAgreementRig(t, planWithAgreement(t, ag, 3*time.Second, st))
			r.batch(t, ag) // its last delivery, before it stopped
			r.c.set(r.c.now().Add(time.Hour))
			r.check(t)
			if got := r.out.kinds(); len(got) != 0 {
				t.Fatalf("notices %v for a %s agreement", got, st)
			}
			if v := timeliness.Gauge(t, r.m, "exchange_agreement_silent"); v != -1 {
				t.Fatalf("agreement silent gauge %v for a %s agreement, want none", v, st)
			}
		})
	}
}
