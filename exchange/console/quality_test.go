package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/console"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/sla"
)

// TestQualityAndQuarantineInBrowser walks the quality and quarantine
// pages in headless chromium over demo traffic plus one hostile malformed
// record of health.immunisations: the auditor sees the charts, tables and
// entries but no value; the provider's steward sees the hostile value,
// inert, and the view lands in the access log first; a consumer steward
// sees neither health's entries nor a value form, and a forged value
// request is refused 403 without an access-log entry.
func TestQualityAndQuarantineInBrowser(t *testing.T) {
	b := newBrowserOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := startStack(ctx, t, 300)
	b.mu.Lock()
	b.base = s.base
	b.mu.Unlock()
	pos := s.publishHostile(ctx, t)

	t.Run("auditor", func(t *testing.T) { walkQualityAuditor(t, b, pos) })
	t.Run("provider steward", func(t *testing.T) { walkQuarantineProvider(ctx, t, b, s, pos) })
	t.Run("consumer steward", func(t *testing.T) { walkQuarantineConsumer(ctx, t, b, s, pos) })

	b.mu.Lock()
	defer b.mu.Unlock()
	for u, csp := range b.responses {
		if csp != console.CSP {
			t.Errorf("%s: Content-Security-Policy %q, want %q", u, csp, console.CSP)
		}
	}
}

// position is an ingress record's source position.
type position struct {
	Topic     string
	Partition int
	Offset    int64
}

func (p position) String() string {
	return p.Topic + "/" + strconv.Itoa(p.Partition) + "/" + strconv.FormatInt(p.Offset, 10)
}

func (p position) query() string {
	return url.Values{"topic": {p.Topic}, "partition": {strconv.Itoa(p.Partition)}, "offset": {strconv.FormatInt(p.Offset, 10)}}.Encode()
}

