package agreements

import "testing"

func TestSensitiveDelivery(t *testing.T) {
	pos := Pos{File: "a.yaml", Line: 4, Column: 9}
	for kind, want := range map[TransformKind]string{
		Keep:         "a.yaml:4:9: agreement a-1: sensitive field f may not be delivered with keep (hint: deliver it with pseudonymize, redact, truncate, mask or generalize, or leave it out)",
		Hash:         "a.yaml:4:9: agreement a-1: sensitive field f may not be delivered with hash (hint: an unkeyed hash of a sensitive value can be reversed by hashing candidates; use pseudonymize (keyed per agreement))",
		Pseudonymize: "",
		Redact:       "",
		Mask:         "",
		Generalize:   "",
		Truncate:     "",
	} {
		p, refused := SensitiveDelivery("a-1", FieldRule{Name: "f", Transform: Transform{Kind: kind}}, pos)
		if refused != (want != "") || (refused && p.String() != want) {
			t.Errorf("%s: got %v %q\nwant %q", kind, refused, p.String(), want)
		}
	}
}
