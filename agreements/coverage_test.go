package agreements

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

// unreachableFromYAML lists messages the loader makes impossible to reach
// through a file (it refuses the input first); they are covered by
// TestValidateProgrammaticSets instead, or guard against internal failures.
var unreachableFromYAML = map[string]string{
	"YAML decoder failed: %v":                                         "recover guard around yaml.v3",
	"freshness of %s has a negative duration":                         "the loader refuses negative durations",
	"agreement %s: negative freshness max_age":                        "the loader refuses negative durations",
	"%s: %q is not a number":                                          "a YAML !!int or !!float always parses",
	"agreement %s: field %s: generalize has both a unit and a bucket": "the loader reads one key; TestValidateProgrammaticSets",
	"%s is not valid UTF-8":                                           "yaml.v3 refuses invalid UTF-8 first; TestValidateProgrammaticSets",
}

// TestEveryMessageHasAGoldenCase: each message format that Validate or the
// loader can produce appears in some testdata/*.golden file, so a new check
// cannot be added without a bad file exercising it.
func TestEveryMessageHasAGoldenCase(t *testing.T) {
	var golden strings.Builder
	paths, _ := filepath.Glob("testdata/*.golden")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		golden.Write(data)
	}
	all := golden.String()
	fset := token.NewFileSet()
	for _, src := range []string{"load.go", "load_calendar.go", "validate.go", "validate_calendar.go"} {
		f, err := parser.ParseFile(fset, src, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "add" && sel.Sel.Name != "problem") || len(call.Args) < 3 {
				return true
			}
			lit, ok := call.Args[2].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			format, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			if _, skip := unreachableFromYAML[format]; skip {
				return true
			}
			re := regexp.MustCompile(formatToRegexp(format))
			if !re.MatchString(all) {
				t.Errorf("%s: message %q has no case in testdata/*.golden", fset.Position(lit.Pos()), format)
			}
			return true
		})
	}
}

var verbRe = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)

func formatToRegexp(format string) string {
	parts := verbRe.Split(format, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, ".*")
}

// TestValidateProgrammaticSets covers checks a YAML file cannot reach
// because the loader refuses the input first; sets built in code (from a
// database or an API) still get them.
func TestValidateProgrammaticSets(t *testing.T) {
	contract := DataContract{
		Dataset: "health.x", Owner: "health", Subject: "ingress.health.x-value",
		Fields:    []FieldClass{{Name: "a", Class: Public}, {Name: "at", Class: Internal}},
		Quality:   []QualityRule{{Name: "long", Rule: "true || " + strings.Repeat("true || ", MaxExprLen/8) + "true", Severity: SeverityError}},
		Freshness: &Freshness{EventTime: "at", MaxAge: calendar.Wall(-time.Minute), OnStale: StaleQuarantine},
	}
	agreement := Agreement{
		ID: "a-1", Provider: "health.x", Consumer: "tax", Purpose: "p\xff", LegalBasis: "l",
		ValidFrom: t0, ValidUntil: tEnd, Status: StatusDraft, MaxAge: calendar.Wall(-time.Second),
		Fields: []FieldRule{{Name: "a", Transform: Transform{Kind: Generalize, Unit: "year", Bucket: 10}}},
	}
	ps := Validate(&Set{Contracts: []DataContract{contract}, Agreements: []Agreement{agreement}})
	for _, want := range []string{
		"quality rule long is too long",
		"freshness of health.x has a negative duration",
		"agreement a-1: negative freshness max_age",
		"agreement a-1: field a: generalize has both a unit and a bucket",
		"purpose is not valid UTF-8",
	} {
		if !strings.Contains(ps.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, ps)
		}
	}
}
