package policy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/schemas"
	"github.com/hamba/avro/v2"
)

// These tests hold the registry's compatibility check and the plan's reader
// to one answer. They live in package policy because the plan's reader is
// unexported here, while the registry is reachable through its public API
// (schemas never imports policy, so no cycle); both sides run the one
// resolution in package schemas/resolve.

// registryAccepts registers writer under NONE, then reader under level, and
// reports whether the registry took it. ok is false when the registry
// refused either schema as invalid (the pair is then not a test case).
func registryAccepts(t testing.TB, level schemas.Compatibility, writer, reader string) (accepted, ok bool) {
	t.Helper()
	ctx := context.Background()
	r := schemas.NewRegistry(schemas.NewMemoryStore(), schemas.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	const subject = "ingress.health.immunisations-value"
	if err := r.SetConfig(ctx, subject, schemas.None); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctx, subject, writer); err != nil {
		return false, false
	}
	if err := r.SetConfig(ctx, subject, level); err != nil {
		t.Fatal(err)
	}
	_, err := r.Register(ctx, subject, reader)
	switch {
	case err == nil:
		return true, true
	case errors.Is(err, schemas.ErrIncompatible):
		return false, true
	}
	return false, false
}

// planReadsAll compiles the plan's decoder for writer→reader and reports
// whether it reads every value of writer: compiled, with no writer union
// branch or enum symbol left unresolvable.
func planReadsAll(t testing.TB, w, r avro.Schema) (*dnode, bool) {
	t.Helper()
	rv := resolver{maxDepth: defaultOptions().maxDepth}
	n, err := rv.resolve(w, r)
	if err != nil {
		return nil, false
	}
	return n, complete(n)
}

func complete(n *dnode) bool {
	if n == nil {
		return false
	}
	for _, j := range n.enumMap {
		if j < 0 {
			return false
		}
	}
	for _, b := range n.branches {
		if !complete(b) {
			return false
		}
	}
	for _, s := range n.steps {
		if !complete(s.node) {
			return false
		}
	}
	return n.items == nil || complete(n.items)
}

// TestAliasShortNameIsNotAMatch is the case that exposed two resolutions:
// the registry accepted a reader whose alias had only the writer's short
// name (another namespace), and the plan then could not read the writer's
// records (schema:unresolvable). Now both refuse it, and both accept the
// aliases that name the writer (full name, or unqualified in the reader's
// namespace).
func TestAliasShortNameIsNotAMatch(t *testing.T) {
	writer := `{"type":"record","name":"Immunisation","namespace":"health","fields":[{"name":"id","type":"string"}]}`
	reader := func(aliases string) string {
		return `{"type":"record","name":"Vaccination","namespace":"health","aliases":[` + aliases + `],"fields":[{"name":"id","type":"string"}]}`
	}
	for _, tc := range []struct {
		aliases string
		want    bool
	}{
		{`"legacy.Immunisation"`, false}, // only the short name agrees: the old registry accepted this
		{`"health.Immunisation"`, true},
		{`"Immunisation"`, true}, // unqualified: relative to the reader's namespace, health
		{``, false},
	} {
		accepted, ok := registryAccepts(t, schemas.Backward, writer, reader(tc.aliases))
		if !ok {
			t.Fatalf("aliases [%s]: registry refused a schema as invalid", tc.aliases)
		}
		w, _ := schemas.ParseSchema(writer)
		r, _ := schemas.ParseSchema(reader(tc.aliases))
		_, reads := planReadsAll(t, w, r)
		if accepted != tc.want || reads != tc.want {
			t.Errorf("aliases [%s]: registry accepted %v, plan reads %v; want both %v", tc.aliases, accepted, reads, tc.want)
		}
	}
}

// TestRegistryAndPlanAgree: for random writer/reader pairs made by schema
// evolution (fields added and removed with and without defaults,
// promotions and demotions, renames with and without aliases, namespaces,
// union branches added and removed, enum symbols and defaults, nested
// records, arrays, maps, fixed sizes, logical types), the registry accepts
// the reader under BACKWARD, FORWARD or FULL exactly when the plan reads
// every value in the directions that level asks; and where it does, the
// plan decodes random writer values into values of the reader schema.
func TestRegistryAndPlanAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261203, 10))
	n := 400
	if testing.Short() {
		n = 100
	}
	var cases, accepted int
	for i := 0; i < n; i++ {
		c, a := checkAgreement(t, rng.Uint64())
		cases += c
		accepted += a
	}
	// The generator must reach both answers often, or the test proves little.
	if cases < n || accepted < cases/5 || accepted > cases*4/5 {
		t.Fatalf("%d cases, %d accepted: the generator is off balance", cases, accepted)
	}
	t.Logf("%d cases, %d accepted", cases, accepted)
}

// FuzzResolve: the same property for any generator seed.
func FuzzResolve(f *testing.F) {
	f.Add(uint64(1))
	f.Fuzz(func(t *testing.T, seed uint64) { checkAgreement(t, seed) })
}

