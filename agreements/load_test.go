package agreements

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

func TestLoadDirExamples(t *testing.T) {
	s, err := LoadDir("../deploy/examples")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if len(s.Agencies) != 5 || len(s.Contracts) != 4 || len(s.Agreements) != 6 {
		t.Fatalf("got %d agencies, %d contracts, %d agreements; want 5, 4, 6", len(s.Agencies), len(s.Contracts), len(s.Agreements))
	}
	c, ok := s.Contract("health.immunisations")
	if !ok {
		t.Fatal("health.immunisations contract missing")
	}
	if len(c.Fields) != 15 {
		t.Errorf("reference contract classifies %d fields, want 15", len(c.Fields))
	}
	if c.Freshness == nil || c.Freshness.MaxAge != calendar.Wall(15*time.Minute) || c.Freshness.EventTime != "administered_at" {
		t.Errorf("freshness = %+v, want administered_at / 15m", c.Freshness)
	}
	if c.DataSubject != "citizen_id" {
		t.Errorf("data_subject = %q", c.DataSubject)
	}
}

func TestLoadDecodesEveryTransformForm(t *testing.T) {
	src := `kind: Agreement
id: a-1
fields:
  a: keep
  b: redact
  c: pseudonymize
  d: hash
  e: {truncate: 2}
  f: {mask: {keep_last: 3}}
  g: {generalize: month}
  h: {generalize: {bucket: 2.5}}
freshness: {max_age: 1d2h}
valid_from: 2026-01-01
valid_until: 2027-01-01T10:00:00+02:00
status: active
`
	s, err := Load("a.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	a := s.Agreements[0]
	want := []Transform{
		{Kind: Keep}, {Kind: Redact}, {Kind: Pseudonymize}, {Kind: Hash},
		{Kind: Truncate, N: 2}, {Kind: Mask, N: 3}, {Kind: Generalize, Unit: "month"}, {Kind: Generalize, Bucket: 2.5},
	}
	if len(a.Fields) != len(want) {
		t.Fatalf("got %d fields, want %d", len(a.Fields), len(want))
	}
	for i, w := range want {
		if a.Fields[i].Transform != w {
			t.Errorf("field %s: got %+v, want %+v", a.Fields[i].Name, a.Fields[i].Transform, w)
		}
		if a.Fields[i].Pos.Line != 4+i || a.Fields[i].Pos.Column != 3 {
			t.Errorf("field %s at %v, want line %d col 3", a.Fields[i].Name, a.Fields[i].Pos, 4+i)
		}
	}
	if a.MaxAge != calendar.Wall(26*time.Hour) {
		t.Errorf("max_age = %v, want 26h", a.MaxAge)
	}
	if !a.ValidFrom.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !a.ValidUntil.Equal(time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("validity = %v .. %v", a.ValidFrom, a.ValidUntil)
	}
	if p := a.KeyPos["valid_until"]; p.Line != 14 || p.Column != 14 {
		t.Errorf("valid_until at %v, want 14:14", p)
	}
}

func TestLoadStrictUnknownKeyWithHint(t *testing.T) {
	src := "kind: Agreement\nid: a-1\nvalid_untill: 2027-01-01T00:00:00Z\n---\nkind: DataContrct\n"
	s, err := Load("x.yaml", []byte(src))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	if s == nil || len(s.Agreements) != 1 {
		t.Fatalf("partial set not returned: %+v", s)
	}
	got := ps.Error()
	want := "x.yaml:3:1: unknown key \"valid_untill\" in Agreement (hint: did you mean \"valid_until\"?)\n" +
		"x.yaml:5:7: unknown kind \"DataContrct\" (hint: did you mean \"DataContract\"?)"
	if got != want {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

func TestLoadSyntaxErrorIsProblem(t *testing.T) {
	_, err := Load("x.yaml", []byte("kind: Agreement\nid: [unclosed\n"))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Message, "YAML syntax") {
		t.Fatalf("err = %v, want one YAML syntax problem", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"15m": 15 * time.Minute, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0s": 0,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5m", "5", "d", "1dd", "xd", "1d-1h", "15 minutes"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
		}
	}
}

func TestExamplesValidate(t *testing.T) {
	s, err := LoadDir("../deploy/examples")
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if ps := Validate(s); len(ps) > 0 {
		t.Fatalf("examples have %d problems:\n%v", len(ps), ps)
	}
	// Every transform form is shown somewhere in the examples.
	used := map[string]bool{}
	statuses := map[Status]bool{}
	filters := 0
	for _, a := range s.Agreements {
		statuses[a.Status] = true
		if a.Filter != "" {
			filters++
		}
		for _, f := range a.Fields {
			form := string(f.Transform.Kind)
			if f.Transform.Kind == Generalize && f.Transform.Unit == "" {
				form = "generalize-bucket"
			}
			used[form] = true
		}
	}
	for _, form := range []string{"keep", "redact", "pseudonymize", "hash", "truncate", "mask", "generalize", "generalize-bucket"} {
		if !used[form] {
			t.Errorf("no example agreement uses %s", form)
		}
	}
	if filters == 0 || !statuses[StatusActive] || !(statuses[StatusSuspended] || statuses[StatusDraft]) {
		t.Errorf("examples lack a filter, an active or a suspended/draft agreement: filters %d, statuses %v", filters, statuses)
	}
}

func TestReferenceSchemaHas15Fields(t *testing.T) {
	data, err := os.ReadFile("../deploy/examples/ingress.health.immunisations-value.avsc")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Fields []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Fields) != 15 {
		t.Fatalf("reference record has %d top-level fields, want 15", len(rec.Fields))
	}
}

// BenchmarkValidateFilesExamples: loading and validating deploy/examples
// (5 agencies, 4 contracts, 6 agreements), the model half of a plan reload.
func BenchmarkValidateFilesExamples(b *testing.B) {
	for b.Loop() {
		if _, ps, err := ValidateFiles("../deploy/examples"); err != nil || len(ps) > 0 {
			b.Fatal(err, ps)
		}
	}
}
