package agreements

import "fmt"

// SensitiveDelivery is the rule that a sensitive field is never delivered
// as it is: not with keep, and not with hash (an unkeyed hash of a value
// from a small domain is reversed by hashing the candidates). It returns
// the problem, at pos, when field f of agreement agreementID breaks the
// rule, and false when f's transform is allowed. Validate applies it to the
// fields a contract classifies sensitive; the policy compiler applies it
// too, so that no plan delivers such a field whatever validated it.
func SensitiveDelivery(agreementID string, f FieldRule, pos Pos) (Problem, bool) {
	var hint string
	switch f.Transform.Kind {
	case Keep:
		hint = "deliver it with pseudonymize, redact, truncate, mask or generalize, or leave it out"
	case Hash:
		hint = "an unkeyed hash of a sensitive value can be reversed by hashing candidates; use pseudonymize (keyed per agreement)"
	default:
		return Problem{}, false
	}
	return Problem{
		Pos:     pos,
		Message: fmt.Sprintf("agreement %s: sensitive field %s may not be delivered with %s", agreementID, f.Name, f.Transform.Kind),
		Hint:    hint,
	}, true
}
