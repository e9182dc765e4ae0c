package console

import (
	"context"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
)

// TestDecodeValue: a quarantined value in the wire format under a known
// schema is shown as JSON; anything else quoted, with why.
func TestDecodeValue(t *testing.T) {
	ctx := context.Background()
	reg := schemas.NewRegistry(schemas.NewMemoryStore())
	const schema = `{"type":"record","name":"r","fields":[{"name":"citizen_id","type":"string"},{"name":"dose","type":"int"}]}`
	id, err := reg.Register(ctx, "ingress.health.immunisations-value", schema)
	if err != nil {
		t.Fatal(err)
	}
	body, err := avro.Marshal(avro.MustParse(schema), map[string]any{"citizen_id": "<b>X</b>", "dose": 7})
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{cfg: Config{Registry: reg}}
	got, why := c.decodeValue(ctx, append(schemas.AppendFrame(nil, id), body...))
	if why != "" || !strings.Contains(got, `"citizen_id": "\u003cb\u003eX\u003c/b\u003e"`) || !strings.Contains(got, `"dose": 7`) {
		t.Errorf("decoded %q (%q), want indented JSON of the record", got, why)
	}
	got, why = c.decodeValue(ctx, []byte("not avro\u202e"))
	if got != `"not avro\u202e"` || !strings.Contains(why, "wire format") {
		t.Errorf("raw %q (%q), want the bytes quoted and the frame problem", got, why)
	}
	got, why = c.decodeValue(ctx, append(schemas.AppendFrame(nil, id+99), body...))
	if !strings.HasPrefix(got, `"`) || !strings.Contains(why, "schema") {
		t.Errorf("unknown schema: %q (%q)", got, why)
	}
}
