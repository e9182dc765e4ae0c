package registryhttp

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
)

// regServer serves reg's handler under /registry, as the runtime mounts it.
func regServer(t *testing.T, reg *schemas.Registry) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/registry/", http.StripPrefix("/registry", Handler(reg, quietLog)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type client struct {
	t   *testing.T
	url string
}

// do sends a request the way Confluent's Java client does (its content
// type and Accept header) and returns status and body.
func (c client) do(method, path, body string) (int, string) {
	c.t.Helper()
	return c.doCT(method, path, body, ContentTypeV1)
}

func (c client) doCT(method, path, body, contentType string) (int, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.url+"/registry"+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ContentTypeV1 {
		c.t.Errorf("%s %s: Content-Type %q, want %q", method, path, ct, ContentTypeV1)
	}
	return resp.StatusCode, string(b)
}

// expect asserts status and exact body.
func (c client) expect(method, path, body string, wantStatus int, wantBody string) {
	c.t.Helper()
	status, got := c.do(method, path, body)
	if status != wantStatus || got != wantBody {
		c.t.Errorf("%s %s %s\n got %d %s\nwant %d %s", method, path, body, status, got, wantStatus, wantBody)
	}
}

// schemaBody wraps schema JSON as Confluent's register/lookup body.
func schemaBody(schema string) string {
	b, _ := json.Marshal(map[string]string{"schema": schema})
	return string(b)
}

// quoted returns s as a JSON string literal.
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// quietLog discards the handler's logs.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func quietRegistry(opts ...schemas.Option) *schemas.Registry {
	return schemas.NewRegistry(schemas.NewMemoryStore(), append([]schemas.Option{schemas.WithLogger(quietLog)}, opts...)...)
}

func newTestClient(t *testing.T, opts ...schemas.Option) (client, *schemas.Registry) {
	reg := quietRegistry(opts...)
	return client{t: t, url: regServer(t, reg).URL}, reg
}

const (
	userV1     = `{"type":"record","name":"User","namespace":"civil","fields":[{"name":"id","type":"string"}]}`
	userV1Norm = `{"name":"civil.User","type":"record","fields":[{"name":"id","type":"string"}]}`
	userV2     = `{"type":"record","name":"User","namespace":"civil","fields":[{"name":"id","type":"string"},{"name":"age","type":"int","default":0}]}`
	userV2Norm = `{"name":"civil.User","type":"record","fields":[{"name":"id","type":"string"},{"name":"age","type":"int","default":0}]}`
	userBad    = `{"type":"record","name":"User","namespace":"civil","fields":[{"name":"id","type":"string"},{"name":"age","type":"int"}]}`
)

