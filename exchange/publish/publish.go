package publish

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/schemas"
)

// DefaultKeyField keys records when no key field is named and the schema has it.
const DefaultKeyField = "record_id"

// LineError is one input line that was not published.
type LineError struct {
	Line int // 1-based line number in the input
	Err  error
}

// Error reads "line 7: field ..." for JSON lines and "line 7, column 3
// (birth_date): ..." for a CSV cell.
func (e *LineError) Error() string {
	var ce *ColumnError
	if errors.As(e.Err, &ce) {
		return fmt.Sprintf("line %d, %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}
func (e *LineError) Unwrap() error { return e.Err }

// Encoder turns JSON lines into Kafka keys and framed Avro values (magic 0,
// 4-byte big-endian schema id, Avro binary) for one schema. It is safe for
// concurrent use.
type Encoder struct {
	schema      *schemas.SchemaVersion
	keyField    string
	keyType     avro.Schema
	keyRequired bool
	stampField  string           // set to now on every record, "" for none
	now         func() time.Time // clock of stampField
}

// NewEncoder returns an Encoder for schema s, which must be a record. The key
// of each record is the value of the top-level field keyField; with keyField
// "" it is the record_id field when the schema has one, else records have no
// key.
func NewEncoder(s *schemas.SchemaVersion, keyField string) (*Encoder, error) {
	rec, ok := s.Avro.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("subject %q: the schema is a %s, publish needs a record", s.Subject, s.Avro.Type())
	}
	field := func(name string) avro.Schema {
		for _, f := range rec.Fields() {
			if f.Name() == name {
				return f.Type()
			}
		}
		return nil
	}
	e := &Encoder{schema: s}
	switch {
	case keyField != "":
		if e.keyType = field(keyField); e.keyType == nil {
			return nil, fmt.Errorf("key field %q is not a field of record %s (subject %q)", keyField, rec.FullName(), s.Subject)
		}
		e.keyField, e.keyRequired = keyField, true
	default:
		if e.keyType = field(DefaultKeyField); e.keyType != nil {
			e.keyField = DefaultKeyField
		}
	}
	return e, nil
}

// StampNow makes every encoded record carry now() in the top-level
// timestamp field (timestamp-millis or timestamp-micros, possibly nullable),
// whatever the line says: it replays recorded sample data as fresh events,
// so that freshness SLAs do not quarantine it.
func (e *Encoder) StampNow(field string, now func() time.Time) error {
	rec := e.schema.Avro.(*avro.RecordSchema)
	for _, f := range rec.Fields() {
		if f.Name() != field {
			continue
		}
		t := f.Type()
		if u, ok := t.(*avro.UnionSchema); ok {
			for _, b := range u.Types() {
				if b.Type() != avro.Null {
					t = b
				}
			}
		}
		if ls, ok := t.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
			if lt := ls.Logical().Type(); lt == avro.TimestampMillis || lt == avro.TimestampMicros {
				e.stampField, e.now = field, now
				return nil
			}
		}
		return fmt.Errorf("field %q of record %s is not a timestamp-millis or timestamp-micros", field, rec.FullName())
	}
	return fmt.Errorf("field %q is not a field of record %s (subject %q)", field, rec.FullName(), e.schema.Subject)
}

// KeyField is the field records are keyed by, "" for none.
func (e *Encoder) KeyField() string { return e.keyField }

// Encode converts one JSON object to the key and framed value of a record.
// Errors name the field and why (*FieldError), or say the line is not JSON.
func (e *Encoder) Encode(line []byte) (key, value []byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("invalid JSON: more than one value on the line")
	}
	native, err := Convert(e.schema.Avro, v)
	if err != nil {
		return nil, nil, err
	}
	return e.finish(v.(map[string]any), native.(map[string]any))
}

// finish stamps, keys, encodes and frames a converted record: obj is the
// record as read (JSON values), native its conversion.
func (e *Encoder) finish(obj, native map[string]any) (key, value []byte, err error) {
	if e.stampField != "" {
		native[e.stampField] = e.now().UTC()
	}
	if e.keyField != "" {
		key, err = keyOf(obj, e.keyField, e.keyType, e.keyRequired)
		if err != nil {
			return nil, nil, err
		}
	}
	body, err := avro.Marshal(e.schema.Avro, native)
	if err != nil {
		// Convert checked every value, so this is a converter gap; say so.
		return nil, nil, fmt.Errorf("avro encoding: %w", err)
	}
	value = schemas.AppendFrame(make([]byte, 0, schemas.FrameHeaderSize+len(body)), e.schema.ID)
	return key, append(value, body...), nil
}

// keyOf renders the key field's JSON value as the record key: strings as
// they are, numbers and booleans as their JSON text; null means no key.
func keyOf(obj map[string]any, field string, typ avro.Schema, required bool) ([]byte, error) {
	v, ok := obj[field]
	if !ok {
		if required {
			return nil, &FieldError{field, "missing, and it is the key field"}
		}
		return nil, nil
	}
	if u, ok := typ.(*avro.UnionSchema); ok {
		if m, ok := v.(map[string]any); ok && len(m) == 1 { // Avro JSON union {"string": "x"}
			for branch, inner := range m {
				for _, t := range u.Types() {
					if branchMatches(t, branch) {
						v = inner
					}
				}
			}
		}
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	case json.Number:
		return []byte(x.String()), nil
	case bool:
		return []byte(fmt.Sprint(x)), nil
	}
	return nil, &FieldError{field, fmt.Sprintf("key field must be a string, number or boolean, got %s", describe(v))}
}

