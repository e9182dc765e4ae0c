package publish

import (
	"testing"

	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// BenchmarkEncode measures one JSON line to a framed Avro value, the
// per-record cost of `exchange publish` before Kafka.
func BenchmarkEncode(b *testing.B) {
	s, err := registryhttp.ParseSchema("ingress.health.people-value", 1, 1, personSchema)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := NewEncoder(s, "")
	if err != nil {
		b.Fatal(err)
	}
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
