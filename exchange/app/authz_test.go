package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/exchange/tools/gen"
)

var (
	auditor        = devissuer.Claims{Subject: "dpo", Roles: []string{auth.RoleAuditor}}
	healthSteward  = devissuer.Claims{Subject: "amara.okafor", Agency: "health", Roles: []string{auth.RoleSteward}}
	strangerAgency = devissuer.Claims{Subject: "nowhere", Agency: "nowhere", Roles: []string{auth.RolePublisher}}
)

// do sends method path with body as who and returns status and body.
func do(t *testing.T, who devissuer.Claims, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	req.Header.Set("Authorization", bearer(t, who))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// auditPage is who's answer to /api/v1/audit?query.
func auditPage(t *testing.T, who devissuer.Claims, base, query string) ledger.Page {
	t.Helper()
	code, body := do(t, who, "GET", base+"/api/v1/audit?"+query, "")
	var p ledger.Page
	if code != 200 || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("audit as %s: %d %s", who.Subject, code, body)
	}
	return p
}

// publishSamples publishes n generated records to dataset's ingress topic.
func publishSamples(ctx context.Context, t *testing.T, a *App, broker, dataset, eventTime string, n int) {
	t.Helper()
	latest, err := a.Registry().Latest(ctx, names.IngressSubject(dataset))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gen.New(latest.Avro, latest.ID, gen.EventTime(eventTime), gen.Seed(5))
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: names.Ingress(dataset), RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		key, value, _, err := g.Next(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: key, Value: value}
	}
	waitFor(t, "publishing to "+dataset, 30*time.Second, func() bool { return w.WriteMessages(ctx, msgs...) == nil })
}

