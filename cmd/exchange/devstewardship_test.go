package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/schemas"
)

// Issue 13's "Done when" in dev mode: exchange dev's stack (embedded
// broker with SASL and the ACLs the exchange manages, the examples seeded
// from their files), driven as people would: HTTP with the stewards' dev
// tokens, `exchange publish` and `exchange consume` with the agencies'
// dev credentials, `exchange agreement revoke|resume`.

// devSteward runs HTTP calls on a dev stack with the stewards' tokens.
type devSteward struct {
	s    *devStack
	http devHTTP
}

func newDevSteward(s *devStack) devSteward {
	return devSteward{s: s, http: devHTTP{base: strings.TrimSuffix(s.registry, "/registry"), data: s.dataDir, creds: devCredentialsDir(s.dataDir)}}
}

// call sends method path with body as steward (a name of agencies.yaml).
func (d devSteward) call(t *testing.T, steward, method, path, body string) (int, string) {
	t.Helper()
	return d.http.do(t, method, path, body, tokenOf(t, devissuer.StewardToken(d.http.creds, steward)))
}

// status is agreement id's status through the API, as steward.
func (d devSteward) status(t *testing.T, steward, id string) (status string, hash string) {
	t.Helper()
	code, body := d.call(t, steward, "GET", "/api/v1/agreements/"+id, "")
	var v struct {
		Status      string `json:"status"`
		ContentHash string `json:"content_hash"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("GET agreement %s as %s: %d %s", id, steward, code, body)
	}
	return v.Status, v.ContentHash
}

// publishBirths publishes n birth registrations with `exchange publish`
// as the civil registry; tag makes their ids unique. It returns their
// raw child_ids.
func publishBirths(ctx context.Context, t *testing.T, s *devStack, tag string, n int) map[string]bool {
	t.Helper()
	var lines bytes.Buffer
	raw := map[string]bool{}
	for i := range n {
		child := fmt.Sprintf("9%010d", 5000+i)
		raw[child] = true
		fmt.Fprintf(&lines, `{"registration_id": "reg-%s-%d", "child_id": %q, "mother_id": null, "birth_date": "2026-11-20", "sex": "MALE", `+
			`"birth_weight_grams": 3300, "plurality": 1, "municipality": "Northam", "postcode": "NE1 4ST", "registered_at": "2026-11-21T08:00:00Z"}`+"\n", tag, i, child)
	}
	file := filepath.Join(t.TempDir(), "births.jsonl")
	if err := os.WriteFile(file, lines.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(s.credentials("civil-registry"), "--dataset", "civil-registry.births", "--file", file, "--stamp-now", "registered_at", "--registry", s.registry)
	waitFor(t, "publishing births", 30*time.Second, func() bool {
		var out, errOut bytes.Buffer
		err := publishCmd(ctx, &out, &errOut, args)
		if err != nil && !strings.Contains(err.Error(), "topic") {
			t.Fatalf("publish: %v\n%s%s", err, out.String(), errOut.String())
		}
		return err == nil
	})
	return raw
}

// superUser reads topics whatever the ACLs: a revoked consumer may no
// longer, so what reached its topic is counted as the dev super user.
const superUser = ""

// consumed reads agreement id's deliveries with `exchange consume` as
// consumer (superUser: the dev super user); none when its topic does not
// exist (yet).
func consumed(ctx context.Context, t *testing.T, s *devStack, consumer, id string) []consumedLine {
	t.Helper()
	creds := []string{"--credentials", devcreds.AdminFile(s.dataDir, devAdminUser)}
	if consumer != superUser {
		creds = s.credentials(consumer)
	}
	var out, errOut bytes.Buffer
	err := consumeCmd(ctx, &out, &errOut, append(creds, "--registry", s.registry, "--agreement", id, "--from-beginning"))
	if err != nil {
		if strings.Contains(err.Error(), "has no delivery topic") {
			return nil
		}
		t.Fatalf("consume %s as %s: %v\n%s", id, consumer, err, errOut.String())
	}
	return parseConsumed(t, out.String())
}

// TestDevStewardshipEndToEnd: an access request becomes a proposed
// agreement whose approval makes it deliver minimised records to the
// consumer; the file-edit attack (self-declared approvals) delivers
// nothing; a revocation through the CLI stops deliveries of records
// published 2 s later while another dataset's schema fails to compile,
// and neither the old file put back nor `resume` (409) brings it back.
func TestDevStewardshipEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := copyExamples(t)
	s := startDevStackOn(ctx, t, dir, t.TempDir())
	d := newDevSteward(s)
	id := devAccessRequestDelivers(ctx, t, d)
	devFileEditAttack(ctx, t, d, id)
	devRevocationHolds(ctx, t, d, id)
}

// devAccessRequestDelivers: helena.marsh (tax) requests births fields,
// marco.bianchi (civil registry) accepts, both approve; births published
// after that reach tax, read with tax's credentials, with only the
// requested fields and child_id pseudonymised. It returns the agreement.
func devAccessRequestDelivers(ctx context.Context, t *testing.T, d devSteward) string {
	t.Helper()
	code, body := d.call(t, "helena.marsh", "POST", "/api/v1/catalog/civil-registry.births/requests",
		`{"purpose": "Automatic award of the child tax credit", "legal_basis": "Income Tax Act 2009, s.58A", "fields": ["child_id", "birth_date", "municipality"]}`)
	var req struct {
		ID        int64  `json:"id"`
		Agreement string `json:"agreement"`
	}
	if code != 201 || json.Unmarshal([]byte(body), &req) != nil {
		t.Fatalf("filing: %d %s", code, body)
	}
	code, body = d.call(t, "marco.bianchi", "POST", fmt.Sprintf("/api/v1/catalog/requests/%d/decision", req.ID), `{"accept": true}`)
	if code != 200 || json.Unmarshal([]byte(body), &req) != nil || req.Agreement == "" {
		t.Fatalf("accepting: %d %s", code, body)
	}
	id := req.Agreement
	st, hash := d.status(t, "helena.marsh", id)
	if st != string(agreements.StatusProposed) {
		t.Fatalf("the accepted request's agreement is %s, want proposed", st)
	}
	for _, steward := range []string{"marco.bianchi", "helena.marsh"} {
		if code, body := d.call(t, steward, "POST", "/api/v1/agreements/"+id+"/approve", `{"content_hash": "`+hash+`"}`); code != 200 {
			t.Fatalf("%s approving: %d %s", steward, code, body)
		}
	}
	waitFor(t, "the plan to compile "+id+" active", 30*time.Second, func() bool {
		info, ok := d.s.app.Plan().Agreement(id)
		return ok && info.Status == agreements.StatusActive
	})
	raw := publishBirths(ctx, t, d.s, "ar", 4)
	var lines []consumedLine
	waitFor(t, "births delivered to tax", time.Minute, func() bool {
		lines = consumed(ctx, t, d.s, "tax", id)
		return len(lines) >= len(raw)
	})
	for _, l := range lines {
		c, _ := l.Value["child_id"].(string)
		if l.Error != "" || len(l.Value) != 3 || c == "" || raw[c] || l.Value["municipality"] != "Northam" {
			t.Errorf("a delivery to tax: %+v; want child_id pseudonymised, birth_date and municipality only", l)
		}
	}
	return id
}

// devFileEditAttack: the proposed child tax credit agreement, seeded with
// the civil registry's approval, is edited to add tax's approval, history
// lines, status: active and an earlier valid_from. It goes back to
// proposed, and births published after the edit (processed: they reach
// witness) never reach it.
func devFileEditAttack(ctx context.Context, t *testing.T, d devSteward, witness string) {
	t.Helper()
	const id = "civil-registry-to-tax-2026-006"
	p := filepath.Join(d.s.contracts, "agreement-"+id+".yaml")
	text, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.NewReplacer("status: proposed", "status: active",
		"valid_from: 2027-01-01T00:00:00Z", "valid_from: 2026-01-01T00:00:00Z",
		"at: 2026-11-02T11:30:00Z}", "at: 2026-11-02T11:30:00Z}\n  - {agency: tax, steward: helena.marsh, at: 2026-11-03T09:00:00Z}",
		`royal assent"}`, `royal assent"}`+"\n  - {from: proposed, to: approved, by: anyone-at-all, at: 2026-11-03T09:00:00Z, reason: ok}\n  - {from: approved, to: active, by: anyone-at-all, at: 2026-11-03T09:01:00Z, reason: ok}",
	).Replace(string(text))
	if !strings.Contains(edited, "{agency: tax, steward: helena.marsh") || !strings.Contains(edited, "anyone-at-all") {
		t.Fatal("the example attack file changed; adjust this test")
	}
	if err := os.WriteFile(p, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.s.app.Reload(ctx); err != nil {
		t.Fatalf("reloading the edited file: %v", err)
	}
	if st, _ := d.status(t, "helena.marsh", id); st != string(agreements.StatusProposed) {
		t.Fatalf("after the attack %s is %s, want proposed", id, st)
	}
	before := len(consumed(ctx, t, d.s, "tax", witness))
	raw := publishBirths(ctx, t, d.s, "attack", 4)
	waitFor(t, "births after the attack processed", time.Minute, func() bool { return len(consumed(ctx, t, d.s, "tax", witness)) >= before+len(raw) })
	if n := len(consumed(ctx, t, d.s, superUser, id)); n != 0 {
		t.Fatalf("the self-approved agreement %s delivered %d records", id, n)
	}
}

// devRevocationHolds: health's schema stops compiling (a version written
// past the registry's guard), marco.bianchi revokes the seeded civil
// registry → health agreement with `exchange agreement revoke`; births
// published 2 s later reach witness and never health, nor after the old
// file is put back; `exchange agreement resume` is refused (409).
func devRevocationHolds(ctx context.Context, t *testing.T, d devSteward, witness string) {
	t.Helper()
	const id = "civil-registry-to-health-2026-003"
	before := len(consumed(ctx, t, d.s, superUser, id))
	publishBirths(ctx, t, d.s, "rv1", 2)
	waitFor(t, "births delivered to health", time.Minute, func() bool { return len(consumed(ctx, t, d.s, superUser, id)) >= before+2 })
	bypass := schemas.NewRegistry(d.s.app.Store().Schemas(), schemas.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if _, err := bypass.Register(ctx, "ingress.health.immunisations-value", withoutField(t, "ingress.health.immunisations-value.avsc", "citizen_id")); err != nil {
		t.Fatal(err)
	}
	if err := d.s.app.Reload(ctx); err != nil || len(d.s.app.Plan().Broken()) != 1 {
		t.Fatalf("health's schema broken: reload %v, broken %+v", err, d.s.app.Plan().Broken())
	}
	cli := func(steward, cmd string, args ...string) (string, error) {
		var out bytes.Buffer
		args = append([]string{"--server", d.http.base, "--token", devissuer.StewardToken(d.http.creds, steward)}, args...)
		err := agreementAction(ctx, &out, &out, cmd, args)
		return out.String(), err
	}
	if out, err := cli("marco.bianchi", "revoke", "--reason", "register audit", id); err != nil || !strings.Contains(out, ": revoked") {
		t.Fatalf("revoke: %v %s", err, out)
	}
	delivered := len(consumed(ctx, t, d.s, superUser, id))
	time.Sleep(2 * time.Second) // the bound: records published 2 s after the action
	nothing := func(tag string) {
		t.Helper()
		before := len(consumed(ctx, t, d.s, "tax", witness))
		raw := publishBirths(ctx, t, d.s, tag, 3)
		waitFor(t, "births "+tag+" processed", time.Minute, func() bool { return len(consumed(ctx, t, d.s, "tax", witness)) >= before+len(raw) })
		if n := len(consumed(ctx, t, d.s, superUser, id)); n != delivered {
			t.Fatalf("%s: health received %d records after the revocation", tag, n-delivered)
		}
	}
	nothing("rv2")
	p := filepath.Join(d.s.contracts, "agreement-"+id+".yaml")
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range [][]byte{bytes.Replace(old, []byte("Scheduling invitations"), []byte("Scheduling reminders"), 1), old} {
		if err := os.WriteFile(p, text, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := d.s.app.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := cli("amara.okafor", "resume", "--reason", "again", id); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("resuming a revoked agreement: %v %s, want 409", err, out)
	}
	nothing("rv3")
	if st, _ := d.status(t, "marco.bianchi", id); st != string(agreements.StatusRevoked) {
		t.Fatalf("after the old file and resume: %s, want revoked", st)
	}
}

// withoutField is the example schema file without field: a version that
// breaks the agreements delivering it.
func withoutField(t *testing.T, file, field string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(examplesDir, file))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(text, &doc); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, f := range doc["fields"].([]any) {
		if f.(map[string]any)["name"] != field {
			kept = append(kept, f)
		}
	}
	doc["fields"] = kept
	b, _ := json.Marshal(doc)
	return string(b)
}
