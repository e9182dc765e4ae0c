package agreements

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	t0       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tMid     = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tEnd     = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tBefore  = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	tAfterUp = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
)

// agreementIn returns an agreement health.x → social-services in status s,
// valid in [t0, tEnd), approved by both parties unless s is draft or proposed.
func agreementIn(s Status) *Agreement {
	a := &Agreement{ID: "a-1", Provider: "health.x", Consumer: "social-services", ValidFrom: t0, ValidUntil: tEnd, Status: s}
	switch s {
	case StatusDraft, StatusProposed:
	default:
		a.Approvals = []Approval{{Agency: "health", Steward: "ann", At: tBefore}, {Agency: "social-services", Steward: "cat", At: tBefore}}
	}
	return a
}

func TestTransitionLegal(t *testing.T) {
	cases := []struct {
		from, to Status
		at       time.Time
		reason   string
	}{
		{StatusDraft, StatusProposed, tBefore, ""},
		{StatusDraft, StatusRevoked, tBefore, "withdrawn"},
		{StatusProposed, StatusDraft, tBefore, ""},
		{StatusProposed, StatusRevoked, tBefore, "withdrawn"},
		{StatusApproved, StatusActive, t0, ""},
		{StatusApproved, StatusActive, tMid, ""},
		{StatusApproved, StatusRevoked, tMid, "no longer needed"},
		{StatusApproved, StatusExpired, tEnd, ""},
		{StatusActive, StatusSuspended, tMid, "complaint 118"},
		{StatusActive, StatusRevoked, tMid, "legal basis repealed"},
		{StatusActive, StatusExpired, tEnd, ""},
		{StatusActive, StatusExpired, tAfterUp, ""},
		{StatusSuspended, StatusActive, tMid, "reinstated"},
		{StatusSuspended, StatusRevoked, tMid, "complaint upheld"},
		{StatusSuspended, StatusExpired, tEnd, ""},
	}
	for _, c := range cases {
		t.Run(string(c.from)+"->"+string(c.to), func(t *testing.T) {
			a := agreementIn(c.from)
			if err := a.Transition(c.to, "governance", c.at, c.reason); err != nil {
				t.Fatalf("Transition: %v", err)
			}
			if a.Status != c.to {
				t.Fatalf("status = %s, want %s", a.Status, c.to)
			}
			want := Transition{From: c.from, To: c.to, By: "governance", At: c.at, Reason: c.reason}
			if len(a.History) != 1 || a.History[0] != want {
				t.Fatalf("history = %+v, want [%+v]", a.History, want)
			}
		})
	}
}

func TestProposedToApprovedNeedsBothStewards(t *testing.T) {
	a := agreementIn(StatusProposed)
	if err := a.Transition(StatusApproved, "ann", tBefore, ""); err == nil || !strings.Contains(err.Error(), "needs approvals by a steward of health and of social-services") {
		t.Fatalf("no approvals: err = %v", err)
	}
	if err := a.Approve("health", "ann", tBefore); err != nil {
		t.Fatal(err)
	}
	if err := a.Transition(StatusApproved, "ann", tBefore, ""); err == nil || !strings.Contains(err.Error(), "consumer social-services") {
		t.Fatalf("provider approval only: err = %v", err)
	}
	if err := a.Approve("social-services", "cat", tBefore); err != nil {
		t.Fatal(err)
	}
	if err := a.Transition(StatusApproved, "cat", tBefore, "both approved"); err != nil {
		t.Fatalf("both approvals: %v", err)
	}
	if a.Status != StatusApproved {
		t.Fatalf("status = %s", a.Status)
	}
}

