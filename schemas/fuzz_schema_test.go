package schemas

import (
	"os"
	"testing"
)

// FuzzParseSchema feeds arbitrary schema texts to the registry's parser.
// Properties: no panic; an accepted schema's normalised text parses back
// to the same text (so fingerprints survive a reload from the store); and
// every accepted schema is FULL-compatible with itself.
func FuzzParseSchema(f *testing.F) {
	for _, p := range []string{"testdata/immunisation.avsc", "testdata/kitchensink.avsc"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		userV1, userV2, rec(fID, fVacc2Def, fPhone3, fClinic),
		recNamed("Vaccination", `"health.Immunisation"`, fID, `{"name":"age_years","aliases":["age"],"type":"int"}`),
		`"int"`, `["null","string"]`, `{"type":"map","values":{"type":"array","items":"long"}}`,
		`{"type":"fixed","name":"F","size":16,"logicalType":"decimal","precision":4,"scale":2}`,
		`{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}`,
		`{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}`,
		`{"type":"record","name":"R","fields":[{"name":"a","type":"string","default":"\u0000"}]}`,
		`[`, `{}`, `null`, `"Unknown"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := parseSchema(text, maxSchemaDepth)
		if err != nil {
			return
		}
		again, err := parseSchema(p.text, maxSchemaDepth)
		if err != nil {
			t.Fatalf("normalised text %s does not parse: %v", p.text, err)
		}
		if again.text != p.text || again.fingerprint != p.fingerprint {
			t.Fatalf("normalisation is not stable:\n%s\n%s", p.text, again.text)
		}
		if msgs := checkPair(FullTransitive, p.schema, p.schema, 1); len(msgs) > 0 {
			t.Fatalf("schema incompatible with itself: %v\n%s", msgs, p.text)
		}
	})
}
