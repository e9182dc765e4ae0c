package policy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/calendar"
	"github.com/exchange-gov/exchange/schemas"
)

// Test fixtures: the immunisations dataset of the health agency, built from
// the model structs, with its schema (two versions) in testdata.

const (
	dsImm     = "health.immunisations"
	subjImm   = "ingress.health.immunisations-value"
	idImmV1   = 11
	idImmV2   = 12
	idOther   = 21 // a version of another subject
	agreeID   = "test-health-to-social"
	consumer  = "social-services"
	fixedSeed = "agreement-key-"
)

var (
	testNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	// administered two minutes before testNow
	testAdministered = testNow.Add(-2 * time.Minute)
)

func mustSchema(t testing.TB, path string) avro.Schema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := avro.ParseWithCache(string(b), "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

func otherSchema(t testing.TB) avro.Schema {
	s, err := avro.ParseWithCache(`{"type":"record","name":"Return","namespace":"gov.tax","fields":[{"name":"tin","type":"string"}]}`, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testKey(id string) []byte { return []byte(fixedSeed + id) }

func immContract() agreements.DataContract {
	return agreements.DataContract{
		Dataset:     dsImm,
		Owner:       "health",
		Subject:     subjImm,
		DataSubject: "citizen_id",
		Fields: []agreements.FieldClass{
			{Name: "record_id", Class: agreements.Internal},
			{Name: "citizen_id", Class: agreements.Sensitive},
			{Name: "given_name", Class: agreements.Personal},
			{Name: "family_name", Class: agreements.Personal},
			{Name: "birth_date", Class: agreements.Personal},
			{Name: "age", Class: agreements.Personal},
			{Name: "sex", Class: agreements.Personal},
			{Name: "postcode", Class: agreements.Personal},
			{Name: "region", Class: agreements.Public},
			{Name: "phone", Class: agreements.Personal},
			{Name: "vaccine_code", Class: agreements.Public},
			{Name: "dose_number", Class: agreements.Public},
			{Name: "administered_at", Class: agreements.Internal},
			{Name: "clinic", Class: agreements.Internal},
			{Name: "weight_kg", Class: agreements.Personal},
		},
		Quality: []agreements.QualityRule{
			{Name: "age_in_range", Rule: "record.age >= 0 && record.age < 130", Severity: agreements.SeverityError},
			{Name: "dose_positive", Rule: "record.dose_number > 0", Severity: agreements.SeverityError},
		},
		Freshness: &agreements.Freshness{
			EventTime: "administered_at", MaxAge: calendar.Wall(15 * time.Minute),
			ExpectedEvery: calendar.Wall(time.Hour), OnStale: agreements.StaleQuarantine,
		},
	}
}

// immAgreement is the benchmark's agreement: a projection with one
// pseudonymised field and one generalised date.
func immAgreement() agreements.Agreement {
	return agreements.Agreement{
		ID:         agreeID,
		Provider:   dsImm,
		Consumer:   consumer,
		Purpose:    "Eligibility assessment for the child benefit",
		LegalBasis: "Social Services Act 2019, s.12(3)",
		ValidFrom:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidUntil: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		Fields: []agreements.FieldRule{
			{Name: "record_id", Transform: agreements.Transform{Kind: agreements.Keep}},
			{Name: "citizen_id", Transform: agreements.Transform{Kind: agreements.Pseudonymize}},
			{Name: "administered_at", Transform: agreements.Transform{Kind: agreements.Generalize, Unit: "month"}},
			{Name: "region", Transform: agreements.Transform{Kind: agreements.Keep}},
			{Name: "age", Transform: agreements.Transform{Kind: agreements.Keep}},
			{Name: "vaccine_code", Transform: agreements.Transform{Kind: agreements.Keep}},
		},
		Status: agreements.StatusActive,
	}
}

func immInput(t testing.TB) Input {
	return Input{
		Contracts:  []agreements.DataContract{immContract()},
		Agreements: []agreements.Agreement{immAgreement()},
		Schemas: []schemas.SchemaVersion{
			{ID: idImmV1, Subject: subjImm, Version: 1, Avro: mustSchema(t, "testdata/immunisation.v1.avsc")},
			{ID: idImmV2, Subject: subjImm, Version: 2, Avro: mustSchema(t, "testdata/immunisation.v2.avsc")},
			{ID: idOther, Subject: "ingress.tax.returns-value", Version: 1, Avro: otherSchema(t)},
		},
		PseudonymKey: testKey,
		SubjectKey:   []byte("subject-key"),
		Version:      "test-1",
	}
}

func mustCompile(t testing.TB, in Input, opts ...Option) *Plan {
	t.Helper()
	p, err := Compile(in, opts...)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

// immRecord is a valid record as a generic map (hamba encodes it).
func immRecord() map[string]any {
	return map[string]any{
		"record_id":       "rec-0001",
		"citizen_id":      "19850412-1234",
		"given_name":      "Åsa",
		"family_name":     "Lindqvist",
		"birth_date":      time.Date(1985, 4, 12, 0, 0, 0, 0, time.UTC),
		"age":             41,
		"sex":             "F",
		"postcode":        "11452",
		"region":          "north",
		"phone":           "+46701234567",
		"vaccine_code":    "J07BX03",
		"dose_number":     2,
		"administered_at": testAdministered,
		"clinic": map[string]any{
			"clinic_id": "CL-17", "name": "Norrmalm vårdcentral", "lat": 59.335, "lon": 18.063,
		},
		"weight_kg": 71.5,
	}
}

func encodeRec(t testing.TB, s avro.Schema, m map[string]any) []byte {
	t.Helper()
	b, err := avro.Marshal(s, m)
	if err != nil {
		t.Fatalf("encoding test record: %v", err)
	}
	return b
}

func immBody(t testing.TB, edit func(m map[string]any)) []byte {
	m := immRecord()
	if edit != nil {
		edit(m)
	}
	return encodeRec(t, mustSchema(t, "testdata/immunisation.v2.avsc"), m)
}

// decodeDelivered checks the wire frame and decodes a delivered value.
func decodeDelivered(t testing.TB, info AgreementInfo, v []byte) map[string]any {
	t.Helper()
	if len(v) < 5 || v[0] != 0 {
		t.Fatalf("delivered value is not in the wire format: % x", v)
	}
	id := int(v[1])<<24 | int(v[2])<<16 | int(v[3])<<8 | int(v[4])
	if id != info.SchemaID {
		t.Fatalf("wire schema id %d, want derived id %d", id, info.SchemaID)
	}
	var m map[string]any
	if err := avro.Unmarshal(info.Schema, v[5:], &m); err != nil {
		t.Fatalf("delivered value does not decode under the derived schema: %v", err)
	}
	return m
}

func hmacHex(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func parseSchema(s string) (avro.Schema, error) {
	return avro.ParseWithCache(s, "", &avro.SchemaCache{})
}

func v2JSON(t testing.TB) string {
	b, err := os.ReadFile("testdata/immunisation.v2.avsc")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func qualityRuleOnNested() agreements.QualityRule {
	return agreements.QualityRule{Name: "clinic_named", Rule: "record.clinic.name != ''", Severity: agreements.SeverityWarn}
}

type avroSchema = avro.Schema

var errRegistryDown = errors.New("registry down")

type avroField = avro.Field
