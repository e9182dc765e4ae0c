package policy

import (
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
)

// TransformFits reports whether transform t applies to a field of Avro
// type field, by the rules Compile applies (a transform sees the non-null
// branch of a nullable union; only keep and redact take other unions);
// the error says why not. It lets a caller choose transforms before it
// writes an agreement (the catalog's default transforms of an access
// request).
func TransformFits(t agreements.Transform, field avro.Schema) error {
	spec, ok := transforms[t.Kind]
	if !ok {
		return fmt.Errorf("unknown transform %q", t.Kind)
	}
	if field == nil {
		return errors.New("no field type")
	}
	sh := shapeOf(field)
	switch {
	case t.Kind == agreements.Keep || t.Kind == agreements.Redact:
		return nil
	case sh.isUnion && !sh.nullable:
		return fmt.Errorf("%s does not apply to the union %s", t.Kind, sh.s)
	}
	if msg, _ := spec.check(t, sh.base); msg != "" {
		return errors.New(msg)
	}
	return nil
}
