package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

const examplesDir = "../../deploy/examples"

func exitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		return -1
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAgreementValidateExamples(t *testing.T) {
	for _, args := range [][]string{{examplesDir}, {"--schemas", examplesDir, examplesDir}} {
		var out, errOut bytes.Buffer
		err := agreementValidate(testCtx(t), &out, &errOut, args)
		if exitCode(err) != 0 {
			t.Fatalf("%v: err %v\n%s%s", args, err, out.String(), errOut.String())
		}
		if got := out.String(); got != "ok: 4 contracts, 6 agreements\n" {
			t.Fatalf("%v: stdout %q", args, got)
		}
	}
}

func TestAgreementValidateBadFileListsEveryProblem(t *testing.T) {
	path := "../../agreements/testdata/transforms.bad.yaml"
	var out, errOut bytes.Buffer
	err := agreementValidate(testCtx(t), &out, &errOut, []string{path})
	if exitCode(err) != 1 {
		t.Fatalf("exit %d, want 1 (err %v)", exitCode(err), err)
	}
	golden, rerr := os.ReadFile("../../agreements/testdata/transforms.golden")
	if rerr != nil {
		t.Fatal(rerr)
	}
	want := strings.ReplaceAll(string(golden), "testdata/", "../../agreements/testdata/")
	if out.String() != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
}

// A schema-dependent problem (a classified field the schema lacks) is
// found with --schemas and with --registry, and not without either.
func TestAgreementValidateAgainstSchemas(t *testing.T) {
	dir := t.TempDir()
	contract := `kind: DataContract
dataset: health.immunisations
owner: health
subject: ingress.health.immunisations-value
fields: {record_id: internal, regoin: public}
`
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(contract), 0o644); err != nil {
		t.Fatal(err)
	}
	avsc, err := os.ReadFile(filepath.Join(examplesDir, "ingress.health.immunisations-value.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ingress.health.immunisations-value.avsc"), avsc, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/subjects/ingress.health.immunisations-value/versions/latest" {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]any{"error_code": 40401, "message": "Subject not found"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": "ingress.health.immunisations-value", "version": 3, "id": 7, "schema": string(avsc)})
	}))
	defer srv.Close()

	for _, args := range [][]string{
		{"--schemas", dir, filepath.Join(dir, "c.yaml")},
		{"--registry", srv.URL, filepath.Join(dir, "c.yaml")},
	} {
		var out, errOut bytes.Buffer
		err := agreementValidate(testCtx(t), &out, &errOut, args)
		if exitCode(err) != 1 || !strings.Contains(out.String(), "c.yaml:5:") || !strings.Contains(out.String(), "regoin") {
			t.Errorf("%v: exit %d, stdout:\n%s", args[0], exitCode(err), out.String())
		}
	}
	var out, errOut bytes.Buffer
	if err := agreementValidate(testCtx(t), &out, &errOut, []string{filepath.Join(dir, "c.yaml")}); exitCode(err) != 0 {
		t.Errorf("without schemas: exit %d, stdout:\n%s", exitCode(err), out.String())
	}

	// A subject the registry does not have is a problem at the contract's subject.
	other := strings.ReplaceAll(contract, "ingress.health.immunisations-value", "ingress.health.other-value")
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = agreementValidate(testCtx(t), &out, &errOut, []string{"--registry", srv.URL, filepath.Join(dir, "c.yaml")})
	if exitCode(err) != 1 || !strings.Contains(out.String(), "c.yaml:4:10: ") || !strings.Contains(out.String(), "Subject not found") {
		t.Errorf("unknown subject: exit %d, stdout:\n%s", exitCode(err), out.String())
	}
}

