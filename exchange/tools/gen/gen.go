// Package gen generates realistic records for any Avro record schema: the
// traffic of `exchange dev --demo` and of `exchange bench`. Values are
// plausible for their field names (identifiers, postcodes, regions, phone
// numbers, ages, timestamps) and, on request, a few percent are invalid
// (garbage frames, unknown schema ids) or stale.
package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
)

// Kind says what a generated record is meant to exercise.
type Kind int

const (
	Valid     Kind = iota // a well-formed, fresh record
	Stale                 // well-formed, event time far in the past
	Malformed             // garbage after a valid frame header
	UnknownID             // a frame naming a schema id nobody registered
)

func (k Kind) String() string {
	return [...]string{"valid", "stale", "malformed", "unknown_id"}[k]
}

// Generator makes framed records of one schema.
type Generator struct {
	schema    *avro.RecordSchema
	id        int
	eventTime string // field holding the event time, "" if none
	rng       *rand.Rand
	// Mix of non-valid kinds, as fractions of all records.
	staleFrac, malformedFrac, unknownFrac float64
	seq                                   int64
}

// Option configures a Generator.
type Option func(*Generator)

// EventTime names the field that holds the event time (set to now, or to a
// stale time for Stale records).
func EventTime(field string) Option { return func(g *Generator) { g.eventTime = field } }

// Mix sets the fractions of stale, malformed and unknown-id records. Default: all valid.
func Mix(stale, malformed, unknownID float64) Option {
	return func(g *Generator) { g.staleFrac, g.malformedFrac, g.unknownFrac = stale, malformed, unknownID }
}

// Seed makes the sequence deterministic. Default: seeded from the clock.
func Seed(s uint64) Option {
	return func(g *Generator) { g.rng = rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)) }
}

// New returns a generator for the record schema registered under id.
func New(schema avro.Schema, id int, opts ...Option) (*Generator, error) {
	rs, ok := schema.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("generator: schema %d is %s, want a record", id, schema.Type())
	}
	now := uint64(time.Now().UnixNano())
	g := &Generator{schema: rs, id: id, rng: rand.New(rand.NewPCG(now, now>>7))}
	for _, o := range opts {
		o(g)
	}
	return g, nil
}

// Next returns the key and framed value of the next record, and its kind.
func (g *Generator) Next(now time.Time) (key, value []byte, kind Kind, err error) {
	g.seq++
	p := g.rng.Float64()
	switch {
	case p < g.malformedFrac:
		kind = Malformed
	case p < g.malformedFrac+g.unknownFrac:
		kind = UnknownID
	case p < g.malformedFrac+g.unknownFrac+g.staleFrac:
		kind = Stale
	}
	rec := g.Record(now, kind == Stale)
	key = []byte(fmt.Sprint(keyOf(rec, g.seq)))
	switch kind {
	case UnknownID:
		value = schemas.AppendFrame(nil, 1<<30+int(g.seq%1000))
	default:
		value = schemas.AppendFrame(nil, g.id)
	}
	body, err := avro.Marshal(g.schema, rec)
	if err != nil {
		return nil, nil, kind, fmt.Errorf("generator: encoding record %d: %w", g.seq, err)
	}
	if kind == Malformed {
		if g.seq%2 == 0 {
			value[0] = 0x7f // not the wire format's magic byte
		} else {
			body = body[:len(body)-1] // truncated Avro: the last field ends early
		}
	}
	return key, append(value, body...), kind, nil
}

func keyOf(rec map[string]any, seq int64) any {
	for _, f := range []string{"record_id", "id", "citizen_id"} {
		if v, ok := rec[f]; ok {
			return v
		}
	}
	return seq
}

// Record returns one native record (map[string]any) as hamba/avro encodes it.
func (g *Generator) Record(now time.Time, stale bool) map[string]any {
	rec := g.record(g.schema, now)
	if g.eventTime != "" {
		t := now.Add(-time.Duration(g.rng.IntN(30)) * time.Second)
		if stale {
			t = now.Add(-time.Duration(24+g.rng.IntN(72)) * time.Hour)
		}
		for _, f := range g.schema.Fields() {
			if f.Name() == g.eventTime {
				rec[f.Name()] = timeValue(f.Type(), t)
			}
		}
	}
	return rec
}

func timeValue(s avro.Schema, t time.Time) any {
	if u, ok := s.(*avro.UnionSchema); ok {
		for _, b := range u.Types() {
			if b.Type() != avro.Null {
				return timeValue(b, t)
			}
		}
	}
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch ls.Logical().Type() {
		case avro.TimestampMillis, avro.TimestampMicros, avro.Date:
			return t.UTC()
		}
	}
	if s.Type() == avro.String {
		return t.UTC().Format(time.RFC3339)
	}
	return t.UnixMilli()
}

func (g *Generator) record(rs *avro.RecordSchema, now time.Time) map[string]any {
	m := make(map[string]any, len(rs.Fields()))
	for _, f := range rs.Fields() {
		m[f.Name()] = g.value(f.Name(), f.Type(), now)
	}
	return m
}

var (
	regions = []string{"north", "east", "south", "west", "central"}
	names   = []string{"Aino", "Mika", "Sara", "Jonas", "Leila", "Tomas", "Eva", "Omar", "Lena", "Noah"}
	surname = []string{"Virtanen", "Korhonen", "Nieminen", "Mäkinen", "Hämäläinen", "Laine", "Koskinen", "Heikkinen"}
)