// checkAgreement generates one pair from seed and checks it under the
// three levels; it returns the cases checked and how many the registry
// accepted.
func checkAgreement(t *testing.T, seed uint64) (cases, accepted int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	g := &gen{rng: rng}
	old := g.record(0)
	nw := clone(old, map[*gnode]*gnode{})
	for k := 1 + rng.IntN(3); k > 0; k-- {
		g.mutate(nw)
	}
	writerJSON, readerJSON := render(old), render(nw)
	ws, err1 := schemas.ParseSchema(writerJSON)
	rs, err2 := schemas.ParseSchema(readerJSON)
	if err1 != nil || err2 != nil {
		return 0, 0 // an invalid mutation (e.g. a union with two longs): not a case
	}
	bw, bwReads := planReadsAll(t, ws, rs)
	fw, fwReads := planReadsAll(t, rs, ws)
	for _, level := range []schemas.Compatibility{schemas.Backward, schemas.Forward, schemas.Full} {
		got, ok := registryAccepts(t, level, writerJSON, readerJSON)
		if !ok {
			continue
		}
		want := true
		if level != schemas.Forward {
			want = want && bwReads
		}
		if level != schemas.Backward {
			want = want && fwReads
		}
		cases++
		if got {
			accepted++
		}
		if got != want {
			t.Fatalf("seed %d, %s: registry accepted %v, plan reads old→new %v, new→old %v\nold: %s\nnew: %s",
				seed, level, got, bwReads, fwReads, writerJSON, readerJSON)
		}
	}
	if bwReads {
		decodeRandom(t, rng, bw, ws, rs)
	}
	if fwReads {
		decodeRandom(t, rng, fw, rs, ws)
	}
	return cases, accepted
}

// decodeRandom writes random values of w and reads them with the plan's
// decoder n: every byte is consumed and the value fits r.
func decodeRandom(t *testing.T, rng *rand.Rand, n *dnode, w, r avro.Schema) {
	t.Helper()
	for i := 0; i < 4; i++ {
		body := randomValue(rng, nil, w)
		in := rd{b: body}
		x, err := n.decodeNative(&in, 0)
		if err != nil || in.i != len(body) {
			t.Fatalf("decoding a value of %s as %s: %v (read %d of %d bytes)", w, r, err, in.i, len(body))
		}
		if !fits(r, x) {
			t.Fatalf("decoded %#v does not fit %s (writer %s)", x, r, w)
		}
	}
}

// randomValue appends a random Avro binary value of s.
func randomValue(rng *rand.Rand, dst []byte, s avro.Schema) []byte {
	s = deref(s)
	switch s.Type() {
	case avro.Null:
		return dst
	case avro.Boolean:
		return append(dst, byte(rng.IntN(2)))
	case avro.Int:
		return appendLong(dst, int64(rng.Int32()))
	case avro.Long:
		return appendLong(dst, rng.Int64()-math.MaxInt64/2)
	case avro.Float:
		return appendFloat(dst, rng.Float32())
	case avro.Double:
		return appendDouble(dst, rng.NormFloat64())
	case avro.String, avro.Bytes:
		return appendBytes(dst, []byte(strings.Repeat("é", rng.IntN(3))))
	case avro.Enum:
		return appendLong(dst, int64(rng.IntN(len(s.(*avro.EnumSchema).Symbols()))))
	case avro.Fixed:
		for i := 0; i < s.(*avro.FixedSchema).Size(); i++ {
			dst = append(dst, byte(rng.Uint32()))
		}
		return dst
	case avro.Union:
		ts := s.(*avro.UnionSchema).Types()
		j := rng.IntN(len(ts))
		return randomValue(rng, appendLong(dst, int64(j)), ts[j])
	case avro.Record:
		for _, f := range s.(*avro.RecordSchema).Fields() {
			dst = randomValue(rng, dst, f.Type())
		}
		return dst
	case avro.Array, avro.Map:
		k := rng.IntN(3)
		if k > 0 {
			dst = appendLong(dst, int64(k))
			for ; k > 0; k-- {
				if a, ok := s.(*avro.ArraySchema); ok {
					dst = randomValue(rng, dst, a.Items())
					continue
				}
				dst = appendBytes(dst, []byte{byte('a' + k)})
				dst = randomValue(rng, dst, s.(*avro.MapSchema).Values())
			}
		}
		return append(dst, 0)
	}
	panic("randomValue: unexpected type " + string(s.Type()))
}

// fits reports whether a decoded value (as decodeNative returns it) is a
// value of s.
func fits(s avro.Schema, x any) bool {
	s = deref(s)
	switch s := s.(type) {
	case *avro.UnionSchema:
		for _, b := range s.Types() {
			if fits(b, x) {
				return true
			}
		}
		return false
	case *avro.RecordSchema:
		m, ok := x.(map[string]any)
		if !ok || len(m) != len(s.Fields()) {
			return false
		}
		for _, f := range s.Fields() {
			if v, ok := m[f.Name()]; !ok || !fits(f.Type(), v) {
				return false
			}
		}
		return true
	case *avro.ArraySchema:
		l, ok := x.([]any)
		for _, v := range l {
			ok = ok && fits(s.Items(), v)
		}
		return ok
	case *avro.MapSchema:
		m, ok := x.(map[string]any)
		for _, v := range m {
			ok = ok && fits(s.Values(), v)
		}
		return ok
	case *avro.EnumSchema:
		sym, ok := x.(string)
		return ok && indexOf(s.Symbols(), sym) >= 0
	case *avro.FixedSchema:
		b, ok := x.([]byte)
		return ok && len(b) == s.Size()
	}
	switch x.(type) {
	case nil:
		return s.Type() == avro.Null
	case bool:
		return s.Type() == avro.Boolean
	case int64:
		return s.Type() == avro.Int || s.Type() == avro.Long
	case float64:
		return s.Type() == avro.Float || s.Type() == avro.Double
	case string:
		return s.Type() == avro.String
	case []byte:
		return s.Type() == avro.Bytes
	}
	return false
}