// publishHostile writes hostile (not in the wire format) to
// health.immunisations' ingress and waits until the ledger holds its
// quarantine and the aggregates its reason.
func (s *stack) publishHostile(ctx context.Context, t *testing.T) position {
	t.Helper()
	kc, err := kafkaclient.New(s.kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	topic := names.Ingress("health.immunisations")
	w := kc.Writer(topic)
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("hostile-key"), Value: []byte(hostile)}); err != nil {
		t.Fatal(err)
	}
	var found *ledger.Entry
	sum := sha256.Sum256([]byte(hostile))
	waitFor(t, "the hostile record's quarantine in the ledger", time.Minute, func() bool {
		p, err := s.app.Store().Query(ctx, ledger.Query{Dataset: "health.immunisations", Decision: ledger.Quarantined,
			Reason: "decode:malformed", Sort: ledger.SortTimeDesc, Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Entries {
			if bytes.Equal(p.Entries[i].PayloadHash, sum[:]) {
				found = &p.Entries[i]
			}
		}
		return found != nil
	})
	waitFor(t, "the reason aggregates", 30*time.Second, func() bool {
		rows, err := s.app.Store().Reasons(ctx, sla.DailyQuery{Dataset: "health.immunisations"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Reason == "decode:malformed" && r.Quarantined > 0 {
				return true
			}
		}
		return false
	})
	return position{found.Topic, int(found.Partition), found.Offset}
}

func walkQualityAuditor(t *testing.T, b *browser, pos position) {
	b.signIn(t, "auditor.token")
	b.open(t, console.Prefix+"quality")
	if n := b.count(t, "#sla tbody tr td.num"); n == 0 {
		t.Error("the quality page shows no SLA compliance row after demo traffic")
	}
	if b.count(t, "svg#on-time polyline") == 0 || b.count(t, "svg#failure-rates") != 1 {
		t.Error("the quality page lacks its charts")
	}
	if got := b.text(t, "svg#on-time desc"); !strings.Contains(got, "table") {
		t.Errorf("the on-time chart's description %q does not point to its table", got)
	}
	b.inert(t, "quality as auditor")
	b.shot(t, "quality-auditor")

	b.open(t, console.Prefix+"quarantine?dataset=health.immunisations")
	if got := b.text(t, "#reasons"); !strings.Contains(got, "decode:malformed") {
		t.Errorf("quarantine reasons %q lack decode:malformed", got)
	}
	if n := b.count(t, "svg#quarantine-reasons polyline"); n == 0 {
		t.Error("the quarantine chart has no line")
	}
	if got := b.text(t, "#entries tbody tr:first-child"); !strings.Contains(got, pos.String()) {
		t.Errorf("newest quarantined entry %q, want %s", got, pos)
	}
	b.shot(t, "quarantine-auditor")
	b.open(t, console.Prefix+"quarantine/entry?"+pos.query())
	if got := b.text(t, "#detail"); !strings.Contains(got, "decode:malformed") {
		t.Errorf("entry detail %q, want the quarantine copy's decode:malformed detail", got)
	}
	if b.count(t, "#value-form") != 0 || b.count(t, "#no-value") != 1 {
		t.Error("the auditor is offered the record's value")
	}
	b.inert(t, "quarantine entry as auditor")
	b.shot(t, "quarantine-entry-auditor")
	b.signOut(t)
}

func walkQuarantineProvider(ctx context.Context, t *testing.T, b *browser, s *stack, pos position) {
	b.signIn(t, "stewards/amara.okafor.token")
	b.open(t, console.Prefix+"quality")
	b.shot(t, "quality-provider-steward")
	b.open(t, console.Prefix+"quarantine/entry?"+pos.query())
	before := accesses(ctx, t, s)
	b.do(t, "asking for the value",
		chromedp.SendKeys(chromedp.CSS("#purpose"), "INC-7: why does the register reject this?"),
		chromedp.Submit(chromedp.CSS("#purpose")), chromedp.WaitVisible(chromedp.CSS("#value")))
	if got, want := b.text(t, "#value"), strconv.Quote(hostile); got != want {
		t.Errorf("value shown %q, want the raw bytes quoted %q", got, want)
	}
	b.inert(t, "quarantined hostile value")
	b.shot(t, "quarantine-value-provider-steward")
	after := accesses(ctx, t, s)
	if len(after) != len(before)+1 {
		t.Fatalf("access log went from %d to %d entries, want one more", len(before), len(after))
	}
	a := after[0]
	if !strings.Contains(a.Who, "amara.okafor") || a.Purpose != "INC-7: why does the register reject this?" || !strings.Contains(a.Query, pos.String()) {
		t.Errorf("access log entry %+v, want amara.okafor's view of %s with the purpose", a, pos)
	}
	b.signOut(t)
}

// accesses are the newest access-log entries (newest first).
func accesses(ctx context.Context, t *testing.T, s *stack) []accessEntry {
	t.Helper()
	list, err := s.app.Store().Accesses(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]accessEntry, len(list))
	for i, a := range list {
		out[i] = accessEntry{a.Who, a.Purpose, a.Query}
	}
	return out
}

type accessEntry struct{ Who, Purpose, Query string }

func walkQuarantineConsumer(ctx context.Context, t *testing.T, b *browser, s *stack, pos position) {
	b.signIn(t, "stewards/priya.raman.token")
	b.open(t, console.Prefix+"quarantine?dataset=health.immunisations")
	if n := b.count(t, "#entries td code"); n != 0 {
		t.Errorf("a steward of the consumer sees %d of health's quarantined entries", n)
	}
	b.shot(t, "quarantine-consumer-steward")
	b.open(t, console.Prefix+"quarantine/entry?"+pos.query())
	if b.count(t, "#value-form") != 0 {
		t.Error("a steward of the consumer is offered the value form")
	}
	b.signOut(t)

	// A forged request, with the steward's own valid session and token.
	before := accesses(ctx, t, s)
	c, csrf := signInHTTP(t, s.base, "stewards/priya.raman.token")
	resp, err := c.PostForm(s.base+console.Prefix+"quarantine/value", url.Values{"csrf": {csrf}, "topic": {pos.Topic},
		"partition": {strconv.Itoa(pos.Partition)}, "offset": {strconv.FormatInt(pos.Offset, 10)}, "purpose": {"curious"}})
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged value request: %d, want 403", resp.StatusCode)
	}
	if strings.Contains(body, "hostile-key") || strings.Contains(body, "alert(1)") {
		t.Error("the refusal shows the record")
	}
	if after := accesses(ctx, t, s); len(after) != len(before) {
		t.Errorf("a refused value request changed the access log (%d → %d entries)", len(before), len(after))
	}
}

// signInHTTP signs in as a dev identity over plain HTTP and returns the
// client and its session's CSRF token.
func signInHTTP(t testing.TB, base, identity string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	token := func(path string) string {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(readAll(t, resp))
		if m == nil {
			t.Fatalf("%s has no CSRF token", path)
		}
		return m[1]
	}
	resp, err := c.PostForm(base+console.Prefix+"signin/dev", url.Values{"identity": {identity}, "csrf": {token(console.Prefix + "signin")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signing in as %s: %d", identity, resp.StatusCode)
	}
	resp.Body.Close()
	return c, token(console.Prefix + "quality")
}
