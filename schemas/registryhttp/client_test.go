package registryhttp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

const visitSchema = `{"type":"record","name":"Visit","namespace":"health","fields":[
  {"name":"record_id","type":"string"},
  {"name":"age","type":"int"}]}`

// TestFetchLatest reads through this package's own handler, so the client
// and the server agree on Confluent's API.
func TestFetchLatest(t *testing.T) {
	ctx := context.Background()
	reg := quietRegistry()
	srv := regServer(t, reg)
	const subject = "ingress.health.visits-value"
	if _, err := reg.Register(ctx, subject, `{"type":"record","name":"Visit","namespace":"health","fields":[{"name":"record_id","type":"string"}]}`); err != nil {
		t.Fatal(err)
	}
	id, err := reg.Register(ctx, subject, strings.Replace(visitSchema, `"int"}`, `"int","default":0}`, 1))
	if err != nil {
		t.Fatal(err)
	}
	s, err := FetchLatest(ctx, srv.Client(), srv.URL+"/registry/", subject)
	if err != nil {
		t.Fatalf("FetchLatest: %v", err)
	}
	if s.ID != id || s.Version != 2 || s.Subject != subject || s.Avro.(*avro.RecordSchema).FullName() != "health.Visit" {
		t.Fatalf("got %s id %d version %d schema %s", s.Subject, s.ID, s.Version, s.Avro.String())
	}
	_, err = FetchLatest(ctx, srv.Client(), srv.URL+"/registry", "ingress.health.nope-value")
	want := `registry ` + srv.URL + `/registry: subject "ingress.health.nope-value": Subject 'ingress.health.nope-value' not found. (HTTP 404, error 40401)`
	if err == nil || err.Error() != want {
		t.Fatalf("missing subject error = %v\nwant %s", err, want)
	}
}

// TestFetchLatestUnparsable: another registry may hold a text hamba/avro
// does not parse; the error names subject, version and id.
func TestFetchLatestUnparsable(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentTypeV1)
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": "s-value", "version": 2, "id": 1,
			"schema": `{"type":"record","name":"X","fields":[{"name":"a","type":"nosuch"}]}`})
	}))
	t.Cleanup(bad.Close)
	if _, err := FetchLatest(context.Background(), bad.Client(), bad.URL+"/registry", "s-value"); err == nil ||
		!strings.HasPrefix(err.Error(), `subject "s-value" version 2 (id 1): parsing the Avro schema: `) {
		t.Fatalf("bad schema error = %v", err)
	}
}

// TestFetchByID reads a schema by the id of a wire frame through this
// package's own handler; an unknown id names it with the registry's message.
func TestFetchByID(t *testing.T) {
	ctx := context.Background()
	reg := quietRegistry()
	srv := regServer(t, reg)
	id, err := reg.Register(ctx, "ingress.health.visits-value", visitSchema)
	if err != nil {
		t.Fatal(err)
	}
	s, err := FetchByID(ctx, srv.Client(), srv.URL+"/registry/", id)
	if err != nil {
		t.Fatalf("FetchByID: %v", err)
	}
	if s.ID != id || s.Avro.(*avro.RecordSchema).FullName() != "health.Visit" {
		t.Fatalf("got id %d schema %s", s.ID, s.Avro.String())
	}
	_, err = FetchByID(ctx, srv.Client(), srv.URL+"/registry", id+100)
	if err == nil || !strings.HasPrefix(err.Error(), "registry "+srv.URL+"/registry: schema id "+strconv.Itoa(id+100)+": ") ||
		!strings.Contains(err.Error(), "(HTTP 404, error 40403)") {
		t.Fatalf("unknown id error = %v", err)
	}
}