func TestHTTPRegisterAndRead(t *testing.T) {
	c, _ := newTestClient(t)
	c.expect("GET", "/subjects", "", 200, `[]`)
	c.expect("POST", "/subjects/users-value/versions", schemaBody(userV1), 200, `{"id":1}`)
	// Same schema again, even differently spelled: same id, no new version.
	c.expect("POST", "/subjects/users-value/versions", schemaBody(strings.ReplaceAll(userV1, ",", " , ")), 200, `{"id":1}`)
	c.expect("POST", "/subjects/users-value/versions", `{"schema":`+quoted(userV1)+`,"schemaType":"AVRO","references":[]}`, 200, `{"id":1}`)
	// Same schema under another subject: same global id.
	c.expect("POST", "/subjects/ingress.civil.users-value/versions", schemaBody(userV1), 200, `{"id":1}`)
	c.expect("POST", "/subjects/users-value/versions", schemaBody(userV2), 200, `{"id":2}`)

	c.expect("GET", "/subjects", "", 200, `["ingress.civil.users-value","users-value"]`)
	c.expect("GET", "/subjects?subjectPrefix=ingress.", "", 200, `["ingress.civil.users-value"]`)
	c.expect("GET", "/subjects/users-value/versions", "", 200, `[1,2]`)
	c.expect("GET", "/subjects/users-value/versions/1", "", 200, `{"subject":"users-value","version":1,"id":1,"schema":`+quoted(userV1Norm)+`}`)
	c.expect("GET", "/subjects/users-value/versions/latest", "", 200, `{"subject":"users-value","version":2,"id":2,"schema":`+quoted(userV2Norm)+`}`)
	c.expect("GET", "/subjects/users-value/versions/-1", "", 200, `{"subject":"users-value","version":2,"id":2,"schema":`+quoted(userV2Norm)+`}`)
	c.expect("GET", "/subjects/users-value/versions/2/schema", "", 200, userV2Norm)
	c.expect("GET", "/subjects/users-value/versions/2/referencedby", "", 200, `[]`)
	c.expect("GET", "/schemas/ids/1", "", 200, `{"schema":`+quoted(userV1Norm)+`}`)
	c.expect("GET", "/schemas/ids/1/schema", "", 200, userV1Norm)
	c.expect("GET", "/schemas/ids/1/versions", "", 200, `[{"subject":"ingress.civil.users-value","version":1},{"subject":"users-value","version":1}]`)
	c.expect("GET", "/schemas/ids/1/subjects", "", 200, `["ingress.civil.users-value","users-value"]`)
	c.expect("GET", "/schemas/types", "", 200, `["AVRO"]`)
	c.expect("GET", "/", "", 200, `{}`)
	c.expect("GET", "/mode", "", 200, `{"mode":"READWRITE"}`)

	// Lookup (POST /subjects/{s}).
	c.expect("POST", "/subjects/users-value", schemaBody(userV1), 200, `{"subject":"users-value","version":1,"id":1,"schema":`+quoted(userV1Norm)+`}`)
}

func TestHTTPAcceptedContentTypes(t *testing.T) {
	c, _ := newTestClient(t)
	for _, ct := range []string{ContentTypeV1, ContentTypeDefault, ContentTypeJSON, "application/json; charset=utf-8", ""} {
		status, body := c.doCT("POST", "/subjects/s/versions", schemaBody(userV1), ct)
		if status != 200 || body != `{"id":1}` {
			t.Errorf("Content-Type %q: %d %s", ct, status, body)
		}
	}
	status, body := c.doCT("POST", "/subjects/s/versions", schemaBody(userV1), "text/plain")
	if status != 415 || !strings.HasPrefix(body, `{"error_code":415,`) {
		t.Errorf("text/plain: %d %s, want 415", status, body)
	}
}

