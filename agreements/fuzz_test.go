package agreements

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: Load and Validate return problems for any bytes, never panic,
// and every problem is positioned in the file it came from.
//
//	go test ./agreements -run '^$' -fuzz FuzzLoad -fuzztime 60s
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "../deploy/examples/*.yaml"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("kind: Agreement\nfilter: \"record.a in [\"\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load("f.yaml", data)
		if s == nil {
			t.Fatalf("Load returned a nil Set (err %v)", err)
		}
		for _, p := range Validate(s) {
			if p.Pos.File != "f.yaml" && p.Pos.File != "" {
				t.Fatalf("problem in another file: %v", p)
			}
		}
		if _, split, _ := SplitDocuments("f.yaml", data); split == nil {
			t.Fatal("SplitDocuments returned a nil Set")
		}
	})
}

// FuzzParseCEL: any expression text gives errors with sane positions, never a panic.
func FuzzParseCEL(f *testing.F) {
	for _, s := range []string{
		"record.age >= 0 && record.age < 130",
		"record.region in ['north', 'east']",
		"record.age >= && true",
		"'unterminated",
		"((((((((((((((((((((record))))))))))))))))))))",
		"record.a.b.c[0]['x'] ? 1 : 2",
		"size(record.citizen_id) == 11\n  && !has(record.phone)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if len(expr) > MaxExprLen {
			return // Validate refuses these before parsing
		}
		for _, e := range ParseCEL(expr) {
			if e.Line < 1 || e.Column < 0 || e.Message == "" {
				t.Fatalf("bad error %+v for %q", e, expr)
			}
		}
	})
}
