package publish

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
)

// BenchmarkEncode measures one JSON line to a framed Avro value, the
// per-record cost of `exchange publish` before Kafka.
func BenchmarkEncode(b *testing.B) {
	_, enc := testEncoder(b, "ingress.health.people-value", 1, personSchema)
	line := []byte(`{"record_id":"r-1","age":41,"nickname":{"string":"Bo"},"status":"ACTIVE","born":"1983-04-05",` +
		`"seen_at":"2024-05-01T10:00:00.123Z","address":{"city":"Oslo","zip":5003},"tags":["a","b","c"]}`)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := enc.Encode(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCSVRun measures Run over CSV rows of personSchema (header
// mapping, cell typing, conversion, encoding) with a writer that keeps
// nothing: the per-row cost of `exchange publish --format csv` before Kafka.
func BenchmarkCSVRun(b *testing.B) {
	_, enc := testEncoder(b, "ingress.health.people-value", 1, personSchema)
	const rows = 1000
	var in strings.Builder
	in.WriteString("record_id,age,nickname,status,born,seen_at,address,tags\n")
	for i := range rows {
		fmt.Fprintf(&in, `r-%d,41,Bo,ACTIVE,1983-04-05,2024-05-01T10:00:00.123Z,"{""city"":""Oslo"",""zip"":5003}","[""a"",""b""]"`+"\n", i)
	}
	text := in.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		sum, err := Run(context.Background(), strings.NewReader(text), enc, discardWriter{}, WithFormat(CSV))
		if err != nil || sum.Published != rows {
			b.Fatalf("Run: %+v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
}

type discardWriter struct{}

func (discardWriter) WriteMessages(context.Context, ...kafka.Message) error { return nil }
