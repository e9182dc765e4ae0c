package agreements

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMarshalAgreementRoundTrip: every agreement of the examples and of
// the good test files, written by MarshalAgreement and loaded again, has
// the same terms (content hash), the same status, and validates as the
// original did.
func TestMarshalAgreementRoundTrip(t *testing.T) {
	var paths []string
	for _, glob := range []string{"../deploy/examples/*.yaml", "testdata/*.good.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	set, err := LoadFiles(paths...)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Agreements) < 6 {
		t.Fatalf("only %d agreements loaded", len(set.Agreements))
	}
	for i := range set.Agreements {
		a := &set.Agreements[i]
		y, err := MarshalAgreement(a, "written by a test\nsecond line")
		if err != nil {
			t.Fatalf("%s: %v", a.ID, err)
		}
		if !strings.HasPrefix(string(y), "# written by a test\n# second line\n") {
			t.Errorf("%s: no head comment:\n%s", a.ID, y)
		}
		back, err := Load(a.ID+".yaml", y)
		if err != nil || len(back.Agreements) != 1 {
			t.Fatalf("%s: loading the written YAML: %v\n%s", a.ID, err, y)
		}
		b := &back.Agreements[0]
		if b.ContentHash() != a.ContentHash() || b.Status != a.Status {
			t.Errorf("%s: round trip changed the terms or status:\n%s", a.ID, y)
		}
		if len(b.Approvals) != 0 || len(b.History) != 0 {
			t.Errorf("%s: approvals or history written", a.ID)
		}
	}
}

// TestMarshalAgreementRefusesUnknownTransform: a transform the loader
// would not read is an error, not a document.
func TestMarshalAgreementRefusesUnknownTransform(t *testing.T) {
	a := &Agreement{ID: "x", Fields: []FieldRule{{Name: "f", Transform: Transform{Kind: "shred"}}}}
	if _, err := MarshalAgreement(a, ""); err == nil || !strings.Contains(err.Error(), `field f: unknown transform "shred"`) {
		t.Fatalf("unknown transform: %v", err)
	}
}
