package acl

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
)

var (
	jan2026 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jan2027 = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	jun2026 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

func testSet(status agreements.Status, from, until time.Time) *agreements.Set {
	return &agreements.Set{
		Agencies:  []agreements.Agency{{ID: "health"}, {ID: "social-services"}},
		Contracts: []agreements.DataContract{{Dataset: "health.immunisations", Owner: "health"}},
		Agreements: []agreements.Agreement{{ID: "h2s-1", Provider: "health.immunisations", Consumer: "social-services",
			Status: status, ValidFrom: from, ValidUntil: until}},
	}
}

var deliverRead = Rule{Principal: "User:social-services", ResourceType: Topic, PatternType: Literal,
	ResourceName: "deliver.social-services.h2s-1", Operation: Read, Permission: Allow, Host: AnyHost}

// TestDeliveryReadFollowsStatusAndValidity: the consumer reads its delivery
// topic only while the agreement is active and inside its window.
func TestDeliveryReadFollowsStatusAndValidity(t *testing.T) {
	for _, c := range []struct {
		name        string
		status      agreements.Status
		from, until time.Time
		at          time.Time
		want        bool
	}{
		{"active inside the window", agreements.StatusActive, jan2026, jan2027, jun2026, true},
		{"active, open window", agreements.StatusActive, time.Time{}, time.Time{}, jun2026, true},
		{"active, at valid_from", agreements.StatusActive, jun2026, jan2027, jun2026, true},
		{"active, before valid_from", agreements.StatusActive, jun2026, jan2027, jan2026, false},
		{"active, at valid_until", agreements.StatusActive, jan2026, jun2026, jun2026, false},
		{"active, after valid_until", agreements.StatusActive, jan2026, jun2026, jan2027, false},
		{"suspended", agreements.StatusSuspended, jan2026, jan2027, jun2026, false},
		{"revoked", agreements.StatusRevoked, jan2026, jan2027, jun2026, false},
		{"expired", agreements.StatusExpired, jan2026, jan2027, jun2026, false},
		{"approved", agreements.StatusApproved, jan2026, jan2027, jun2026, false},
		{"proposed", agreements.StatusProposed, jan2026, jan2027, jun2026, false},
		{"draft", agreements.StatusDraft, jan2026, jan2027, jun2026, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rules := Compile(testSet(c.status, c.from, c.until), c.at, Options{})
			describe := deliverRead
			describe.Operation = Describe
			if got := slices.Contains(rules, deliverRead); got != c.want {
				t.Errorf("READ on the delivery topic: %v, want %v", got, c.want)
			}
			if got := slices.Contains(rules, describe); got != c.want {
				t.Errorf("DESCRIBE on the delivery topic: %v, want %v", got, c.want)
			}
			// The rest of the grants do not depend on the agreement.
			if !slices.Contains(rules, Rule{"User:social-services", Group, Prefixed, "social-services.", Read, Allow, AnyHost}) ||
				!slices.Contains(rules, Rule{"User:health", Topic, Literal, "ingress.health.immunisations", Write, Allow, AnyHost}) {
				t.Errorf("group or ingress grants missing:\n%v", rules)
			}
		})
	}
}