func TestTransitionIllegal(t *testing.T) {
	cases := []struct {
		name     string
		a        *Agreement
		to       Status
		by       string
		at       time.Time
		reason   string
		contains string
	}{
		{"draft to approved skips proposal", agreementIn(StatusDraft), StatusApproved, "ann", tBefore, "", "not a lifecycle step"},
		{"draft to active", agreementIn(StatusDraft), StatusActive, "ann", tMid, "", "not a lifecycle step"},
		{"proposed to active", agreementIn(StatusProposed), StatusActive, "ann", tMid, "", "not a lifecycle step"},
		{"approved to suspended", agreementIn(StatusApproved), StatusSuspended, "gov", tMid, "x", "not a lifecycle step"},
		{"active to approved", agreementIn(StatusActive), StatusApproved, "gov", tMid, "", "not a lifecycle step"},
		{"active to draft", agreementIn(StatusActive), StatusDraft, "gov", tMid, "", "not a lifecycle step"},
		{"revoked is final", agreementIn(StatusRevoked), StatusActive, "gov", tMid, "", "revoked is final"},
		{"expired is final", agreementIn(StatusExpired), StatusActive, "gov", tMid, "", "expired is final"},
		{"unknown status", agreementIn(StatusActive), Status("paused"), "gov", tMid, "", "unknown status"},
		{"active before valid_from", agreementIn(StatusApproved), StatusActive, "gov", tBefore, "", "not valid before 2026-01-01T00:00:00Z"},
		{"active at valid_until", agreementIn(StatusApproved), StatusActive, "gov", tEnd, "", "validity ended"},
		{"reinstate after window", agreementIn(StatusSuspended), StatusActive, "gov", tAfterUp, "", "validity ended"},
		{"active without approvals", &Agreement{ID: "a-1", Provider: "health.x", Consumer: "tax", ValidFrom: t0, ValidUntil: tEnd, Status: StatusApproved}, StatusActive, "gov", tMid, "", "needs approvals"},
		{"expired while still valid", agreementIn(StatusActive), StatusExpired, "gov", tMid, "", "still valid until"},
		{"suspend without reason", agreementIn(StatusActive), StatusSuspended, "gov", tMid, " ", "a reason is required"},
		{"revoke without reason", agreementIn(StatusActive), StatusRevoked, "gov", tMid, "", "a reason is required"},
		{"nobody", agreementIn(StatusDraft), StatusProposed, "", tBefore, "", "who made the change"},
		{"no time", agreementIn(StatusDraft), StatusProposed, "ann", time.Time{}, "", "time of the change"},
		{"unknown current status", &Agreement{ID: "a-1", Status: "weird"}, StatusProposed, "ann", tBefore, "", "not a lifecycle status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := c.a.Status
			err := c.a.Transition(c.to, c.by, c.at, c.reason)
			if err == nil {
				t.Fatalf("Transition to %s succeeded", c.to)
			}
			if !errors.Is(err, ErrTransition) || !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("err = %v, want ErrTransition containing %q", err, c.contains)
			}
			if c.a.Status != before || len(c.a.History) != 0 {
				t.Fatalf("refused transition changed the agreement: status %s, history %v", c.a.Status, c.a.History)
			}
		})
	}
}

func TestApprovedNotBeforeItsApprovals(t *testing.T) {
	a := agreementIn(StatusProposed)
	_ = a.Approve("health", "ann", tBefore)
	_ = a.Approve("social-services", "cat", tMid)
	err := a.Transition(StatusApproved, "cat", tBefore.Add(time.Hour), "")
	if err == nil || !strings.Contains(err.Error(), "the approval by cat") {
		t.Fatalf("err = %v", err)
	}
	if err := a.Transition(StatusApproved, "cat", tMid, ""); err != nil {
		t.Fatal(err)
	}
}

func TestTransitionTimeNeverGoesBack(t *testing.T) {
	a := agreementIn(StatusActive)
	if err := a.Transition(StatusSuspended, "gov", tMid, "complaint"); err != nil {
		t.Fatal(err)
	}
	err := a.Transition(StatusActive, "gov", tMid.Add(-time.Hour), "reinstated")
	if err == nil || !strings.Contains(err.Error(), "before the previous transition") {
		t.Fatalf("err = %v", err)
	}
}