func (g *Generator) value(name string, s avro.Schema, now time.Time) any {
	n := strings.ToLower(name)
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch ls.Logical().Type() {
		case avro.TimestampMillis, avro.TimestampMicros:
			return now.Add(-time.Duration(g.rng.IntN(3600)) * time.Second).UTC()
		case avro.Date:
			return time.Date(1940+g.rng.IntN(85), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, time.UTC)
		}
	}
	switch t := s.(type) {
	case *avro.RecordSchema:
		return g.record(t, now)
	case *avro.EnumSchema:
		syms := t.Symbols()
		return syms[g.rng.IntN(len(syms))]
	case *avro.UnionSchema:
		types := t.Types()
		var nonNull avro.Schema
		for _, b := range types {
			if b.Type() != avro.Null {
				nonNull = b
				break
			}
		}
		if nonNull == nil || (len(types) == 2 && g.rng.IntN(10) == 0) {
			return nil
		}
		v := g.value(name, nonNull, now)
		if _, named := nonNull.(avro.NamedSchema); !named && len(types) == 2 {
			return v // hamba resolves a plain value of a primitive (or logical) branch
		}
		// Named branches (enums, records, fixed) and general unions are
		// encoded by hamba from map[branch name]value.
		return map[string]any{unionName(nonNull): v}
	case *avro.ArraySchema:
		k := g.rng.IntN(3)
		out := make([]any, k)
		for i := range out {
			out[i] = g.value(name, t.Items(), now)
		}
		return out
	case *avro.MapSchema:
		return map[string]any{"k": g.value(name, t.Values(), now)}
	case *avro.FixedSchema:
		return make([]byte, t.Size())
	}
	switch s.Type() {
	case avro.String:
		return g.str(n)
	case avro.Int:
		return int(g.intFor(n))
	case avro.Long:
		return g.intFor(n)
	case avro.Float:
		return float32(g.rng.Float64() * 1000)
	case avro.Double:
		return g.rng.Float64() * 100000
	case avro.Boolean:
		return g.rng.IntN(2) == 0
	case avro.Bytes:
		return []byte{byte(g.rng.IntN(256))}
	}
	return nil
}

func (g *Generator) intFor(n string) int64 {
	switch {
	case strings.Contains(n, "weight"):
		return int64(2500 + g.rng.IntN(2000)) // grams at birth
	case strings.Contains(n, "plurality"):
		return int64(1 + g.rng.IntN(100)/98) // mostly singletons, some twins
	case strings.Contains(n, "household"):
		return int64(2 + g.rng.IntN(5))
	case strings.Contains(n, "children") || strings.Contains(n, "dependent"):
		return int64(g.rng.IntN(2))
	case strings.Contains(n, "claimant_age") || strings.Contains(n, "adult"):
		return int64(18 + g.rng.IntN(60))
	case strings.Contains(n, "age"):
		return int64(g.rng.IntN(95))
	case strings.Contains(n, "dose"):
		return int64(1 + g.rng.IntN(3))
	case strings.Contains(n, "year"):
		return int64(2000 + g.rng.IntN(26))
	case strings.Contains(n, "amount"), strings.Contains(n, "income"), strings.Contains(n, "cents"):
		return int64(g.rng.IntN(9_000_000))
	}
	return int64(g.rng.IntN(10_000))
}

func (g *Generator) str(n string) string {
	switch {
	case strings.HasSuffix(n, "record_id") || n == "id" || strings.HasSuffix(n, "_id") && !strings.Contains(n, "citizen"):
		return fmt.Sprintf("%s-%08d", strings.ToUpper(strings.TrimSuffix(n, "_id"))[:min(3, len(n))], g.seq*7919%100_000_000)
	case strings.Contains(n, "citizen") || strings.Contains(n, "person") || strings.Contains(n, "national"):
		return fmt.Sprintf("%06d-%03d%c", g.rng.IntN(999999), g.rng.IntN(1000), 'A'+rune(g.rng.IntN(26)))
	case strings.Contains(n, "postcode") || strings.Contains(n, "zip"):
		return fmt.Sprintf("%05d", g.rng.IntN(99999))
	case strings.Contains(n, "region") || strings.Contains(n, "district"):
		return regions[g.rng.IntN(len(regions))]
	case strings.Contains(n, "phone"):
		return fmt.Sprintf("+358 40 %03d %04d", g.rng.IntN(1000), g.rng.IntN(10000))
	case strings.Contains(n, "name"):
		if strings.Contains(n, "first") || strings.Contains(n, "given") {
			return names[g.rng.IntN(len(names))]
		}
		return names[g.rng.IntN(len(names))] + " " + surname[g.rng.IntN(len(surname))]
	case strings.Contains(n, "email"):
		return fmt.Sprintf("user%d@example.org", g.rng.IntN(100000))
	case strings.Contains(n, "batch") || strings.Contains(n, "lot"):
		return fmt.Sprintf("LOT-%c%04d", 'A'+rune(g.rng.IntN(26)), g.rng.IntN(10000))
	}
	return fmt.Sprintf("%s-%d", n, g.rng.IntN(1000))
}

func unionName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}
