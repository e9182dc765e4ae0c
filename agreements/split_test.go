package agreements

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestSplitDocuments(t *testing.T) {
	src := "# agencies and an agreement\n" +
		"kind: Agency\nid: health\nname: Health\nstewards: [ann]\n" +
		"---\n" +
		"# only a comment\n" +
		"--- # next\n" +
		"kind: Agreement\nid: a-1\nstatus: proposed\nfields:\n  x: kepe\n  y: {truncate: two}\n" +
		"---\n" +
		"kind: Agreement\nid: a-2\nunknown: 1\n"
	docs, set, err := SplitDocuments("f.yaml", []byte(src))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	// Positions are lines of the whole file, not of the document.
	want := "f.yaml:14:17: truncate of field y must be an integer, not \"two\" (hint: write a whole number such as 2)\n" +
		"f.yaml:18:1: unknown key \"unknown\" in Agreement (hint: expected one of: kind, id, provider, consumer, purpose, legal_basis, valid_from, valid_until, fields, filter, freshness, status, approvals, history)"
	if ps.Error() != want {
		t.Errorf("problems:\n%s\nwant:\n%s", ps.Error(), want)
	}
	if _, whole := Load("f.yaml", []byte(src)); whole == nil || whole.Error() != ps.Error() {
		t.Errorf("Load of the whole file reports\n%v\nSplitDocuments reports\n%v", whole, ps)
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want 3: %+v", len(docs), docs)
	}
	if d := docs[0]; d.Kind != KindAgency || d.ID != "health" || d.Line != 1 || !strings.HasPrefix(string(d.YAML), "# agencies") {
		t.Errorf("doc 0 = %+v", d)
	}
	if d := docs[1]; d.Kind != KindAgreement || d.ID != "a-1" || d.Status != StatusProposed || d.Line != 9 || !strings.HasPrefix(string(d.YAML), "kind: Agreement\nid: a-1") {
		t.Errorf("doc 1 = %+v (%q)", d, d.YAML)
	}
	if d := docs[2]; d.ID != "a-2" || d.Line != 16 || strings.Contains(string(d.YAML), "---") {
		t.Errorf("doc 2 = %+v", d)
	}
	if len(set.Agencies) != 1 || len(set.Agreements) != 2 {
		t.Errorf("set has %d agencies, %d agreements", len(set.Agencies), len(set.Agreements))
	}
	// Validate positions also refer to the file: a-1's unknown transform.
	for _, p := range Validate(set) {
		if strings.Contains(p.Message, `unknown transform "kepe"`) && p.Pos.Line != 13 {
			t.Errorf("unknown transform reported at %v, want line 14", p.Pos)
		}
	}
}

func TestSplitDocumentsMatchesLoad(t *testing.T) {
	for _, path := range []string{"testdata/every-transform.good.yaml", "../deploy/examples/agencies.yaml"} {
		whole, err := LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, split, err := SplitDocuments(path, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(whole.Agreements) != len(split.Agreements) || len(whole.Agencies) != len(split.Agencies) || len(whole.Contracts) != len(split.Contracts) {
			t.Fatalf("%s: split decoded a different set", path)
		}
		for i := range whole.Agreements {
			if whole.Agreements[i].Pos != split.Agreements[i].Pos || whole.Agreements[i].KeyPos["filter"] != split.Agreements[i].KeyPos["filter"] {
				t.Errorf("%s: agreement %d at %v / filter %v, split says %v / %v", path, i, whole.Agreements[i].Pos, whole.Agreements[i].KeyPos["filter"], split.Agreements[i].Pos, split.Agreements[i].KeyPos["filter"])
			}
		}
		for i := range whole.Agencies {
			if whole.Agencies[i].Pos != split.Agencies[i].Pos {
				t.Errorf("%s: agency %d at %v, split says %v", path, i, whole.Agencies[i].Pos, split.Agencies[i].Pos)
			}
		}
	}
}