func TestCompileWholeSet(t *testing.T) {
	got := Compile(testSet(agreements.StatusActive, jan2026, jan2027), jun2026, Options{ExchangePrincipal: "User:xchg", ExchangeGroup: "xg", ManageACLs: true})
	var lines []string
	for _, r := range got {
		lines = append(lines, r.Principal+" "+r.ResourceType+" "+r.PatternType+" "+r.ResourceName+" "+r.Operation)
	}
	want := []string{
		"User:health GROUP PREFIXED health. READ",
		"User:health TOPIC LITERAL ingress.health.immunisations DESCRIBE",
		"User:health TOPIC LITERAL ingress.health.immunisations WRITE",
		"User:health TOPIC LITERAL notices.health READ",
		"User:social-services GROUP PREFIXED social-services. READ",
		"User:social-services TOPIC LITERAL deliver.social-services.h2s-1 DESCRIBE",
		"User:social-services TOPIC LITERAL deliver.social-services.h2s-1 READ",
		"User:social-services TOPIC LITERAL notices.social-services READ",
		"User:xchg CLUSTER LITERAL kafka-cluster ALTER",
		"User:xchg GROUP LITERAL xg READ",
		"User:xchg GROUP LITERAL xg.indexer READ",
		"User:xchg TOPIC PREFIXED deliver. CREATE",
		"User:xchg TOPIC PREFIXED deliver. DESCRIBE",
		"User:xchg TOPIC PREFIXED deliver. WRITE",
		"User:xchg TOPIC PREFIXED ingress. CREATE",
		"User:xchg TOPIC PREFIXED ingress. DESCRIBE",
		"User:xchg TOPIC PREFIXED ingress. READ",
		"User:xchg TOPIC PREFIXED notices. CREATE",
		"User:xchg TOPIC PREFIXED notices. DESCRIBE",
		"User:xchg TOPIC PREFIXED notices. WRITE",
		"User:xchg TOPIC PREFIXED quarantine. CREATE",
		"User:xchg TOPIC PREFIXED quarantine. DESCRIBE",
		"User:xchg TOPIC PREFIXED quarantine. READ",
		"User:xchg TOPIC PREFIXED quarantine. WRITE",
		"User:xchg TOPIC LITERAL xg.audit CREATE",
		"User:xchg TOPIC LITERAL xg.audit DESCRIBE",
		"User:xchg TOPIC LITERAL xg.audit READ",
		"User:xchg TOPIC LITERAL xg.audit WRITE",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range got {
		if r.Permission != Allow || r.Host != AnyHost {
			t.Errorf("%v: every grant is ALLOW from any host", r)
		}
		// Nobody but the exchange reads ingress or quarantine, or writes deliver.
		if r.Principal != "User:xchg" && r.ResourceType == Topic &&
			((r.Operation == Read && (strings.HasPrefix(r.ResourceName, "ingress.") || strings.HasPrefix(r.ResourceName, "quarantine."))) ||
				(r.Operation == Write && strings.HasPrefix(r.ResourceName, "deliver."))) {
			t.Errorf("%v breaks the design", r)
		}
	}
	if d := Compile(testSet(agreements.StatusActive, jan2026, jan2027), jun2026, Options{}); d[0].Principal != "User:exchange" && !slices.ContainsFunc(d, func(r Rule) bool { return r.Principal == "User:exchange" && r.ResourceName == "exchange" }) {
		t.Errorf("defaults: want User:exchange with group exchange, got %v", d)
	} else if slices.ContainsFunc(d, func(r Rule) bool { return r.ResourceType == Cluster }) {
		t.Error("ALTER on the cluster granted without ManageACLs")
	}
}

func TestNextChange(t *testing.T) {
	set := testSet(agreements.StatusActive, jun2026, jan2027)
	set.Agreements = append(set.Agreements, agreements.Agreement{ID: "s", Consumer: "health", Status: agreements.StatusSuspended, ValidFrom: jan2026.AddDate(0, 1, 0)})
	if next, ok := NextChange(set, jan2026); !ok || !next.Equal(jun2026) {
		t.Errorf("next change from jan 2026: %v %v, want jun 2026 (a suspended agreement's bounds do not count)", next, ok)
	}
	if next, ok := NextChange(set, jun2026); !ok || !next.Equal(jan2027) {
		t.Errorf("next change at valid_from: %v %v, want valid_until", next, ok)
	}
	if _, ok := NextChange(set, jan2027); ok {
		t.Error("a change after the last bound")
	}
}

// TestScopeAndDiff: reconcile creates what is missing, deletes only what it
// manages, and reports foreign grants on its topics without touching them.
func TestScopeAndDiff(t *testing.T) {
	set := testSet(agreements.StatusSuspended, jan2026, jan2027)
	opt := Options{ManageACLs: true}
	want := Compile(set, jun2026, opt)
	scope := NewScope(set, opt)
	stale := deliverRead // the agreement was suspended: its READ must go
	other := func(p, typ, pat, name, op, perm, host string) Rule { return Rule{p, typ, pat, name, op, perm, host} }
	kept := []Rule{
		other("User:monitoring", Topic, Prefixed, "metrics.", Read, Allow, AnyHost),                // another principal, another topic
		other("User:health", Topic, Literal, "health-internal", Write, Allow, AnyHost),             // an agency on a topic not the exchange's
		other("User:health", Group, Literal, "analytics", Read, Allow, AnyHost),                    // a group outside its prefix
		other("User:health", Topic, Literal, "ingress.health.immunisations", Write, Deny, AnyHost), // an operator's block
		other("User:health", Topic, Literal, "deliver.health.x", Read, Allow, "10.0.0.1"),          // a host-bound grant
		other("User:exchange", Cluster, Literal, ClusterName, Describe, Allow, AnyHost),            // not the ALTER it manages
	}
	foreign := other("User:removed-agency", Topic, Literal, "ingress.removed-agency.x", Write, Allow, AnyHost)
	managedOld := other("User:exchange", Group, Literal, "exchange", Write, Allow, AnyHost)
	have := append(append([]Rule{want[0], want[1], stale, foreign, managedOld}, kept...), want[0])
	ch := Diff(want, have, scope)
	if len(ch.Create) != len(want)-2 || slices.Contains(ch.Create, want[0]) {
		t.Errorf("create %d rules, want %d (all but the two present)", len(ch.Create), len(want)-2)
	}
	wantDelete := []Rule{managedOld, stale}
	Sort(wantDelete)
	if !slices.Equal(ch.Delete, wantDelete) {
		t.Errorf("delete %v, want %v", ch.Delete, wantDelete)
	}
	// Foreign: ALLOWs on the exchange's topics it does not manage.
	if wantForeign := []Rule{kept[4], foreign}; !slices.Equal(ch.Foreign, wantForeign) {
		t.Errorf("foreign %v, want %v", ch.Foreign, wantForeign)
	}
	for _, r := range kept {
		if scope.Manages(r) {
			t.Errorf("%v: managed, want left alone", r)
		}
	}
	if again := Diff(want, want, scope); !again.Empty() {
		t.Errorf("diff of the plan with itself: %+v", again)
	}
}

func TestStrimziWords(t *testing.T) {
	for in, want := range map[string]string{Read: "Read", Describe: "Describe", "IDEMPOTENT_WRITE": "IdempotentWrite", "DESCRIBE_CONFIGS": "DescribeConfigs"} {
		if got := strimziWord(in); got != want {
			t.Errorf("strimziWord(%s) = %s, want %s", in, got, want)
		}
	}
	var b strings.Builder
	if err := WriteStrimzi(&b, []Rule{{Principal: "Group:x"}}, StrimziOptions{Cluster: "c"}); err == nil {
		t.Error("a non-User principal was exported")
	}
}

// TestImports: the compiler is pure: the model, the names and the standard
// library only.
func TestImports(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.Contains(imp, ".") && imp != "github.com/exchange-gov/exchange/agreements" && imp != "github.com/exchange-gov/exchange/agreements/names" {
			t.Errorf("acl imports %s: only agreements, agreements/names and the standard library", imp)
		}
	}
}

