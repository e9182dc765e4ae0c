package console_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exchange-gov/exchange/exchange/console"
	"github.com/exchange-gov/exchange/policy"
)

// TestConsoleInBrowser starts the dev stack with demo traffic and walks
// the console in headless chromium as the auditor, the operator, a
// steward and an agency system: each page's elements, a screenshot of
// each, hostile values inert, the CSP on every response, the data
// subject report against the ledger, and refusals (a page beyond the
// role, a POST without its CSRF token).
func TestConsoleInBrowser(t *testing.T) {
	b := newBrowserOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := startStack(ctx, t, 300)
	b.mu.Lock()
	b.base = s.base
	b.mu.Unlock()

	t.Run("auditor", func(t *testing.T) { walkAuditor(ctx, t, b, s) })
	t.Run("operator", func(t *testing.T) { walkOperator(t, b) })
	t.Run("steward", func(t *testing.T) { walkSteward(t, b) })
	t.Run("agency", func(t *testing.T) { walkAgency(t, b) })
	t.Run("csrf", func(t *testing.T) { postWithoutCSRF(t, s.base) })

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.responses) < 8 {
		t.Fatalf("saw %d console responses; the walk did not run", len(b.responses))
	}
	for u, csp := range b.responses {
		if csp != console.CSP {
			t.Errorf("%s: Content-Security-Policy %q, want %q", u, csp, console.CSP)
		}
	}
}

// newBrowserOrSkip starts chromium (skipping under -short when it is
// missing) with base set later.
func newBrowserOrSkip(t *testing.T) *browser {
	t.Helper()
	chromiumPath(t)
	return newBrowser(t, "")
}

// overview checks the flow picture names the example agencies, the
// hostile one inert and verbatim.
func checkOverview(t *testing.T, b *browser, shot string) {
	t.Helper()
	b.open(t, console.Prefix)
	if got := b.text(t, `#flows text[data-agency="health"]`); got != "Ministry of Health — National Immunisation Register" {
		t.Errorf("flow picture labels health %q", got)
	}
	if got := b.text(t, `#flows text[data-agency="statistics"]`); got != hostileName {
		t.Errorf("flow picture labels statistics %q, want the hostile name verbatim", got)
	}
	if n := b.count(t, "#flows path.edge"); n == 0 {
		t.Error("flow picture has no edge")
	}
	if got := b.text(t, "#delivered"); got == "0" {
		t.Error("today's delivered total is 0 after demo traffic")
	}
	b.inert(t, shot)
	b.shot(t, shot)
}

func walkAuditor(ctx context.Context, t *testing.T, b *browser, s *stack) {
	b.signIn(t, "auditor.token")
	if got := b.text(t, "#role"); got != "auditor" {
		t.Errorf("header role %q, want auditor", got)
	}
	checkOverview(t, b, "overview-auditor")

	b.open(t, console.Prefix+"audit?dataset=health.immunisations&limit=20")
	if n := b.count(t, "#entries tbody tr"); n != 20 {
		t.Errorf("audit search shows %d rows, want a page of 20", n)
	}
	if b.count(t, "#next") != 1 || b.count(t, "#csv") != 1 {
		t.Error("audit search lacks its next-page or CSV link")
	}
	b.shot(t, "audit-auditor")
	b.do(t, "following a delivery to its lineage", chromedp.Click(chromedp.CSS("#entries a.delivery")), chromedp.WaitVisible(chromedp.CSS("#deliveries")))
	if got := b.text(t, "#source"); !strings.Contains(got, "health.immunisations") {
		t.Errorf("lineage source %q", got)
	}
	b.shot(t, "lineage-auditor")

	checkSubjectReport(ctx, t, b, s)
	checkIntegrity(ctx, t, b, s)
	b.signOut(t)
}