// MessageWriter is what Run produces through; *kafka.Writer is one. A
// partial failure is reported as kafka.WriteErrors, one entry per message.
type MessageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// NewWriter returns a kafka-go Writer for topic from c with the settings
// publish needs: c's safe defaults (acks from all in-sync replicas,
// synchronous, no topic auto-creation), Java-compatible key hashing (so a
// key lands on the partition a Java producer would pick), batches below the
// 1 MiB default request limit.
func NewWriter(c *kafkaclient.Clients, topic string) *kafka.Writer {
	w := c.Writer(topic)
	w.Balancer = &kafka.Murmur2Balancer{}
	w.BatchSize = DefaultBatchSize
	w.BatchBytes = DefaultBatchBytes
	w.BatchTimeout = time.Millisecond
	return w
}

// CheckTopic fails with a clear message when topic does not exist.
func CheckTopic(ctx context.Context, c *kafkaclient.Clients, topic string) error {
	addr := c.Addr()
	resp, err := c.Admin().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("asking %s for topic %s: %w", addr, topic, err)
	}
	for _, t := range resp.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return fmt.Errorf("topic %s on %s: %w (is the exchange running with a contract for this dataset?)", topic, addr, t.Error)
			}
			return nil
		}
	}
	return fmt.Errorf("topic %s does not exist on %s (is the exchange running with a contract for this dataset?)", topic, addr)
}

// Defaults of Run.
const (
	DefaultBatchSize  = 2000
	DefaultBatchBytes = 768 << 10
	// MaxLineBytes bounds one input line; a longer line is an error for that
	// line only.
	MaxLineBytes = 8 << 20
)

// Summary counts what Run did.
type Summary struct {
	Lines     int   // records read (non-blank lines, CSV rows)
	Published int   // records acknowledged by the brokers
	Errors    int   // records not published
	Bytes     int64 // input bytes read so far
	// Resumed counts records an earlier, interrupted run of the same import
	// published after its last checkpoint: found on the topic, not sent
	// again (they are also in Published).
	Resumed int
}

// Option configures Run.
type Option func(*runConfig)

type runConfig struct {
	batchSize  int
	batchBytes int
	format     Format
	onError    func(*LineError)
	onProgress func(Summary)
	resume     *Resume
}

// WithBatchSize sets how many records go to the writer at once (default
// DefaultBatchSize).
func WithBatchSize(n int) Option { return func(c *runConfig) { c.batchSize = n } }

// WithBatchBytes sets the encoded size at which a batch is sent (default
// DefaultBatchBytes).
func WithBatchBytes(n int) Option { return func(c *runConfig) { c.batchBytes = n } }

// WithFormat sets the input format (default JSONLines).
func WithFormat(f Format) Option { return func(c *runConfig) { c.format = f } }

// WithLineErrors calls f for each line that is not published, in line order
// for conversion errors (produce errors come when their batch completes).
func WithLineErrors(f func(*LineError)) Option { return func(c *runConfig) { c.onError = f } }

// WithProgress calls f after each batch with the counts so far.
func WithProgress(f func(Summary)) Option { return func(c *runConfig) { c.onProgress = f } }

// WithResume makes Run an import that can be resumed (see Resume): records
// carry the import's headers, lines an earlier run handled are skipped and
// the checkpoint is saved after acknowledged batches (see CheckpointInterval).
func WithResume(r *Resume) Option { return func(c *runConfig) { c.resume = r } }

// source is a record reader of Run: read advances to the next record and
// returns its first line (a *LineError for a record that cannot be read,
// io.EOF at the end); encode converts the record read.
type source interface {
	read() (line int, err error)
	encode() (key, value []byte, err error)
}

// Run reads records from r (JSON lines, or CSV with WithFormat), encodes
// each with enc and produces them through w in batches. A record that does
// not convert or whose produce fails is counted and reported, and is not
// published; the others are. Blank lines are skipped. The error is for what
// stops the whole run: reading r, a CSV header that does not fit the
// schema, ctx, a checkpoint that cannot be saved, or a batch the brokers
// refused as a whole (the summary counts that batch as errors).
func Run(ctx context.Context, r io.Reader, enc *Encoder, w MessageWriter, opts ...Option) (Summary, error) {
	cfg := runConfig{batchSize: DefaultBatchSize, batchBytes: DefaultBatchBytes}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.batchSize <= 0 {
		cfg.batchSize = 1
	}
	b := &batcher{cfg: cfg, w: w, enc: enc}
	if cfg.resume != nil {
		b.sum = cfg.resume.done
	}
	br := bufio.NewReaderSize(countingReader{r, &b.sum.Bytes}, 64<<10)
	var src source = &jsonSource{r: br, enc: enc}
	if cfg.format == CSV {
		cs, err := newCSVSource(br, enc)
		if err != nil {
			return b.sum, err
		}
		src = cs
	}
	if err := b.loop(ctx, src); err != nil {
		return b.sum, err
	}
	if err := b.flush(ctx, true); err != nil {
		return b.sum, err
	}
	return b.sum, nil
}

