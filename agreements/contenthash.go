package agreements

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// termsDoc is the canonical form of an agreement's terms: everything a
// steward approves, nothing the lifecycle changes. Field order is fixed by
// the struct; the allow-list keeps its file order (it is part of the text a
// steward reads).
type termsDoc struct {
	ID            string      `json:"id"`
	Provider      string      `json:"provider"`
	Consumer      string      `json:"consumer"`
	Purpose       string      `json:"purpose"`
	LegalBasis    string      `json:"legal_basis"`
	ValidFrom     string      `json:"valid_from"`
	ValidUntil    string      `json:"valid_until"`
	Fields        []termField `json:"fields"`
	Filter        string      `json:"filter"`
	MaxAge        string      `json:"max_age"`
	ExpectedEvery string      `json:"expected_every"`
	Calendar      string      `json:"calendar"`
}

type termField struct {
	Name   string `json:"name"`
	Kind   string `json:"transform"`
	N      int    `json:"n,omitempty"`
	Unit   string `json:"unit,omitempty"`
	Bucket string `json:"bucket,omitempty"`
}

// ContentHash is the hex SHA-256 of the agreement's terms (parties,
// purpose, legal basis, validity, fields and their transforms, filter,
// freshness and silence limits, calendar), independent of its status,
// approvals, history, YAML layout and comments. An approval is of one
// content hash: any change of terms changes it, and the approval no longer
// applies.
func (a *Agreement) ContentHash() string {
	d := termsDoc{
		ID: a.ID, Provider: a.Provider, Consumer: a.Consumer,
		Purpose: a.Purpose, LegalBasis: a.LegalBasis,
		ValidFrom: timeText(a.ValidFrom), ValidUntil: timeText(a.ValidUntil),
		Filter: a.Filter, Calendar: a.Calendar,
		Fields: make([]termField, 0, len(a.Fields)),
	}
	if !a.MaxAge.IsZero() {
		d.MaxAge = a.MaxAge.String()
	}
	if !a.ExpectedEvery.IsZero() {
		d.ExpectedEvery = a.ExpectedEvery.String()
	}
	for _, f := range a.Fields {
		d.Fields = append(d.Fields, termField{Name: f.Name, Kind: string(f.Transform.Kind), N: f.Transform.N, Unit: f.Transform.Unit, Bucket: bucketText(f.Transform.Bucket)})
	}
	b, _ := json.Marshal(d) // strings and ints only: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func bucketText(b float64) string {
	if b == 0 {
		return ""
	}
	return strconv.FormatFloat(b, 'g', -1, 64)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