// TestHTTPIngestGrantsWriteOnIngressOnly: with HTTPIngest the exchange
// may write each contract's ingress topic (literal, never a prefix), and
// nothing else changes; without it the exchange writes no ingress topic,
// and a reconcile of a set compiled without it deletes the grant.
func TestHTTPIngestGrantsWriteOnIngressOnly(t *testing.T) {
	set := testSet(agreements.StatusActive, jan2026, jan2027)
	without := Compile(set, jun2026, Options{})
	with := Compile(set, jun2026, Options{HTTPIngest: true})
	grant := Rule{Principal: DefaultExchangePrincipal, ResourceType: Topic, PatternType: Literal,
		ResourceName: "ingress.health.immunisations", Operation: Write, Permission: Allow, Host: AnyHost}
	if len(with) != len(without)+1 || !slices.Contains(with, grant) {
		t.Fatalf("with HTTPIngest: %d rules (without: %d), want exactly one more, %v", len(with), len(without), grant)
	}
	for _, r := range without {
		if r.Principal == DefaultExchangePrincipal && r.Operation == Write && strings.HasPrefix(r.ResourceName, "ingress.") {
			t.Errorf("without HTTPIngest the exchange may write %s", r.ResourceName)
		}
	}
	ch := Diff(without, with, NewScope(set, Options{}))
	if !slices.Equal(ch.Delete, []Rule{grant}) {
		t.Errorf("disabling HTTP ingest deletes %v, want %v", ch.Delete, grant)
	}
}