func TestAgreementDiff(t *testing.T) {
	oldPath := filepath.Join(examplesDir, "agreement-health-to-social-2026-001.yaml")
	data, err := os.ReadFile(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.NewReplacer(
		"citizen_id: pseudonymize", "citizen_id: keep",
		"  phone: {mask: {keep_last: 2}}\n", "",
		"  region: keep\n", "  region: keep\n  age: {generalize: {bucket: 5}}\n",
	).Replace(string(data))
	newPath := filepath.Join(t.TempDir(), "new.yaml")
	if err := os.WriteFile(newPath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := agreementDiff(&out, &errOut, []string{oldPath, newPath}); err != nil {
		t.Fatalf("diff: %v\n%s", err, errOut.String())
	}
	want := "~ field citizen_id: pseudonymize → keep (widens)\n" +
		"- field phone: was {mask: {keep_last: 2}} (no longer received; narrows)\n" +
		"+ field age: {generalize: {bucket: 5}} (newly received; widens)\n"
	if out.String() != want {
		t.Fatalf("diff output:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if err := agreementDiff(&out, &errOut, []string{"--fail-on-widen", oldPath, newPath}); exitCode(err) != 3 {
		t.Fatalf("--fail-on-widen: exit %d, want 3", exitCode(err))
	}
	out.Reset()
	if err := agreementDiff(&out, &errOut, []string{oldPath, oldPath}); err != nil || out.String() != "no changes\n" {
		t.Fatalf("same file: err %v, output %q", err, out.String())
	}
	// Directories: agreements matched by id, each line prefixed with it.
	out.Reset()
	if err := agreementDiff(&out, &errOut, []string{examplesDir, examplesDir}); err != nil || out.String() != "no changes\n" {
		t.Fatalf("same dir: err %v, output %q", err, out.String())
	}
}

func TestAgreementUsageErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := agreementValidate(testCtx(t), &out, &errOut, nil); exitCode(err) != 2 {
		t.Errorf("validate without files: exit %d, want 2", exitCode(err))
	}
	if err := agreementValidate(testCtx(t), &out, &errOut, []string{"--schemas", "x", "--registry", "http://127.0.0.1:1", "f"}); exitCode(err) != 2 {
		t.Errorf("both sources: exit %d, want 2", exitCode(err))
	}
	if err := agreementDiff(&out, &errOut, []string{"one"}); exitCode(err) != 2 {
		t.Errorf("diff with one file: exit %d, want 2", exitCode(err))
	}
	if err := agreementValidate(testCtx(t), &out, &errOut, []string{"/nonexistent/file.yaml"}); err == nil || exitCode(err) == 0 {
		t.Errorf("missing file: err %v", err)
	}
}

// TestExampleRecordsEncode: every sample record of deploy/examples fits the
// reference schema, so the banner's publish command ends with exit status 0;
// the deliberately bad lines live in their own file (the README's error
// example) and fail as deploy/examples/README.md says.
func TestExampleRecordsEncode(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(examplesDir, "ingress.health.immunisations-value.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := registryhttp.ParseSchema("ingress.health.immunisations-value", 1, 1, string(text))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := publish.NewEncoder(schema, "")
	if err != nil {
		t.Fatal(err)
	}
	lines := func(name string) []string {
		data, err := os.ReadFile(filepath.Join(examplesDir, "records", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
	good := lines("health.immunisations.jsonl")
	if len(good) != 19 {
		t.Fatalf("%d sample records, want 19 (deploy/examples/README.md and the README say so)", len(good))
	}
	for i, line := range good {
		if _, _, err := enc.Encode([]byte(line)); err != nil {
			t.Errorf("health.immunisations.jsonl line %d: %v", i+1, err)
		}
	}
	want := []string{
		`field "age": expected int, got string "eighty"`,
		"invalid JSON: unexpected EOF",
	}
	bad := lines("health.immunisations.bad.jsonl")
	if len(bad) != len(want) {
		t.Fatalf("health.immunisations.bad.jsonl: %d lines, want %d", len(bad), len(want))
	}
	for i, line := range bad {
		if _, _, err := enc.Encode([]byte(line)); err == nil || err.Error() != want[i] {
			t.Errorf("health.immunisations.bad.jsonl line %d: error %v, want %q", i+1, err, want[i])
		}
	}
}

// A bad calendar (unknown timezone, hours 25:00-26:00, an unreadable and
// a malformed ICS file) is refused with line, column and hint.
func TestAgreementValidateBadCalendar(t *testing.T) {
	path := "../../agreements/testdata/calendar.bad.yaml"
	var out, errOut bytes.Buffer
	err := agreementValidate(testCtx(t), &out, &errOut, []string{path})
	if exitCode(err) != 1 {
		t.Fatalf("exit %d, want 1 (err %v)", exitCode(err), err)
	}
	golden, rerr := os.ReadFile("../../agreements/testdata/calendar.golden")
	if rerr != nil {
		t.Fatal(rerr)
	}
	want := strings.ReplaceAll(string(golden), "testdata/", "../../agreements/testdata/")
	if out.String() != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	for _, s := range []string{`:3:11: unknown timezone "Europe/Lodnon"`, `:5:9: hours "25:00-26:00"`, "missing.ics", "malformed.ics"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
}
