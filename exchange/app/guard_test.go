package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/tools/gen"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

const healthSubject = "ingress.health.immunisations-value"

// healthSchemaWith is the example immunisation schema with field edited
// (a JSON field object, or "" to remove it) and extra fields appended.
func healthSchemaWith(t *testing.T, field, replacement string, extra ...string) string {
	t.Helper()
	text, err := os.ReadFile("../../deploy/examples/" + healthSubject + ".avsc")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(text, &doc); err != nil {
		t.Fatal(err)
	}
	var fields []any
	for _, f := range doc["fields"].([]any) {
		if f.(map[string]any)["name"] != field {
			fields = append(fields, f)
			continue
		}
		if replacement != "" {
			var r any
			if err := json.Unmarshal([]byte(replacement), &r); err != nil {
				t.Fatal(err)
			}
			fields = append(fields, r)
		}
	}
	for _, e := range extra {
		var r any
		if err := json.Unmarshal([]byte(e), &r); err != nil {
			t.Fatal(err)
		}
		fields = append(fields, r)
	}
	doc["fields"] = fields
	b, _ := json.Marshal(doc)
	return string(b)
}

// call sends a registry request and returns status and body: as the
// operator for compatibility config (the operator's right), else as
// health's publisher (issue 12: the attack replayed with a publisher's
// token on its own subject).
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	who := healthPublisher
	if strings.Contains(url, "/registry/config/") {
		who = operator
	}
	req.Header.Set("Authorization", bearer(t, who))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func registerBody(schema string) string {
	b, _ := json.Marshal(map[string]string{"schema": schema})
	return string(b)
}

// readyDetail is /readyz's "plan" detail.
func readyDetail(t *testing.T, base string) string {
	t.Helper()
	return readyDetails(t, base)["plan"]
}

