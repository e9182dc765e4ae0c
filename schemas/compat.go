package schemas

import (
	"fmt"

	"github.com/exchange-gov/exchange/schemas/resolve"
	"github.com/hamba/avro/v2"
)

// checkPair checks candidate against one existing version under level and
// returns the incompatibilities (none when compatible). Each message names
// where (field path and record), what (writer and reader type) and which
// rule, e.g.
//
//	field "age" (record health.Immunisation): writer type "long" cannot be read as reader type "int" (BACKWARD: new schema must read data written with version 2)
func checkPair(level Compatibility, candidate, existing avro.Schema, version int) []string {
	var out []string
	if level.backward() {
		rule := fmt.Sprintf("%s: new schema must read data written with version %d", level, version)
		out = append(out, incompatibilities(existing, candidate, rule)...)
	}
	if level.forward() {
		rule := fmt.Sprintf("%s: version %d must read data written with the new schema", level, version)
		out = append(out, incompatibilities(candidate, existing, rule)...)
	}
	return out
}

// incompatibilities reports why data written with writer cannot be read
// with reader (empty when it can), by the same resolution the policy's
// reader compiles, so a version the registry accepts is one the plan reads.
// rule, if not empty, is appended to each message in parentheses.
func incompatibilities(writer, reader avro.Schema, rule string) []string {
	_, problems := resolve.Resolve(writer, reader, 0)
	var msgs []string
	for _, p := range problems {
		msg := p.String()
		if rule != "" {
			msg += " (" + rule + ")"
		}
		msgs = append(msgs, msg)
	}
	return msgs
}