// loop reads src to its end into batches.
func (b *batcher) loop(ctx context.Context, src source) error {
	for {
		n, err := src.read()
		var le *LineError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &le):
			b.last = le.Line
			if b.cfg.resume == nil || le.Line > b.cfg.resume.through {
				b.sum.Lines++
				b.report(le.Line, le.Err)
			}
			continue
		case err != nil:
			_ = b.flush(ctx, true)
			return fmt.Errorf("reading line %d: %w", n, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.last = n
		if b.cfg.resume != nil && b.cfg.resume.skip(n, &b.sum) {
			continue
		}
		b.sum.Lines++
		key, value, err := src.encode()
		if err != nil {
			b.report(n, err)
			continue
		}
		if err := b.add(ctx, n, key, value); err != nil {
			return err
		}
	}
}

// jsonSource reads JSON lines.
type jsonSource struct {
	r    *bufio.Reader
	enc  *Encoder
	n    int
	line []byte
	eof  bool
}

func (s *jsonSource) read() (int, error) {
	for !s.eof {
		s.n++
		line, tooLong, err := readLine(s.r, MaxLineBytes)
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			return s.n, err
		}
		if tooLong {
			return s.n, &LineError{Line: s.n, Err: fmt.Errorf("line is longer than %d bytes", MaxLineBytes)}
		}
		if s.line = bytes.TrimSpace(line); len(s.line) > 0 {
			return s.n, nil
		}
	}
	return s.n, io.EOF
}

func (s *jsonSource) encode() (key, value []byte, err error) { return s.enc.Encode(s.line) }

// batcher collects Run's encoded records into batches, produces each batch
// when it is full and counts what happened.
type batcher struct {
	cfg     runConfig
	w       MessageWriter
	enc     *Encoder
	sum     Summary
	batch   []kafka.Message
	lines   []int // input line of each message of batch
	pending int   // key and value bytes in batch
	last    int   // the last line read: every line up to it is handled once batch is
}

// report counts line as not published and tells the caller why.
func (b *batcher) report(line int, err error) {
	b.sum.Errors++
	if b.cfg.onError != nil {
		b.cfg.onError(&LineError{Line: line, Err: err})
	}
}

// add appends the record of input line n to the batch and produces the
// batch once it is full.
func (b *batcher) add(ctx context.Context, n int, key, value []byte) error {
	m := kafka.Message{Key: key, Value: value}
	if b.cfg.resume != nil {
		m.Headers = b.cfg.resume.headers(n)
	}
	b.batch = append(b.batch, m)
	b.lines = append(b.lines, n)
	b.pending += len(key) + len(value)
	if len(b.batch) >= b.cfg.batchSize || b.pending >= b.cfg.batchBytes {
		return b.flush(ctx, false)
	}
	return nil
}

// flush produces the batch. Messages the brokers refused one by one are
// reported; a batch refused as a whole is counted as errors and returned.
// Then the checkpoint, if any, moves to the last line read (when it is due,
// or always with force).
func (b *batcher) flush(ctx context.Context, force bool) error {
	if len(b.batch) > 0 {
		if err := b.produce(ctx); err != nil {
			return err
		}
	}
	if b.cfg.resume != nil {
		if err := b.cfg.resume.save(ctx, b.last, b.sum, force); err != nil {
			return err
		}
	}
	if b.cfg.onProgress != nil {
		b.cfg.onProgress(b.sum)
	}
	return nil
}

func (b *batcher) produce(ctx context.Context) error {
	err := b.w.WriteMessages(ctx, b.batch...)
	var werrs kafka.WriteErrors
	switch {
	case err == nil:
		b.sum.Published += len(b.batch)
	case errors.As(err, &werrs) && len(werrs) == len(b.batch):
		for i, werr := range werrs {
			if werr == nil {
				b.sum.Published++
			} else {
				b.report(b.lines[i], fmt.Errorf("produce: %w", werr))
			}
		}
	default:
		b.sum.Errors += len(b.batch)
		first, last := b.lines[0], b.lines[len(b.lines)-1]
		b.reset()
		return fmt.Errorf("producing lines %d-%d: %w", first, last, err)
	}
	b.reset()
	return nil
}

func (b *batcher) reset() { b.batch, b.lines, b.pending = b.batch[:0], b.lines[:0], 0 }

// readLine reads one line without its newline. A line longer than max is
// consumed and reported as tooLong; its bytes still count in len(line) up to
// max. At the end of input it returns the last line (maybe empty) and io.EOF.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF && buf != nil {
				return buf, tooLong, nil
			}
			return buf, tooLong, err
		}
		if !tooLong {
			if len(buf)+len(chunk) > max {
				tooLong = true
				buf = nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if buf == nil {
			buf = []byte{}
		}
		if !isPrefix {
			return buf, tooLong, nil
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}
