package publish

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func peopleSchema(t testing.TB) *schemas.SchemaVersion {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "people.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := registryhttp.ParseSchema("ingress.health.people-value", 1, 9, string(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runCSV runs the CSV file through Run into a recording writer and returns
// the writer, the summary, the line errors and Run's error.
func runCSV(t *testing.T, enc *Encoder, csvText string) (*recordingWriter, Summary, []string, error) {
	t.Helper()
	w := &recordingWriter{}
	var errs []string
	sum, err := Run(context.Background(), strings.NewReader(csvText), enc, w, WithFormat(CSV), WithBatchSize(4),
		WithLineErrors(func(e *LineError) { errs = append(errs, e.Error()) }))
	return w, sum, errs, err
}

func TestCSVConvertsEveryType(t *testing.T) {
	s := peopleSchema(t)
	enc, err := NewEncoder(s, "")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join("testdata", "people_good.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w, sum, errs, err := runCSV(t, enc, string(text))
	if err != nil || len(errs) > 0 || sum.Published != 3 || sum.Lines != 3 {
		t.Fatalf("Run: err %v, line errors %q, summary %+v", err, errs, sum)
	}
	var got []map[string]any
	for _, m := range w.got {
		var v map[string]any
		if err := avro.Unmarshal(s.Avro, m.Value[schemas.FrameHeaderSize:], &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if k := string(w.got[2].Key); k != `r-3, with "quotes"` {
		t.Errorf("key of row 3 = %q", k)
	}
	r1, r2, r3 := got[0], got[1], got[2]
	checks := []struct {
		name      string
		got, want any
	}{
		{"age", r1["age"], 41},
		{"visits long", r1["visits"], int64(9000000000)},
		{"score nullable double", r1["score"], 1.5},
		{"ratio float", r1["ratio"], float32(0.25)},
		{"active", r1["active"], true},
		{"status enum", r1["status"], "ACTIVE"},
		{"birth_date", r1["birth_date"], time.Date(1983, 4, 5, 0, 0, 0, 0, time.UTC)},
		{"seen_at", r1["seen_at"], time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)},
		{"seen_us nullable micros", r1["seen_us"], time.Date(2024, 5, 1, 10, 0, 0, 123456e3, time.UTC)},
		{"amount decimal", r1["amount"].(*big.Rat).FloatString(2), "12.50"},
		{"uuid", r1["person_uuid"], "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"nickname", r1["nickname"], "Bo"},
		{"photo bytes", string(r1["photo"].([]byte)), "abc"},
		{"tags JSON cell", fmt.Sprint(r1["tags"]), "[a b]"},
		{"empty nullable → null", r2["score"], nil},
		{"empty nullable string → null", r2["nickname"], nil},
		{"date as epoch days", r2["birth_date"], time.Unix(19000*86400, 0).UTC()},
		{"timestamp as epoch millis", r2["seen_at"], time.UnixMilli(1714557600000).UTC()},
		{"spaces around an int", r3["age"], 12},
		{"exponent double", r3["score"], -2000.0},
		{"NaN float", math.IsNaN(float64(r3["ratio"].(float32))), true},
		{"TRUE boolean", r3["active"], true},
		{"offset timestamp in UTC", r3["seen_at"], time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"quoted newline", r3["nickname"], "multi\nline"},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v (%T), want %v", c.name, c.got, c.got, c.want)
		}
	}
}

// TestCSVBadFileGolden: every bad row of testdata/people_bad.csv is reported
// with its line, column and field, and only the good rows are published.
func TestCSVBadFileGolden(t *testing.T) {
	enc, err := NewEncoder(peopleSchema(t), "")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join("testdata", "people_bad.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w, sum, errs, err := runCSV(t, enc, string(text))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var out strings.Builder
	for _, e := range errs {
		out.WriteString(e + "\n")
	}
	fmt.Fprintf(&out, "published %d records, %d errors\n", sum.Published, sum.Errors)
	for _, m := range w.got {
		fmt.Fprintf(&out, "published key %s\n", m.Key)
	}
	golden := filepath.Join("testdata", "people_bad.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", golden, out.String(), want)
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	cases := []struct {
		name, csv, key, want string
	}{
		{"unknown column", "record_id,age,colour\n", "",
			`line 1 (CSV header): column 3 "colour" is not a field of record health.Visit`},
		{"required field missing", "record_id\n", "",
			`line 1 (CSV header): no column for required field(s) age (record health.Visit; only fields with a default may be left out)`},
		{"duplicate column", "record_id,age,age\n", "",
			`line 1 (CSV header): columns 2 and 3 both fill field "age"`},
		{"empty input", "", "", `line 1: empty input, expected a CSV header row`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, _, _, err := runCSV(t, smallEncoder(t), c.csv)
			if err == nil || err.Error() != c.want {
				t.Fatalf("err = %v\nwant  %s", err, c.want)
			}
			if len(w.got) != 0 {
				t.Fatalf("published %d records after a header error", len(w.got))
			}
		})
	}
	// A BOM before the header (spreadsheet exports) is not part of the name.
	_, sum, errs, err := runCSV(t, smallEncoder(t), "\uFEFFrecord_id,age\na,1\n")
	if err != nil || sum.Published != 1 || len(errs) > 0 {
		t.Fatalf("with a BOM: err %v, summary %+v, errors %q", err, sum, errs)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"csv": CSV, "CSV": CSV, "jsonl": JSONLines, "json": JSONLines} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("ParseFormat(xml): %v", err)
	}
}