func TestFullLifecycleRecordsHistory(t *testing.T) {
	a := agreementIn(StatusDraft)
	steps := []func() error{
		func() error { return a.Transition(StatusProposed, "cat", tBefore, "") },
		func() error { return a.Approve("health", "ann", tBefore.Add(time.Hour)) },
		func() error { return a.Approve("social-services", "cat", tBefore.Add(2*time.Hour)) },
		func() error { return a.Transition(StatusApproved, "cat", tBefore.Add(2*time.Hour), "") },
		func() error { return a.Transition(StatusActive, "ann", t0, "go-live") },
		func() error { return a.Transition(StatusSuspended, "governance", tMid, "complaint") },
		func() error {
			return a.Transition(StatusActive, "governance", tMid.Add(time.Hour), "complaint dismissed")
		},
		func() error { return a.Transition(StatusExpired, "system", tEnd, "") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []Status{StatusDraft, StatusProposed, StatusApproved, StatusActive, StatusSuspended, StatusActive, StatusExpired}
	if len(a.History) != len(want)-1 {
		t.Fatalf("history has %d entries, want %d", len(a.History), len(want)-1)
	}
	for i, h := range a.History {
		if h.From != want[i] || h.To != want[i+1] {
			t.Errorf("history[%d] = %s→%s, want %s→%s", i, h.From, h.To, want[i], want[i+1])
		}
	}
	// The recorded lifecycle validates: history chain and status agree.
	set := &Set{
		Contracts:  []DataContract{{Dataset: "health.x", Owner: "health", Subject: "s", Fields: []FieldClass{{Name: "f", Class: Public}}}},
		Agreements: []Agreement{*a},
	}
	a2 := &set.Agreements[0]
	a2.Purpose, a2.LegalBasis = "p", "l"
	a2.Fields = []FieldRule{{Name: "f", Transform: Transform{Kind: Keep}}}
	if ps := Validate(set); len(ps) > 0 {
		t.Fatalf("lifecycle built by Transition does not validate:\n%v", ps)
	}
}

func TestBackToDraftClearsApprovals(t *testing.T) {
	a := agreementIn(StatusProposed)
	if err := a.Approve("health", "ann", tBefore); err != nil {
		t.Fatal(err)
	}
	if err := a.Transition(StatusDraft, "cat", tBefore, "changes requested"); err != nil {
		t.Fatal(err)
	}
	if len(a.Approvals) != 0 {
		t.Fatalf("approvals kept after going back to draft: %v", a.Approvals)
	}
}

func TestApproveRefusals(t *testing.T) {
	cases := []struct {
		name            string
		status          Status
		prior           []Approval
		agency, steward string
		at              time.Time
		contains        string
	}{
		{"not proposed", StatusDraft, nil, "health", "ann", tBefore, "only a proposed agreement"},
		{"not a party", StatusProposed, nil, "tax", "tim", tBefore, "neither the provider"},
		{"no steward", StatusProposed, nil, "health", "", tBefore, "steward is required"},
		{"no time", StatusProposed, nil, "health", "ann", time.Time{}, "time of the approval"},
		{"twice", StatusProposed, []Approval{{Agency: "health", Steward: "ann", At: tBefore}}, "health", "ann", tBefore, "already approved"},
		{"same person both sides", StatusProposed, []Approval{{Agency: "health", Steward: "ann", At: tBefore}}, "social-services", "ann", tBefore, "each side needs its own steward"},
		{"before the proposal", StatusProposed, nil, "health", "ann", tBefore.Add(-time.Hour), "before the proposal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := agreementIn(c.status)
			a.Approvals = c.prior
			if c.status == StatusProposed {
				a.History = []Transition{{From: StatusDraft, To: StatusProposed, By: "cat", At: tBefore}}
			}
			err := a.Approve(c.agency, c.steward, c.at)
			if err == nil || !errors.Is(err, ErrTransition) || !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("err = %v, want ErrTransition containing %q", err, c.contains)
			}
			if len(a.Approvals) != len(c.prior) {
				t.Fatalf("refused approval was recorded: %v", a.Approvals)
			}
		})
	}
}

