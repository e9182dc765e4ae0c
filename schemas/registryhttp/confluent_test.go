package registryhttp

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"

	"github.com/exchange-gov/exchange/schemas"
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
	ref, err := os.ReadFile("../testdata/immunisation.avsc")
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
	if lvl, err := reg.SubjectConfig(ctx, subject); err != nil || lvl != schemas.Full {
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
	ours, err := reg.SchemaByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	body, err := avro.Marshal(ours.Avro, referenceRecord())
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := registry.NewDecoder(cl).Decode(ctx, append(schemas.AppendFrame(nil, id), body...), &v); err != nil || v["citizen_id"] != "CZ-8841-2290-17" {
		t.Fatalf("client decoder: %v, %v", v, err)
	}
	// Their encoding under the schema they fetched, our frame parser and
	// the schema we hold under the id.
	body, err = avro.Marshal(got, referenceRecord())
	if err != nil {
		t.Fatal(err)
	}
	gotID, gotBody, err := schemas.ParseFrame(append(schemas.AppendFrame(nil, id), body...))
	if err != nil || gotID != id {
		t.Fatalf("ParseFrame on their frame: id %d, %v", gotID, err)
	}
	var dv map[string]any
	if err := avro.Unmarshal(ours.Avro, gotBody, &dv); err != nil || dv["record_id"] != "imm-2026-000123" {
		t.Fatalf("our schema on their body: %v, %v", dv, err)
	}

	if deleted, err := cl.DeleteSubject(ctx, subject); err != nil || len(deleted) != 1 || deleted[0] != 1 {
		t.Errorf("DeleteSubject = %v, %v", deleted, err)
	}
}

// referenceRecord is a realistic immunisation record in the shape
// hamba/avro decodes to.
func referenceRecord() map[string]any {
	return map[string]any{
		"record_id":       "imm-2026-000123",
		"citizen_id":      "CZ-8841-2290-17",
		"given_name":      "Aroha",
		"family_name":     "Ngata",
		"age":             34,
		"postcode":        "6011",
		"region":          "Wellington",
		"vaccine":         "MMR",
		"dose_number":     2,
		"lot_number":      "LOT-77A1",
		"administered_at": time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC),
		"phone":           "+64 21 555 0199",
		"clinic":          map[string]any{"id": "clinic-041", "region": "Wellington"},
		"adverse_event":   false,
		"weight_grams":    int64(71200),
	}
}
