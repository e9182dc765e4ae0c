package schemas

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"
)

// TestUnmodifiedConfluentClient drives the handler with a third-party
// Confluent Schema Registry client (hamba/avro's), configured only with
// the base URL http://HOST:PORT/registry, and checks values framed by one
// side decode on the other.
func TestUnmodifiedConfluentClient(t *testing.T) {
	ctx := context.Background()
	reg := quietRegistry()
	srv := regServer(t, reg)
	cl, err := registry.NewClient(srv.URL + "/registry")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile("testdata/immunisation.avsc")
	if err != nil {
		t.Fatal(err)
	}
	const subject = "ingress.health.immunisations-value"

	id, sch, err := cl.CreateSchema(ctx, subject, string(ref))
	if err != nil || id != 1 || sch == nil {
		t.Fatalf("CreateSchema = %d, %v, %v", id, sch, err)
	}
	if again, _, err := cl.IsRegistered(ctx, subject, string(ref)); err != nil || again != id {
		t.Errorf("IsRegistered = %d, %v", again, err)
	}
	got, err := cl.GetSchema(ctx, id)
	if err != nil || got.Fingerprint() != sch.Fingerprint() {
		t.Errorf("GetSchema = %v, %v", got, err)
	}
	info, err := cl.GetLatestSchemaInfo(ctx, subject)
	if err != nil || info.ID != id || info.Version != 1 {
		t.Errorf("GetLatestSchemaInfo = %+v, %v", info, err)
	}
	if subjects, err := cl.GetSubjects(ctx); err != nil || len(subjects) != 1 || subjects[0] != subject {
		t.Errorf("GetSubjects = %v, %v", subjects, err)
	}
	if versions, err := cl.GetVersions(ctx, subject); err != nil || len(versions) != 1 || versions[0] != 1 {
		t.Errorf("GetVersions = %v, %v", versions, err)
	}
	// hamba's GetCompatibilityLevel reads a "compatibility" field, while
	// Confluent's GET /config answers {"compatibilityLevel": ...} (we follow
	// Confluent; see TestHTTPConfig), so only the setter is exercised here.
	if err := cl.SetCompatibilityLevel(ctx, subject, "FULL"); err != nil {
		t.Fatal(err)
	}
	if lvl, err := reg.SubjectConfig(ctx, subject); err != nil || lvl != Full {
		t.Errorf("level after SetCompatibilityLevel = %q, %v", lvl, err)
	}

	// An incompatible evolution: the client sees Confluent's 409.
	bad := `{"type":"record","name":"Immunisation","namespace":"health","fields":[{"name":"record_id","type":"long"}]}`
	if ok, err := cl.IsCompatible(ctx, subject, bad); err != nil || ok {
		t.Errorf("IsCompatible(bad) = %v, %v", ok, err)
	}
	_, _, err = cl.CreateSchema(ctx, subject, bad)
	var re registry.Error
	if !errors.As(err, &re) || re.StatusCode != 409 || re.Code != 409 {
		t.Errorf("CreateSchema(bad) = %v, want registry.Error 409", err)
	}
	_, err = cl.GetSchema(ctx, 77)
	if !errors.As(err, &re) || re.Code != 40403 {
		t.Errorf("GetSchema(77) = %v, want 40403", err)
	}

	// Our frame, their decoder.
	codecs := NewCodecs(reg)
	frame, err := codecs.Encode(ctx, id, referenceRecord())
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := registry.NewDecoder(cl).Decode(ctx, frame, &v); err != nil || v["citizen_id"] != "CZ-8841-2290-17" {
		t.Fatalf("client decoder: %v, %v", v, err)
	}
	// Their encoding under the schema they fetched, our decoder.
	body, err := avro.Marshal(got, referenceRecord())
	if err != nil {
		t.Fatal(err)
	}
	_, dv, err := codecs.Decode(ctx, append(AppendFrame(nil, id), body...))
	if err != nil || dv.(map[string]any)["record_id"] != "imm-2026-000123" {
		t.Fatalf("our decoder on their frame: %v, %v", dv, err)
	}

	if deleted, err := cl.DeleteSubject(ctx, subject); err != nil || len(deleted) != 1 || deleted[0] != 1 {
		t.Errorf("DeleteSubject = %v, %v", deleted, err)
	}
}