func TestSetApproveChecksStewards(t *testing.T) {
	s := &Set{
		Agencies:   []Agency{{ID: "health", Stewards: []string{"ann"}}, {ID: "social-services", Stewards: []string{"cat"}}},
		Agreements: []Agreement{*agreementIn(StatusProposed)},
	}
	if err := s.Approve("a-1", "health", "mallory", tBefore); err == nil || !strings.Contains(err.Error(), "not a steward of health") {
		t.Fatalf("err = %v", err)
	}
	if err := s.Approve("nope", "health", "ann", tBefore); err == nil {
		t.Fatal("approval of an unknown agreement succeeded")
	}
	if err := s.Approve("a-1", "health", "ann", tBefore); err != nil {
		t.Fatal(err)
	}
	if got := s.Agreements[0].Approvals; len(got) != 1 || got[0].Steward != "ann" {
		t.Fatalf("approvals = %v", got)
	}
}

func TestEffectiveStatus(t *testing.T) {
	cases := []struct {
		status Status
		now    time.Time
		want   Status
	}{
		{StatusActive, tMid, StatusActive},
		{StatusActive, tBefore, StatusApproved},
		{StatusActive, tEnd, StatusExpired},
		{StatusSuspended, tAfterUp, StatusExpired},
		{StatusSuspended, tMid, StatusSuspended},
		{StatusApproved, tAfterUp, StatusExpired},
		{StatusRevoked, tAfterUp, StatusRevoked},
		{StatusDraft, tAfterUp, StatusDraft},
	}
	for _, c := range cases {
		if got := EffectiveStatus(agreementIn(c.status), c.now); got != c.want {
			t.Errorf("EffectiveStatus(%s at %s) = %s, want %s", c.status, c.now.Format(time.DateOnly), got, c.want)
		}
	}
}

func TestReplay(t *testing.T) {
	a := agreementIn(StatusActive)
	a.History = []Transition{{From: StatusApproved, To: StatusActive, By: "ann", At: t0}}
	log := []Transition{
		{From: StatusActive, To: StatusSuspended, By: "governance", At: tMid, Reason: "complaint"},
		{From: StatusSuspended, To: StatusActive, By: "governance", At: tMid.Add(time.Hour), Reason: "dismissed"},
		{From: StatusActive, To: StatusRevoked, By: "governance", At: tMid.Add(2 * time.Hour), Reason: "basis repealed"},
	}
	if err := a.Replay(log); err != nil {
		t.Fatal(err)
	}
	if a.Status != StatusRevoked || len(a.History) != 4 {
		t.Fatalf("status %s, %d history entries; want revoked, 4", a.Status, len(a.History))
	}

	for name, bad := range map[string][]Transition{
		"wrong start":  {{From: StatusSuspended, To: StatusActive, At: tMid}},
		"not a step":   {{From: StatusActive, To: StatusDraft, At: tMid}},
		"out of order": {{From: StatusActive, To: StatusSuspended, At: tBefore}},
		"second bad": {
			{From: StatusActive, To: StatusRevoked, At: tMid},
			{From: StatusRevoked, To: StatusActive, At: tMid},
		},
	} {
		a := agreementIn(StatusActive)
		a.History = []Transition{{From: StatusApproved, To: StatusActive, By: "ann", At: t0}}
		if err := a.Replay(bad); !errors.Is(err, ErrTransition) {
			t.Errorf("%s: err = %v, want ErrTransition", name, err)
		}
		if a.Status != StatusActive || len(a.History) != 1 {
			t.Errorf("%s: refused replay changed the agreement: %s, %v", name, a.Status, a.History)
		}
	}
}
