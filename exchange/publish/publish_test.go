package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
	"github.com/segmentio/kafka-go"
)

// recordingWriter keeps what it is given; fail decides per message.
type recordingWriter struct {
	got   []kafka.Message
	calls int
	fail  func(m kafka.Message) error
	whole error
}

func (w *recordingWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	w.calls++
	if w.whole != nil {
		return w.whole
	}
	var errs kafka.WriteErrors
	failed := false
	for _, m := range msgs {
		var err error
		if w.fail != nil {
			err = w.fail(m)
		}
		if err != nil {
			failed = true
		} else {
			w.got = append(w.got, m)
		}
		errs = append(errs, err)
	}
	if failed {
		return errs
	}
	return nil
}

const smallSchema = `{"type":"record","name":"Visit","namespace":"health","fields":[
  {"name":"record_id","type":"string"},
  {"name":"age","type":"int"}]}`

func smallEncoder(t *testing.T) *Encoder {
	t.Helper()
	_, enc := testEncoder(t, "ingress.health.visits-value", 5, smallSchema)
	return enc
}

// testEncoder parses schema (id) as the latest version of subject and
// returns it with an Encoder keyed the default way.
func testEncoder(tb testing.TB, subject string, id int, schema string) (*schemas.SchemaVersion, *Encoder) {
	tb.Helper()
	s, err := registryhttp.ParseSchema(subject, 1, id, schema)
	if err != nil {
		tb.Fatal(err)
	}
	enc, err := NewEncoder(s, "")
	if err != nil {
		tb.Fatal(err)
	}
	return s, enc
}

func TestRunReportsLinesAndPublishesTheRest(t *testing.T) {
	input := strings.Join([]string{
		`{"record_id":"a","age":1}`,
		``,
		`{"record_id":"b","age":"abc"}`,
		`   `,
		`not json`,
		`{"record_id":"c","age":3}`,
		`{"record_id":"d","age":4}`, // no trailing newline
	}, "\n")
	w := &recordingWriter{}
	var errs []string
	var progress []Summary
	sum, err := Run(context.Background(), strings.NewReader(input), smallEncoder(t), w,
		WithBatchSize(2),
		WithLineErrors(func(e *LineError) { errs = append(errs, e.Error()) }),
		WithProgress(func(s Summary) { progress = append(progress, s) }))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantErrs := []string{
		`line 3: field "age": expected int, got string "abc"`,
		`line 5: invalid JSON: invalid character 'o' in literal null (expecting 'u')`,
	}
	if strings.Join(errs, "\n") != strings.Join(wantErrs, "\n") {
		t.Fatalf("line errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
	if sum.Lines != 5 || sum.Published != 3 || sum.Errors != 2 || sum.Bytes != int64(len(input)) {
		t.Fatalf("summary = %+v, want 5 lines, 3 published, 2 errors, %d bytes", sum, len(input))
	}
	var keys []string
	for _, m := range w.got {
		keys = append(keys, string(m.Key))
	}
	if strings.Join(keys, ",") != "a,c,d" {
		t.Fatalf("published keys %v, want a,c,d in order", keys)
	}
	if w.calls != 2 || len(progress) != 2 || progress[1].Published != 3 {
		t.Fatalf("writer calls = %d, progress = %+v; want 2 batches (2 + 1)", w.calls, progress)
	}
}

func TestRunProduceErrorsNameTheirLines(t *testing.T) {
	input := "{\"record_id\":\"a\",\"age\":1}\n{\"record_id\":\"b\",\"age\":2}\n{\"record_id\":\"c\",\"age\":3}\n"
	w := &recordingWriter{fail: func(m kafka.Message) error {
		if string(m.Key) == "b" {
			return kafka.MessageSizeTooLarge
		}
		return nil
	}}
	var errs []string
	sum, err := Run(context.Background(), strings.NewReader(input), smallEncoder(t), w,
		WithLineErrors(func(e *LineError) { errs = append(errs, e.Error()) }))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Published != 2 || sum.Errors != 1 {
		t.Fatalf("summary = %+v, want 2 published, 1 error", sum)
	}
	want := "line 2: produce: " + kafka.MessageSizeTooLarge.Error()
	if len(errs) != 1 || errs[0] != want {
		t.Fatalf("errors = %q, want [%q]", errs, want)
	}
}

func TestRunStopsWhenTheBrokersRefuseABatch(t *testing.T) {
	input := "{\"record_id\":\"a\",\"age\":1}\n{\"record_id\":\"b\",\"age\":2}\n{\"record_id\":\"c\",\"age\":3}\n"
	refused := errors.New("dial tcp 127.0.0.1:1: connection refused")
	w := &recordingWriter{whole: refused}
	sum, err := Run(context.Background(), strings.NewReader(input), smallEncoder(t), w, WithBatchSize(2))
	if !errors.Is(err, refused) || err.Error() != "producing lines 1-2: "+refused.Error() {
		t.Fatalf("error = %v, want producing lines 1-2: ...", err)
	}
	if sum.Published != 0 || sum.Errors != 2 || w.calls != 1 {
		t.Fatalf("summary = %+v after %d calls, want 2 errors after 1 call", sum, w.calls)
	}
}

func TestRunLongLine(t *testing.T) {
	long := `{"record_id":"` + strings.Repeat("x", MaxLineBytes) + `","age":1}`
	input := long + "\n" + `{"record_id":"ok","age":2}` + "\n"
	w := &recordingWriter{}
	var errs []string
	sum, err := Run(context.Background(), strings.NewReader(input), smallEncoder(t), w,
		WithLineErrors(func(e *LineError) { errs = append(errs, e.Error()) }))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("line 1: line is longer than %d bytes", MaxLineBytes)
	if sum.Published != 1 || len(errs) != 1 || errs[0] != want {
		t.Fatalf("summary %+v, errors %q; want 1 published and %q", sum, errs, want)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, strings.NewReader(`{"record_id":"a","age":1}`), smallEncoder(t), &recordingWriter{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}