func TestHTTPErrors(t *testing.T) {
	c, _ := newTestClient(t)
	c.expect("POST", "/subjects/users-value/versions", schemaBody(userV1), 200, `{"id":1}`)

	c.expect("GET", "/subjects/nope/versions", "", 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`)
	c.expect("GET", "/subjects/nope/versions/1", "", 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`)
	c.expect("GET", "/subjects/nope/versions/latest", "", 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`)
	c.expect("GET", "/subjects/users-value/versions/9", "", 404, `{"error_code":40402,"message":"Version 9 not found."}`)
	c.expect("GET", "/subjects/users-value/versions/9/schema", "", 404, `{"error_code":40402,"message":"Version 9 not found."}`)
	for _, v := range []string{"0", "-2", "abc", "2147483648", "1.5"} {
		c.expect("GET", "/subjects/users-value/versions/"+v, "", 422,
			`{"error_code":42202,"message":"The specified version '`+v+`' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""}`)
	}
	c.expect("GET", "/schemas/ids/99", "", 404, `{"error_code":40403,"message":"Schema 99 not found."}`)
	c.expect("GET", "/schemas/ids/abc", "", 404, `{"error_code":40403,"message":"Schema abc not found."}`)
	c.expect("GET", "/schemas/ids/99/versions", "", 404, `{"error_code":40403,"message":"Schema 99 not found."}`)
	c.expect("POST", "/subjects/users-value", schemaBody(userV2), 404, `{"error_code":40403,"message":"Schema not found"}`)
	c.expect("POST", "/subjects/nope", schemaBody(userV1), 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`)

	// Invalid schemas: 42201.
	for name, body := range map[string]string{
		"not avro":       schemaBody(`{"type":"recrod","name":"X","fields":[]}`),
		"not json":       schemaBody(`{"type":`),
		"bare word":      schemaBody(`int`),
		"empty":          `{"schema":""}`,
		"missing":        `{}`,
		"protobuf":       `{"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF"}`,
		"references":     `{"schema":` + quoted(userV1) + `,"references":[{"name":"x","subject":"y","version":1}]}`,
		"recursive":      schemaBody(`{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}`),
		"too deep":       schemaBody(strings.Repeat(`{"type":"array","items":`, 40) + `"int"` + strings.Repeat(`}`, 40)),
		"bad default":    schemaBody(`{"type":"record","name":"X","fields":[{"name":"a","type":"int","default":"x"}]}`),
		"deep json only": schemaBody(strings.Repeat(`[`, 5000) + strings.Repeat(`]`, 5000)),
	} {
		status, got := c.do("POST", "/subjects/users-value/versions", body)
		if status != 422 || !strings.HasPrefix(got, `{"error_code":42201,"message":"Invalid schema`) {
			t.Errorf("%s: got %d %s, want 422 42201", name, status, got)
		}
	}
	// Incompatible: 409 naming field, types and rule.
	status, got := c.do("POST", "/subjects/users-value/versions", schemaBody(userBad))
	want := `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"users-value\", details: [field \"age\" (record civil.User): reader field has no default and writer type \"record civil.User\" has no such field (BACKWARD: new schema must read data written with version 1)]"}`
	if status != 409 || got != want {
		t.Errorf("incompatible: got %d %s\nwant 409 %s", status, got, want)
	}

	// Malformed request bodies.
	status, got = c.do("POST", "/subjects/users-value/versions", `{"schema":`)
	if status != 400 || !strings.HasPrefix(got, `{"error_code":400,`) {
		t.Errorf("truncated JSON: %d %s", status, got)
	}
	status, got = c.do("POST", "/subjects/users-value/versions", `<xml/>`)
	if status != 400 || !strings.HasPrefix(got, `{"error_code":400,`) {
		t.Errorf("non-JSON: %d %s", status, got)
	}
	status, got = c.do("POST", "/subjects/users-value/versions", `{"schema":"`+strings.Repeat("a", MaxRequestBytes)+`"}`)
	if status != 413 || got != `{"error_code":413,"message":"Request body larger than 1048576 bytes"}` {
		t.Errorf("huge body: %d %.200s", status, got)
	}
	status, got = c.do("PUT", "/config", `{"compatibility":"SIDEWAYS"}`)
	if status != 422 || !strings.HasPrefix(got, `{"error_code":42203,`) {
		t.Errorf("bad level: %d %s", status, got)
	}
	// Invalid subject names.
	status, got = c.do("POST", "/subjects/a%0Ab/versions", schemaBody(userV1))
	if status != 422 || !strings.HasPrefix(got, `{"error_code":42208,`) {
		t.Errorf("control char in subject: %d %s", status, got)
	}

	// Unknown routes and wrong methods.
	c.expect("GET", "/nothing/here", "", 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`)
	c.expect("PUT", "/subjects", "", 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`)
	c.expect("GET", "/subjects/users-value", "", 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`)
}

func TestHTTPCompatibility(t *testing.T) {
	c, _ := newTestClient(t)
	c.expect("POST", "/subjects/users-value/versions", schemaBody(userV1), 200, `{"id":1}`)

	c.expect("POST", "/compatibility/subjects/users-value/versions/latest", schemaBody(userV2), 200, `{"is_compatible":true}`)
	c.expect("POST", "/compatibility/subjects/users-value/versions/latest?verbose=true", schemaBody(userV2), 200, `{"is_compatible":true,"messages":[]}`)
	c.expect("POST", "/compatibility/subjects/users-value/versions/1", schemaBody(userBad), 200, `{"is_compatible":false}`)
	c.expect("POST", "/compatibility/subjects/users-value/versions/1?verbose=true", schemaBody(userBad), 200,
		`{"is_compatible":false,"messages":["field \"age\" (record civil.User): reader field has no default and writer type \"record civil.User\" has no such field (BACKWARD: new schema must read data written with version 1)"]}`)
	c.expect("POST", "/compatibility/subjects/users-value/versions", schemaBody(userBad), 200, `{"is_compatible":false}`)
	// No subject yet: everything is compatible with nothing.
	c.expect("POST", "/compatibility/subjects/new-value/versions", schemaBody(userBad), 200, `{"is_compatible":true}`)
	c.expect("POST", "/compatibility/subjects/nope/versions/latest", schemaBody(userV1), 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`)
	c.expect("POST", "/compatibility/subjects/users-value/versions/7", schemaBody(userV1), 404, `{"error_code":40402,"message":"Version 7 not found."}`)
	status, got := c.do("POST", "/compatibility/subjects/users-value/versions/x", schemaBody(userV1))
	if status != 422 || !strings.HasPrefix(got, `{"error_code":42202,`) {
		t.Errorf("bad version: %d %s", status, got)
	}
	status, got = c.do("POST", "/compatibility/subjects/users-value/versions/latest", schemaBody(`{"type":"nope"}`))
	if status != 422 || !strings.HasPrefix(got, `{"error_code":42201,`) {
		t.Errorf("bad schema: %d %s", status, got)
	}
	// The subject's level decides: under NONE anything goes.
	c.expect("PUT", "/config/users-value", `{"compatibility":"NONE"}`, 200, `{"compatibility":"NONE"}`)
	c.expect("POST", "/compatibility/subjects/users-value/versions/latest?verbose=true", schemaBody(userBad), 200, `{"is_compatible":true,"messages":[]}`)
}

func TestHTTPConfig(t *testing.T) {
	c, _ := newTestClient(t)
	c.expect("GET", "/config", "", 200, `{"compatibilityLevel":"BACKWARD"}`)
	c.expect("PUT", "/config", `{"compatibility":"FULL"}`, 200, `{"compatibility":"FULL"}`)
	c.expect("GET", "/config", "", 200, `{"compatibilityLevel":"FULL"}`)
	c.expect("GET", "/config/s", "", 404, `{"error_code":40408,"message":"Subject 's' does not have subject-level compatibility configured"}`)
	c.expect("GET", "/config/s?defaultToGlobal=true", "", 200, `{"compatibilityLevel":"FULL"}`)
	c.expect("PUT", "/config/s", `{"compatibility":"forward_transitive"}`, 200, `{"compatibility":"FORWARD_TRANSITIVE"}`)
	c.expect("GET", "/config/s", "", 200, `{"compatibilityLevel":"FORWARD_TRANSITIVE"}`)
	c.expect("DELETE", "/config/s", "", 200, `{"compatibilityLevel":"FORWARD_TRANSITIVE"}`)
	c.expect("DELETE", "/config/s", "", 404, `{"error_code":40408,"message":"Subject 's' does not have subject-level compatibility configured"}`)
	c.expect("DELETE", "/config", "", 200, `{"compatibilityLevel":"FULL"}`)
	c.expect("GET", "/config", "", 200, `{"compatibilityLevel":"BACKWARD"}`)
	c.expect("PUT", "/config/s", `{}`, 422, `{"error_code":42203,"message":"Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive"}`)
}

func TestHTTPDeleteProtocol(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	c, _ := newTestClient(t, schemas.WithOnChange(func(s string) { mu.Lock(); changes = append(changes, s); mu.Unlock() }))
	c.expect("POST", "/subjects/a/versions", schemaBody(userV1), 200, `{"id":1}`)
	c.expect("POST", "/subjects/a/versions", schemaBody(userV2), 200, `{"id":2}`)
	c.expect("POST", "/subjects/b/versions", schemaBody(userV1), 200, `{"id":1}`)

	// Versions: soft first, then permanent.
	c.expect("DELETE", "/subjects/a/versions/1?permanent=true", "", 404, `{"error_code":40407,"message":"Subject 'a' Version 1 was not deleted first before being permanently deleted"}`)
	c.expect("DELETE", "/subjects/a/versions/1", "", 200, `1`)
	c.expect("DELETE", "/subjects/a/versions/1", "", 404, `{"error_code":40406,"message":"Subject 'a' Version 1 was soft deleted.Set permanent=true to delete permanently"}`)
	c.expect("GET", "/subjects/a/versions", "", 200, `[2]`)
	c.expect("GET", "/subjects/a/versions?deleted=true", "", 200, `[1,2]`)
	c.expect("GET", "/subjects/a/versions/1", "", 404, `{"error_code":40402,"message":"Version 1 not found."}`)
	c.expect("GET", "/subjects/a/versions/1?deleted=true", "", 200, `{"subject":"a","version":1,"id":1,"schema":`+quoted(userV1Norm)+`}`)
	c.expect("GET", "/schemas/ids/1/versions", "", 200, `[{"subject":"b","version":1}]`)
	c.expect("GET", "/schemas/ids/1/versions?deleted=true", "", 200, `[{"subject":"a","version":1},{"subject":"b","version":1}]`)
	c.expect("DELETE", "/subjects/a/versions/1?permanent=true", "", 200, `1`)
	c.expect("GET", "/subjects/a/versions?deleted=true", "", 200, `[2]`)
	c.expect("DELETE", "/subjects/a/versions/1?permanent=true", "", 404, `{"error_code":40402,"message":"Version 1 not found."}`)
	c.expect("DELETE", "/subjects/a/versions/latest", "", 200, `2`)
	// Every version soft-deleted: the subject is gone unless asked for.
	c.expect("GET", "/subjects", "", 200, `["b"]`)
	c.expect("GET", "/subjects?deleted=true", "", 200, `["a","b"]`)
	c.expect("GET", "/subjects/a/versions/2", "", 404, `{"error_code":40401,"message":"Subject 'a' not found."}`)
	c.expect("GET", "/subjects/a/versions/latest", "", 404, `{"error_code":40401,"message":"Subject 'a' not found."}`)
	// The schema outlives its versions.
	c.expect("GET", "/schemas/ids/2", "", 200, `{"schema":`+quoted(userV2Norm)+`}`)

	// Subjects: soft first, then permanent.
	c.expect("DELETE", "/subjects/b?permanent=true", "", 404, `{"error_code":40405,"message":"Subject 'b' was not deleted first before being permanently deleted"}`)
	c.expect("DELETE", "/subjects/b", "", 200, `[1]`)
	c.expect("DELETE", "/subjects/b", "", 404, `{"error_code":40404,"message":"Subject 'b' was soft deleted.Set permanent=true to delete permanently"}`)
	c.expect("DELETE", "/subjects/b?permanent=true", "", 200, `[1]`)
	c.expect("DELETE", "/subjects/b?permanent=true", "", 404, `{"error_code":40401,"message":"Subject 'b' not found."}`)
	c.expect("DELETE", "/subjects/nope", "", 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`)
	// Re-registering after a permanent delete reuses the schema id.
	c.expect("POST", "/subjects/b/versions", schemaBody(userV1), 200, `{"id":1}`)
	c.expect("GET", "/subjects/b/versions", "", 200, `[1]`)

	mu.Lock()
	defer mu.Unlock()
	want := "a a b a a a b b b"
	if got := strings.Join(changes, " "); got != want {
		t.Errorf("OnChange calls = %q, want %q", got, want)
	}
}

func TestHTTPSubjectNamesWithDotsAndSlashes(t *testing.T) {
	c, _ := newTestClient(t)
	c.expect("POST", "/subjects/deliver.statistics.agr-7-value/versions", schemaBody(userV1), 200, `{"id":1}`)
	c.expect("POST", "/subjects/team%2Fa/versions", schemaBody(userV1), 200, `{"id":1}`)
	c.expect("GET", "/subjects", "", 200, `["deliver.statistics.agr-7-value","team/a"]`)
	c.expect("GET", "/subjects/team%2Fa/versions/latest", "", 200, `{"subject":"team/a","version":1,"id":1,"schema":`+quoted(userV1Norm)+`}`)
	c.expect("GET", "/subjects/deliver.statistics.agr-7-value/versions", "", 200, `[1]`)
	c.expect("POST", "/subjects/a%2F..%2Fb/versions", schemaBody(userV1), 422, `{"error_code":42208,"message":"Invalid subject: name has a \"..\" path segment"}`)
}

func TestConcurrentRegisterOneVersion(t *testing.T) {
	ctx := context.Background()
	r := quietRegistry()
	srv := regServer(t, r)
	c := client{t: t, url: srv.URL}
	const n = 8
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, bodies[i] = c.do("POST", "/subjects/s/versions", schemaBody(userV1))
		}()
	}
	wg.Wait()
	for _, b := range bodies {
		if b != `{"id":1}` {
			t.Fatalf("concurrent register answered %s", b)
		}
	}
	if vs, err := r.Versions(ctx, "s"); err != nil || len(vs) != 1 {
		t.Fatalf("%d versions (%v), want 1", len(vs), err)
	}
}

// TestHTTPGuardRefusal: a version the guard refuses is 409 with error_code
// 40901 and the guard's sentence, under any compatibility level.
func TestHTTPGuardRefusal(t *testing.T) {
	c, _ := newTestClient(t, schemas.WithGuard(func(_ context.Context, _ string, cand avro.Schema) error {
		if rs, ok := cand.(*avro.RecordSchema); ok && len(rs.Fields()) == 1 {
			return nil
		}
		return &schemas.GuardError{Agreement: "a-1", Field: "age", Reason: "agreement a-1 delivers field id, which this version changes"}
	}))
	c.expect("POST", "/subjects/users-value/versions", schemaBody(userV1), 200, `{"id":1}`)
	want := `{"error_code":40901,"message":"schema refused: agreement a-1 delivers field id, which this version changes"}`
	c.expect("POST", "/subjects/users-value/versions", schemaBody(userV2), 409, want)
	c.expect("PUT", "/config/users-value", `{"compatibility":"NONE"}`, 200, `{"compatibility":"NONE"}`)
	c.expect("POST", "/subjects/users-value/versions", schemaBody(userV2), 409, want)
	c.expect("POST", "/compatibility/subjects/users-value/versions/latest?verbose=true", schemaBody(userV2), 200,
		`{"is_compatible":false,"messages":["schema refused: agreement a-1 delivers field id, which this version changes"]}`)
}

// TestHTTPSubjectNamesWithFormatCharacters: a bidi override or a line
// separator in a subject is refused (422, 42208).
func TestHTTPSubjectNamesWithFormatCharacters(t *testing.T) {
	c, _ := newTestClient(t)
	for _, name := range []string{"ingress.health%E2%80%AE.x-value", "a%E2%80%A8b", "a%E2%80%8Bb"} {
		status, got := c.do("POST", "/subjects/"+name+"/versions", schemaBody(userV1))
		if status != 422 || !strings.HasPrefix(got, `{"error_code":42208,`) {
			t.Errorf("%s: %d %s, want 422 42208", name, status, got)
		}
	}
	c.expect("GET", "/subjects", "", 200, `[]`)
}
