// Package publish turns JSON lines or CSV into records on a dataset's ingress topic:
// what `exchange publish` runs, and what a test or a connector can call to
// publish the way a providing agency does.
//
// Each line is one JSON object. It is converted to the native Avro shape of
// the latest schema registered under subject ingress.<dataset>-value
// (Convert documents every type: unions plain or Avro-JSON style, logical
// types from RFC 3339 strings or epoch numbers, integers without a float
// detour), encoded with hamba/avro, framed in the Confluent wire format
// (magic 0, 4-byte big-endian schema id, Avro body) and produced with
// acks=all. A line that does not fit is reported as
//
//	line 7: field "age": expected int, got string "abc"
//
// and is not published; the others are.
//
//	s, err := registryhttp.FetchLatest(ctx, nil, "http://127.0.0.1:8080/registry", names.IngressSubject("health.immunisations"))
//	enc, err := publish.NewEncoder(s, "") // key: record_id when the schema has it
//	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{"127.0.0.1:9092"}})
//	defer kc.Close()
//	w := publish.NewWriter(kc, names.Ingress("health.immunisations"))
//	defer w.Close()
//	sum, err := publish.Run(ctx, file, enc, w, publish.WithLineErrors(func(e *publish.LineError) { log.Print(e) }))
//	fmt.Printf("published %d records, %d errors\n", sum.Published, sum.Errors)
//
// CSV (WithFormat(CSV)) has a header row naming the fields (an unknown
// column, or a field without a default and without a column, stops Run
// before anything is published). Each cell becomes the JSON value Convert
// takes for its field's type (see cellValue), so both formats share one
// conversion; a bad cell is reported with its column:
//
//	line 7, column 3 (birth_date): expected date (YYYY-MM-DD or days since 1970-01-01), got string "1983-13-45"
//
// A file import can be resumed (WithResume, OpenResume): a checkpoint after
// each acknowledged batch, plus headers naming the import and line on each
// record, so that records acknowledged after the last checkpoint are found
// on the topic instead of being published twice (Resume documents how).
// An agency may not read its ingress topic, so ExchangeLines asks the
// exchange to look (POST ImportLinesPath); KafkaLines reads it directly.
//
// Line errors quote up to 40 characters of the offending value so that the
// publisher can fix the line: they are meant for the publisher's own
// terminal, not for shared logs or telemetry.
//
// ToJSON goes the other way, for `exchange consume`: a record decoded with
// its schema becomes the JSON line this package would read back.
package publish