// TestAuthorization runs the exchange and checks IDENTITY.md's HTTP rights
// through a real client: publishers write only their own datasets'
// subjects, config and deletes are the operator's, any principal reads
// schemas; agencies see the audit entries of their datasets and
// agreements only, auditors everything, and data-subject queries need
// role auditor and land in the access log; notices are the agency's own.
func TestAuthorization(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b, base := startStack(ctx, t, copyExamples(t))
	reg := base + "/registry"
	own, err := a.Registry().Latest(ctx, names.IngressSubject("health.immunisations"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Registry().Latest(ctx, names.IngressSubject("tax.income-assessments"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Registry", func(t *testing.T) {
		for _, c := range []struct {
			name         string
			who          devissuer.Claims
			method, path string
			body         string
			code         int
			says         string
		}{
			{"own subject", healthPublisher, "POST", "/subjects/" + own.Subject + "/versions", registerBody(own.Text), 200, fmt.Sprintf(`{"id":%d}`, own.ID)},
			{"another agency's subject", healthPublisher, "POST", "/subjects/" + other.Subject + "/versions", registerBody(other.Text), 403,
				`"publisher of health may register under ingress.health.immunisations-value only"`},
			{"a deliver subject", healthPublisher, "POST", "/subjects/" + names.DeliverSubject("health", "x") + "/versions", registerBody(own.Text), 403, `"error_code":40301`},
			{"global config", healthPublisher, "PUT", "/config", `{"compatibility":"NONE"}`, 403, "needs role operator"},
			{"subject config", healthPublisher, "PUT", "/config/" + own.Subject, `{"compatibility":"NONE"}`, 403, "needs role operator"},
			{"a delete", healthPublisher, "DELETE", "/subjects/" + own.Subject, "", 403, "needs role operator"},
			{"any schema by id", healthPublisher, "GET", fmt.Sprintf("/schemas/ids/%d", other.ID), "", 200, `"schema"`},
			{"a steward's token for a publisher's action", healthSteward, "POST", "/subjects/" + own.Subject + "/versions", registerBody(own.Text), 403, "needs the role publisher"},
			{"an agency not in agencies.yaml", strangerAgency, "GET", fmt.Sprintf("/schemas/ids/%d", own.ID), "", 403, `agency \"nowhere\" is not in agencies.yaml`},
			{"an auditor's read", auditor, "GET", "/subjects", "", 200, own.Subject},
			{"the operator's config", operator, "GET", "/config", "", 200, "compatibilityLevel"},
		} {
			code, body := do(t, c.who, c.method, reg+c.path, c.body)
			if code != c.code || !strings.Contains(body, c.says) {
				t.Errorf("%s: %d %s, want %d with %s", c.name, code, body, c.code, c.says)
			}
		}
	})

	publishSamples(ctx, t, a, b.Addr(), "health.immunisations", "administered_at", 10)
	publishSamples(ctx, t, a, b.Addr(), "tax.income-assessments", "assessed_at", 10)
	waitFor(t, "20 audited decisions", time.Minute, func() bool {
		return len(auditPage(t, auditor, base, "limit=1000").Entries) == 20
	})

	t.Run("Audit", func(t *testing.T) {
		all := auditPage(t, auditor, base, "limit=1000").Entries
		var healthEntries, taxEntry int
		for i, e := range all {
			switch e.Dataset {
			case "health.immunisations":
				healthEntries++
			case "tax.income-assessments":
				taxEntry = i
			}
		}
		mine := auditPage(t, healthPublisher, base, "limit=1000").Entries
		if len(mine) != healthEntries || healthEntries != 10 {
			t.Errorf("health sees %d entries, want its dataset's %d of the auditor's %d", len(mine), healthEntries, len(all))
		}
		for _, e := range mine {
			if e.Dataset != "health.immunisations" {
				t.Errorf("health sees an entry of %s", e.Dataset)
			}
		}
		if got := auditPage(t, healthSteward, base, "dataset=tax.income-assessments&limit=1000").Entries; len(got) != 0 {
			t.Errorf("health's steward sees %d entries of tax", len(got))
		}
		// statistics is party to health-to-statistics: it sees health's
		// entries that agreement received or skipped, none of tax's.
		stats := devissuer.Claims{Subject: "statistics", Agency: "statistics", Roles: []string{auth.RoleConsumer}}
		for _, e := range auditPage(t, stats, base, "limit=1000").Entries {
			if e.Dataset != "health.immunisations" {
				t.Errorf("statistics sees an entry of %s", e.Dataset)
			}
		}

		e := all[taxEntry]
		lineage := fmt.Sprintf("/api/v1/lineage?topic=%s&partition=%d&offset=%d", e.Topic, e.Partition, e.Offset)
		if code, body := do(t, healthPublisher, "GET", base+lineage, ""); code != 403 || !strings.Contains(body, `"missing":"dataset or agreement"`) {
			t.Errorf("health's lineage of a tax record: %d %s", code, body)
		}
		if code, body := do(t, auditor, "GET", base+lineage, ""); code != 200 {
			t.Errorf("auditor's lineage: %d %s", code, body)
		}

		subjectQuery := "/api/v1/audit?subject_hash=abcd&from=2026-01-01T00:00:00Z"
		if code, body := do(t, healthPublisher, "GET", base+subjectQuery+"&purpose=curiosity", ""); code != 403 || !strings.Contains(body, `"missing":"auditor"`) {
			t.Errorf("health's data-subject query: %d %s", code, body)
		}
		if code, body := do(t, auditor, "GET", base+subjectQuery, ""); code != 400 || !strings.Contains(body, "purpose") {
			t.Errorf("a data-subject query without purpose: %d %s", code, body)
		}
		if code, body := do(t, auditor, "GET", base+subjectQuery+"&purpose=subject+access+request+118", ""); code != 200 {
			t.Errorf("auditor's data-subject query: %d %s", code, body)
		}
		log, err := a.Store().Accesses(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || !strings.HasPrefix(log[0].Who, "auditor dpo") || log[0].Purpose != "subject access request 118" ||
			!strings.Contains(log[0].Query, "subject_hash=abcd") || time.Since(log[0].At) > time.Minute {
			t.Errorf("access log: %+v", log)
		}
	})

	t.Run("SLAAndNotices", func(t *testing.T) {
		// The aggregates are flushed in the background: wait for tax's.
		waitFor(t, "tax's SLA rows", 30*time.Second, func() bool {
			code, body := do(t, auditor, "GET", base+"/api/v1/sla", "")
			return code == 200 && strings.Contains(body, `"dataset":"tax.income-assessments"`)
		})
		code, body := do(t, healthPublisher, "GET", base+"/api/v1/sla", "")
		if code != 200 || strings.Contains(body, "tax.income-assessments") || !strings.Contains(body, `"dataset":"health.immunisations"`) {
			t.Errorf("health's SLA: %d %s", code, body)
		}
		if code, body := do(t, healthPublisher, "GET", base+"/api/v1/notices", ""); code != 200 {
			t.Errorf("health's own notices: %d %s", code, body)
		}
		if code, body := do(t, healthPublisher, "GET", base+"/api/v1/notices?agency=tax", ""); code != 403 || !strings.Contains(body, "only the notices of agency health") {
			t.Errorf("health reading tax's notices: %d %s", code, body)
		}
		if code, body := do(t, auditor, "GET", base+"/api/v1/notices?agency=tax", ""); code != 200 {
			t.Errorf("auditor reading tax's notices: %d %s", code, body)
		}
	})
}