// TestRegistryWriteCannotFreezePolicy replays issue 12's attack. A version
// of health's subject that breaks an agreement is refused with 409 naming
// agreement and field, under NONE too; an additive one is accepted. A
// breaking version that got in anyway (written by a registry without the
// guard) quarantines health's records only: a revocation on another
// dataset still applies at the next reload, and a restart succeeds with
// the problem on /readyz.
func TestRegistryWriteCannotFreezePolicy(t *testing.T) {
	ctx := context.Background()
	dir, data := copyExamples(t), t.TempDir()
	a, _ := startOn(t, dir, data)
	srv := httptest.NewServer(a.HTTP())
	defer srv.Close()
	versions := srv.URL + "/registry/subjects/" + healthSubject + "/versions"

	noCitizen := healthSchemaWith(t, "citizen_id", "")
	citizenInt := healthSchemaWith(t, "citizen_id", `{"name":"citizen_id","type":"int"}`)
	for _, level := range []string{"", "NONE"} {
		if level != "" {
			if st, body := call(t, "PUT", srv.URL+"/registry/config/"+healthSubject, `{"compatibility":"NONE"}`); st != 200 {
				t.Fatalf("PUT config: %d %s", st, body)
			}
		}
		for name, schema := range map[string]string{"without citizen_id": noCitizen, "citizen_id as int": citizenInt} {
			st, body := call(t, "POST", versions, registerBody(schema))
			if st != 409 || !strings.Contains(body, `"error_code":40901`) || !strings.Contains(body, "agreement health-to-social-2026-001 delivers field citizen_id, which this version") {
				t.Errorf("level %q, %s: %d %s, want 409 naming the agreement and field", level, name, st, body)
			}
		}
	}
	st, body := call(t, "POST", versions, registerBody(healthSchemaWith(t, "", "", `{"name":"lot","type":["null","string"],"default":null}`)))
	if st != 200 {
		t.Fatalf("an additive version: %d %s, want 200", st, body)
	}
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if b := a.Plan().Broken(); len(b) != 0 || readyDetail(t, srv.URL) != "" {
		t.Fatalf("after an additive version: broken %+v", b)
	}

	// A breaking version that slipped in (a registry without the guard).
	bypass := schemas.NewRegistry(a.Store().Schemas(), schemas.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if _, err := bypass.Register(ctx, healthSubject, noCitizen); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(ctx); err != nil {
		t.Fatalf("reload with a broken dataset: %v", err)
	}
	checkHealthQuarantined(t, a)
	if d := readyDetail(t, srv.URL); !strings.Contains(d, "dataset health.immunisations is quarantined") {
		t.Fatalf("/readyz plan detail %q, want health.immunisations named", d)
	}

	// A revocation on another dataset applies at the next reload.
	const other = "social-to-statistics-2026-005"
	if info, ok := a.Plan().Agreement(other); !ok || info.Status != agreements.StatusActive {
		t.Fatalf("agreement %s: %+v, want active", other, info)
	}
	before := a.Plan().Version()
	revokeStored(ctx, t, a, other)
	if err := a.Reload(ctx); err != nil {
		t.Fatalf("the revocation was refused: %v", err)
	}
	if a.Plan().Version() == before {
		t.Fatal("the revocation kept the plan version")
	}
	checkRevoked(ctx, t, a, other)
	checkHealthQuarantined(t, a)
	// So does one on the quarantined dataset itself (it delivers nothing anyway).
	revokeStored(ctx, t, a, "health-to-statistics-2026-002")
	if err := a.Reload(ctx); err != nil {
		t.Fatalf("a revocation on the quarantined dataset was refused: %v", err)
	}
	checkHealthQuarantined(t, a)

	// A restart with the broken version present.
	srv.Close()
	a.Close()
	a2, log := startOn(t, dir, data)
	checkHealthQuarantined(t, a2)
	checkRevoked(ctx, t, a2, other)
	srv2 := httptest.NewServer(a2.HTTP())
	defer srv2.Close()
	if d := readyDetail(t, srv2.URL); !strings.Contains(d, "health.immunisations") {
		t.Fatalf("/readyz plan detail after the restart %q", d)
	}
	if !strings.Contains(log.String(), "dataset quarantined") || !strings.Contains(log.String(), "dataset=health.immunisations") {
		t.Fatalf("the log does not name the quarantined dataset:\n%s", log)
	}
}

// checkHealthQuarantined: every health record is quarantined as
// schema:unresolvable, and the plan lists the dataset as broken.
func checkHealthQuarantined(t *testing.T, a *App) {
	t.Helper()
	plan := a.Plan()
	if b := plan.Broken(); len(b) != 1 || b[0].Dataset != "health.immunisations" {
		t.Fatalf("Broken() = %+v, want health.immunisations", b)
	}
	d := plan.Evaluate(policy.Record{Dataset: "health.immunisations", SchemaID: 1, Body: []byte{0}}, time.Now())
	if !d.Quarantined || d.Reasons[0].Code != policy.ReasonSchemaUnresolvable || !strings.Contains(d.Reasons[0].Detail, "citizen_id") {
		t.Fatalf("a health record: %+v, want quarantined as %s naming citizen_id", d, policy.ReasonSchemaUnresolvable)
	}
}

// checkRevoked: the agreement is revoked in the plan and a record of its
// dataset is not delivered to it.
func checkRevoked(ctx context.Context, t *testing.T, a *App, id string) {
	t.Helper()
	plan := a.Plan()
	info, ok := plan.Agreement(id)
	if !ok || info.Status != agreements.StatusRevoked {
		t.Fatalf("agreement %s: %+v, want revoked", id, info)
	}
	const ds = "social-services.benefit-claims"
	ct, _ := plan.Contract(ds)
	latest, err := a.Registry().Latest(ctx, ct.Subject)
	if err != nil {
		t.Fatal(err)
	}
	var opts []gen.Option
	if ct.Freshness != nil {
		opts = append(opts, gen.EventTime(ct.Freshness.EventTime))
	}
	g, err := gen.New(latest.Avro, latest.ID, opts...)
	if err != nil {
		t.Fatal(err)
	}
	_, value, _, err := g.Next(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := plan.Evaluate(policy.Record{Dataset: ds, SchemaID: latest.ID, Body: value[5:]}, time.Now())
	for _, o := range d.Outcomes {
		if o.AgreementID == id {
			if o.Delivered || o.Skip != policy.SkipRevoked {
				t.Fatalf("%s after the revocation: %+v", id, o)
			}
			return
		}
	}
	t.Fatalf("a record of %s: %+v, want an outcome for %s", ds, d, id)
}
