package agreements

import (
	"fmt"
	"strconv"
	"time"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

// Effect says what a change does to what the consumer receives.
type Effect string

const (
	// Widens: the consumer newly receives a field, receives it in a more
	// identifying form, for longer, or with fewer restrictions. A widening
	// change deserves both stewards' review.
	Widens Effect = "widens"
	// Narrows: the consumer receives less.
	Narrows Effect = "narrows"
	// Changes: neither clearly more nor less (a new purpose, another filter).
	Changes Effect = "changes"
)

// ChangeKind says what kind of difference a FieldChange is.
type ChangeKind string

const (
	FieldAdded       ChangeKind = "added"     // a field newly allowed
	FieldRemoved     ChangeKind = "removed"   // a field no longer allowed
	TransformChanged ChangeKind = "transform" // an allowed field's transform
	KeyChanged       ChangeKind = "changed"   // another key: purpose, legal_basis, valid_from, valid_until, filter, freshness.calendar, freshness.max_age, freshness.expected_every, status, provider, consumer, id
)

// FieldChange is one difference between two versions of an agreement.
type FieldChange struct {
	// Field is the allowed field's name for field changes, or the YAML key
	// (purpose, legal_basis, valid_from, valid_until, filter,
	// freshness.max_age, status, provider, consumer, id) otherwise.
	Field  string
	Kind   ChangeKind
	Old    string // rendered old value; empty when added or unset
	New    string // rendered new value; empty when removed or unset
	Effect Effect
}

// Widens reports whether the change gives the consumer more.
func (c FieldChange) Widens() bool { return c.Effect == Widens }

// String renders the change as one human-readable line.
func (c FieldChange) String() string {
	switch c.Kind {
	case FieldAdded:
		return fmt.Sprintf("+ field %s: %s (newly received; %s)", c.Field, c.New, c.Effect)
	case FieldRemoved:
		return fmt.Sprintf("- field %s: was %s (no longer received; %s)", c.Field, c.Old, c.Effect)
	case TransformChanged:
		return fmt.Sprintf("~ field %s: %s → %s (%s)", c.Field, c.Old, c.New, c.Effect)
	default:
		return fmt.Sprintf("~ %s: %s → %s (%s)", c.Field, orNone(c.Old), orNone(c.New), c.Effect)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// String renders a transform as it is written in YAML.
func (t Transform) String() string {
	switch t.Kind {
	case Truncate:
		return fmt.Sprintf("{truncate: %d}", t.N)
	case Mask:
		return fmt.Sprintf("{mask: {keep_last: %d}}", t.N)
	case Generalize:
		if t.Unit != "" {
			return "{generalize: " + t.Unit + "}"
		}
		return "{generalize: {bucket: " + strconv.FormatFloat(t.Bucket, 'g', -1, 64) + "}}"
	}
	return string(t.Kind)
}

// disclosure ranks transforms by how much of the value the consumer learns:
// nothing (redact), a coarsened value (truncate, mask, generalize), a keyed
// pseudonym that links records but reveals nothing, an unkeyed hash that
// can be reversed by hashing candidates, the value itself (keep).
func disclosure(k TransformKind) int {
	switch k {
	case Redact:
		return 0
	case Truncate, Mask, Generalize:
		return 1
	case Pseudonymize:
		return 2
	case Hash:
		return 3
	case Keep:
		return 4
	}
	return -1
}

var unitRank = map[string]int{"year": 1, "month": 2, "day": 3}

// transformEffect judges old → new for one field.
func transformEffect(o, n Transform) Effect {
	do, dn := disclosure(o.Kind), disclosure(n.Kind)
	switch {
	case do < 0 || dn < 0:
		return Changes
	case dn > do:
		return Widens
	case dn < do:
		return Narrows
	}
	if o.Kind != n.Kind {
		return Changes // e.g. truncate ↔ mask: different, not comparable
	}
	switch o.Kind {
	case Truncate, Mask:
		if n.N > o.N {
			return Widens
		}
		return Narrows
	case Generalize:
		switch {
		case o.Unit != "" && n.Unit != "":
			if unitRank[n.Unit] > unitRank[o.Unit] {
				return Widens
			}
			return Narrows
		case o.Unit == "" && n.Unit == "":
			if n.Bucket < o.Bucket {
				return Widens
			}
			return Narrows
		}
	}
	return Changes
}

// Diff lists what changes between two versions of an agreement, from the
// consumer's point of view: the metadata (id, provider, consumer, purpose,
// legal basis, validity, status), then field by field (fields of old in
// order, then fields only in new), then filter and freshness. Each change
// says whether it widens or narrows what the consumer receives. Nil
// agreements are treated as empty.
func Diff(old, new *Agreement) []FieldChange {
	if old == nil {
		old = &Agreement{}
	}
	if new == nil {
		new = &Agreement{}
	}
	var out []FieldChange
	key := func(field, o, n string, e Effect) {
		if o != n {
			out = append(out, FieldChange{Field: field, Kind: KeyChanged, Old: o, New: n, Effect: e})
		}
	}
	key("id", old.ID, new.ID, Changes)
	key("provider", old.Provider, new.Provider, Changes)
	key("consumer", old.Consumer, new.Consumer, Changes)
	key("purpose", quote(old.Purpose), quote(new.Purpose), Changes)
	key("legal_basis", quote(old.LegalBasis), quote(new.LegalBasis), Changes)
	key("valid_from", stamp(old.ValidFrom), stamp(new.ValidFrom), earlierWidens(old.ValidFrom, new.ValidFrom))
	key("valid_until", stamp(old.ValidUntil), stamp(new.ValidUntil), laterWidens(old.ValidUntil, new.ValidUntil))
	key("status", string(old.Status), string(new.Status), statusEffect(old.Status, new.Status))

	for _, of := range old.Fields {
		nf, ok := new.Field(of.Name)
		switch {
		case !ok:
			out = append(out, FieldChange{Field: of.Name, Kind: FieldRemoved, Old: of.Transform.String(), Effect: Narrows})
		case nf.Transform != of.Transform:
			out = append(out, FieldChange{Field: of.Name, Kind: TransformChanged, Old: of.Transform.String(), New: nf.Transform.String(), Effect: transformEffect(of.Transform, nf.Transform)})
		}
	}
	for _, nf := range new.Fields {
		if _, ok := old.Field(nf.Name); !ok {
			out = append(out, FieldChange{Field: nf.Name, Kind: FieldAdded, New: nf.Transform.String(), Effect: Widens})
		}
	}

	filterEffect := Changes
	switch {
	case old.Filter == "":
		filterEffect = Narrows // a filter now restricts the rows
	case new.Filter == "":
		filterEffect = Widens // every row now
	}
	key("filter", quote(old.Filter), quote(new.Filter), filterEffect)
	key("freshness.calendar", old.Calendar, new.Calendar, Changes)
	key("freshness.max_age", dur(old.MaxAge), dur(new.MaxAge), maxAgeEffect(old.MaxAge, new.MaxAge))
	key("freshness.expected_every", dur(old.ExpectedEvery), dur(new.ExpectedEvery), Changes)
	return out
}

func quote(s string) string {
	if s == "" {
		return ""
	}
	return strconv.Quote(s)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func dur(d calendar.Duration) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// earlierWidens: an earlier start (or none) gives the consumer more.
func earlierWidens(o, n time.Time) Effect {
	switch {
	case n.IsZero() || (!o.IsZero() && n.Before(o)):
		return Widens
	default:
		return Narrows
	}
}

// laterWidens: a later end (or none) gives the consumer more.
func laterWidens(o, n time.Time) Effect {
	switch {
	case n.IsZero() || (!o.IsZero() && n.After(o)):
		return Widens
	default:
		return Narrows
	}
}

// maxAgeEffect: a larger max age, or none, lets older records through. A
// change between plain and business time cannot be ranked without the
// calendar: it changes.
func maxAgeEffect(o, n calendar.Duration) Effect {
	switch {
	case n.IsZero():
		return Widens
	case o.IsZero():
		return Narrows
	case o.Unit() != n.Unit():
		return Changes
	case n.Wall() > o.Wall() || n.Count() > o.Count():
		return Widens
	default:
		return Narrows
	}
}

// statusEffect: becoming active starts deliveries, leaving active stops them.
func statusEffect(o, n Status) Effect {
	switch {
	case n == StatusActive:
		return Widens
	case o == StatusActive:
		return Narrows
	}
	return Changes
}
