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
	"github.com/exchange-gov/exchange/exchange/ledger"
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

// readable waits until the plan compiles agreement id active, its
// delivery topic exists and consumer may read it: the plan and the ACLs
// follow an approval within a reload, and records published before that
// are not the agreement's.
func readable(ctx context.Context, t *testing.T, s *devStack, consumer, id string) {
	t.Helper()
	waitFor(t, consumer+" reading the deliveries of "+id, 30*time.Second, func() bool {
		info, ok := s.app.Plan().Agreement(id)
		if !ok || info.Status != agreements.StatusActive {
			return false
		}
		return consumeCmd(ctx, io.Discard, io.Discard, append(s.credentials(consumer), "--registry", s.registry, "--agreement", id, "--from-beginning")) == nil
	})
}

// superUser reads topics whatever the ACLs: a revoked consumer may no
// longer, so what reached its topic is counted as the dev super user.
const superUser = ""

// consumed reads agreement id's deliveries with `exchange consume` as
// consumer (superUser: the dev super user); none when its topic does not
// exist or the consumer may not read it (yet: the ACL sync follows the
// plan).
func consumed(ctx context.Context, t *testing.T, s *devStack, consumer, id string) []consumedLine {
	t.Helper()
	creds := []string{"--credentials", devcreds.AdminFile(s.dataDir, devAdminUser)}
	if consumer != superUser {
		creds = s.credentials(consumer)
	}
	var out, errOut bytes.Buffer
	err := consumeCmd(ctx, &out, &errOut, append(creds, "--registry", s.registry, "--agreement", id, "--from-beginning"))
	if err != nil {
		if strings.Contains(err.Error(), "has no delivery topic") || strings.Contains(err.Error(), "Authorization Failed") {
			return nil // the topic or the consumer's grant is not there (yet)
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
// and neither the old file put back nor `resume` (409) brings it back;
// approval needs both parties' stewards on the same terms, and an
// agreement stops delivering at valid_until by itself.
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
	devApprovalRulesAndExpiry(ctx, t, d, id)
	devRevocationHolds(ctx, t, d, id)
	if rep, err := ledger.Verify(ctx, s.app.Store(), ledger.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("ledger verify: %v %+v", err, rep)
	}
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
	readable(ctx, t, d.s, "tax", id)
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
	code, body := d.call(t, "marco.bianchi", "GET", "/api/v1/agreements/"+id, "")
	var v struct {
		Status  string `json:"status"`
		History []struct{ To, By, Reason string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || len(v.History) == 0 {
		t.Fatalf("GET %s: %d %s", id, code, body)
	}
	if last := v.History[len(v.History)-1]; v.Status != string(agreements.StatusRevoked) || last.To != "revoked" || last.By != "marco.bianchi@civil-registry" || last.Reason != "register audit" {
		t.Fatalf("after the old file and resume: %s, last transition %+v; want revoked by marco.bianchi@civil-registry", v.Status, last)
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

// devApprovalRulesAndExpiry: wei.zhang (statistics) proposes births terms
// valid for a few seconds through the API. Anonymous approval is 401, a
// third agency's steward 403, marco.bianchi approving twice 409; new terms
// then clear marco's approval (his approval of the old hash is 409), and
// fatima.haddad and wei.zhang (both statistics) do not approve them. With
// marco's approval of the new terms it is active: it delivers to
// statistics until valid_until, then expires with no record published.
func devApprovalRulesAndExpiry(ctx context.Context, t *testing.T, d devSteward, witness string) {
	t.Helper()
	const id = "civil-registry-to-statistics-2026-040"
	until := time.Now().Add(12 * time.Second).UTC().Truncate(time.Second)
	propose := func(purpose string) string {
		t.Helper()
		terms := `{"kind": "Agreement", "id": "` + id + `", "provider": "civil-registry.births", "consumer": "statistics", "purpose": "` + purpose +
			`", "legal_basis": "Statistics Act 2011, s.9(1)", "valid_from": "2026-01-01T00:00:00Z", "valid_until": "` + until.Format(time.RFC3339) +
			`", "fields": {"municipality": "keep", "plurality": "keep"}}`
		if code, body := d.call(t, "wei.zhang", "POST", "/api/v1/agreements", terms); code != 200 {
			t.Fatalf("proposing: %d %s", code, body)
		}
		st, hash := d.status(t, "wei.zhang", id)
		if st != string(agreements.StatusProposed) {
			t.Fatalf("proposed terms: %s", st)
		}
		return hash
	}
	approve := func(steward, hash string, want int, wantStatus agreements.Status) {
		t.Helper()
		code, body := d.call(t, steward, "POST", "/api/v1/agreements/"+id+"/approve", `{"content_hash": "`+hash+`"}`)
		if st, _ := d.status(t, "wei.zhang", id); code != want || st != string(wantStatus) {
			t.Fatalf("%s approving: %d %s, then %s; want %d, then %s", steward, code, body, st, want, wantStatus)
		}
	}
	old := propose("Births by municipality.")
	if code, _ := d.http.do(t, "POST", "/api/v1/agreements/"+id+"/approve", `{"content_hash": "`+old+`"}`, ""); code != 401 {
		t.Errorf("anonymous approval: %d, want 401", code)
	}
	approve("marco.bianchi", old, 200, agreements.StatusProposed)
	approve("marco.bianchi", old, 409, agreements.StatusProposed)
	approve("helena.marsh", old, 403, agreements.StatusProposed)
	hash := propose("Births by municipality and plurality.")
	if hash == old {
		t.Fatal("new terms kept the content hash")
	}
	approve("fatima.haddad", hash, 200, agreements.StatusProposed)
	approve("wei.zhang", hash, 200, agreements.StatusProposed)
	approve("marco.bianchi", old, 409, agreements.StatusProposed)
	approve("marco.bianchi", hash, 200, agreements.StatusActive)
	devExpiryStopsDelivering(ctx, t, d, id, until, witness)
}

// devExpiryStopsDelivering: active agreement id delivers births to
// statistics (read with its credentials); at until it expires by itself,
// recorded as the exchange with no record published, and births
// published after that reach witness but not statistics.
func devExpiryStopsDelivering(ctx context.Context, t *testing.T, d devSteward, id string, until time.Time, witness string) {
	t.Helper()
	readable(ctx, t, d.s, "statistics", id)
	raw := publishBirths(ctx, t, d.s, "exp1", 2)
	waitFor(t, "births delivered to statistics", 30*time.Second, func() bool { return len(consumed(ctx, t, d.s, "statistics", id)) >= len(raw) })
	if time.Now().After(until) {
		t.Fatalf("the setup outlasted valid_until %v; give it more time", until)
	}
	waitFor(t, "the agreement to expire", time.Until(until)+30*time.Second, func() bool {
		st, _ := d.status(t, "wei.zhang", id)
		return st == string(agreements.StatusExpired)
	})
	if time.Now().Before(until) {
		t.Fatalf("expired before valid_until %v", until)
	}
	delivered := len(consumed(ctx, t, d.s, superUser, id))
	before := len(consumed(ctx, t, d.s, "tax", witness))
	raw = publishBirths(ctx, t, d.s, "exp2", 2)
	waitFor(t, "births after the expiry processed", time.Minute, func() bool { return len(consumed(ctx, t, d.s, "tax", witness)) >= before+len(raw) })
	if n := len(consumed(ctx, t, d.s, superUser, id)); n != delivered {
		t.Fatalf("the expired agreement received %d records", n-delivered)
	}
}