// checkSubjectReport: the report for a citizen of the demo traffic lists
// exactly the deliveries the ledger holds for that person; a hostile
// identifier is shown inert.
func checkSubjectReport(ctx context.Context, t *testing.T, b *browser, s *stack) {
	t.Helper()
	id, want := s.deliveredCitizen(ctx, t)
	b.open(t, console.Prefix+"subject")
	b.do(t, "asking for a data subject report",
		chromedp.SendKeys(chromedp.CSS("#identifier"), id), chromedp.SendKeys(chromedp.CSS("#purpose"), "SAR-2026-0042"),
		chromedp.Submit(chromedp.CSS("#identifier")), chromedp.WaitVisible(chromedp.CSS("#report")))
	got := map[string]bool{}
	for _, d := range get(t, b, "delivery ids", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#subject-rows .delivery-id")).map(e => e.textContent)`)) {
		got[d] = true
	}
	if len(got) != len(want) {
		t.Errorf("report lists %d delivery ids, the ledger holds %d for the person", len(got), len(want))
	}
	for d := range want {
		if !got[d] {
			t.Errorf("report lacks delivery %s", d)
		}
	}
	b.shot(t, "subject-report")
	acc, err := s.app.Store().Accesses(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	hash := hex.EncodeToString(policy.SubjectHash(s.keys.SubjectKey(), id))
	if len(acc) == 0 || acc[0].Purpose != "SAR-2026-0042" || !strings.Contains(acc[0].Who, "auditor") || !strings.Contains(acc[0].Query, hash) {
		t.Errorf("the lookup is not the access log's newest entry: %+v", acc)
	}
	b.open(t, console.Prefix+"subject")
	b.do(t, "a hostile identifier",
		chromedp.SetValue(chromedp.CSS("#identifier"), hostile), chromedp.SetValue(chromedp.CSS("#purpose"), hostile),
		chromedp.Submit(chromedp.CSS("#identifier")), chromedp.WaitVisible(chromedp.CSS("#report")))
	if got := b.text(t, "#subject-id"); got != hostile {
		t.Errorf("report heading shows %q, want the identifier verbatim", got)
	}
	b.inert(t, "subject report of a hostile identifier")
}

// checkIntegrity: chains with signed checkpoints; verify now finds the
// ledger intact, is recorded in the store for every chain (the test's own
// store read) and the page shows each chain's verification by the auditor.
func checkIntegrity(ctx context.Context, t *testing.T, b *browser, s *stack) {
	t.Helper()
	b.open(t, console.Prefix+"integrity")
	if n := b.count(t, "#chains tbody tr"); n < 4 {
		t.Errorf("integrity lists %d chains, want one per ingress partition", n)
	}
	b.do(t, "verify now", chromedp.Click(chromedp.CSS("#verify-form button")), chromedp.WaitVisible(chromedp.CSS("#last-verification strong")))
	if got := b.text(t, "#last-verification"); !strings.Contains(got, "intact") {
		t.Errorf("last verification: %q", got)
	}
	recorded, err := s.app.Store().LatestVerifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cells := b.texts(t, "#chains td.verified")
	if len(recorded) == 0 || len(recorded) != len(cells) {
		t.Errorf("%d chains shown, %d verifications recorded", len(cells), len(recorded))
	}
	for _, v := range recorded {
		if !v.OK || !strings.HasPrefix(v.By, "auditor auditor") || v.Entries == 0 {
			t.Errorf("recorded verification of %s: %+v, want intact, by the auditor, entries checked", v.Chain, v)
		}
	}
	bys := b.texts(t, "#chains td.verified .by bdi")
	if len(bys) != len(cells) {
		t.Errorf("%d chain rows name who verified, of %d", len(bys), len(cells))
	}
	for i, by := range bys {
		if !strings.HasPrefix(by, "auditor auditor") || !strings.Contains(cells[i], "intact") {
			t.Errorf("chain row %d: verification %q by %q, want intact by the auditor", i, cells[i], by)
		}
	}
	b.shot(t, "integrity-auditor")
	// The overview's glance reads the same recorded verifications.
	b.open(t, console.Prefix)
	want := fmt.Sprintf("%d of %d chains", len(recorded), len(cells))
	if got := b.text(t, "#last-verification"); !strings.Contains(got, want) || !strings.Contains(got, "all intact") {
		t.Errorf("overview's recorded verifications: %q, want %q and all intact", got, want)
	}
}

func walkOperator(t *testing.T, b *browser) {
	b.signIn(t, "operator.token")
	checkOverview(t, b, "overview-operator")
	b.open(t, console.Prefix+"integrity")
	if b.count(t, "#verify-form") != 0 {
		t.Error("the operator is offered verify now (auditors only)")
	}
	b.shot(t, "integrity-operator")
	b.open(t, console.Prefix+"subject")
	if got := b.text(t, "h1"); got != "Forbidden" {
		t.Errorf("the operator opened the data subject report: %q", got)
	}
	b.signOut(t)
}

func walkSteward(t *testing.T, b *browser) {
	b.signIn(t, "stewards/amara.okafor.token")
	if got := b.text(t, "#who"); !strings.Contains(got, "amara.okafor") || !strings.Contains(got, "health") {
		t.Errorf("header %q", got)
	}
	if b.count(t, `nav a[href="/console/subject"]`) != 0 {
		t.Error("a steward is offered the data subject report")
	}
	b.shot(t, "overview-steward")
	// A steward of health sees only health's datasets and agreements.
	b.open(t, console.Prefix+"audit?dataset=tax.income-assessments")
	if n := b.count(t, "#entries td.decision"); n != 0 {
		t.Errorf("a steward of health sees %d entries of tax's dataset", n)
	}
	b.open(t, console.Prefix+"audit?dataset=health.immunisations&limit=5")
	if n := b.count(t, "#entries td.decision"); n == 0 {
		t.Error("a steward of health sees no entry of health's own dataset")
	}
	b.shot(t, "audit-steward")
	b.signOut(t)
}

func walkAgency(t *testing.T, b *browser) {
	b.signIn(t, "agencies/statistics.token")
	b.inert(t, "overview as statistics")
	b.shot(t, "overview-agency")
	b.open(t, console.Prefix+"integrity")
	if got := b.text(t, "h1"); got != "Forbidden" {
		t.Errorf("an agency system opened the integrity page: %q", got)
	}
	b.signOut(t)
}

// postWithoutCSRF signs in over plain HTTP and posts "verify now" and a
// data subject lookup without the token, then with another session's:
// each is refused 403.
func postWithoutCSRF(t *testing.T, base string) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	form := func(path string, v url.Values) int {
		resp, err := c.PostForm(base+path, v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	resp, err := c.Get(base + console.Prefix + "signin")
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if token == nil {
		t.Fatal("sign-in page without a CSRF token")
	}
	if code := form(console.Prefix+"signin/dev", url.Values{"identity": {"auditor.token"}}); code != http.StatusForbidden {
		t.Errorf("sign-in without CSRF token: %d, want 403", code)
	}
	if code := form(console.Prefix+"signin/dev", url.Values{"identity": {"auditor.token"}, "csrf": {token[1]}}); code != http.StatusOK {
		t.Fatalf("sign-in with the token: %d", code)
	}
	for _, v := range []url.Values{{}, {"csrf": {token[1]}}} { // none; the pre-session's, no longer this session's
		if code := form(console.Prefix+"integrity/verify", v); code != http.StatusForbidden {
			t.Errorf("verify now with csrf=%q: %d, want 403", v.Get("csrf"), code)
		}
		if code := form(console.Prefix+"subject", url.Values{"identifier": {"x"}, "purpose": {"p"}, "csrf": v["csrf"]}); code != http.StatusForbidden {
			t.Errorf("subject lookup with csrf=%q: %d, want 403", v.Get("csrf"), code)
		}
	}
}
