package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Stores must return (possibly wrapped) ErrSubjectNotFound,
// ErrVersionNotFound, ErrSchemaNotFound, ErrConfigNotFound and ErrConflict
// exactly where their contract says so; the registry and the HTTP handler
// branch on them with errors.Is.
var (
	ErrSubjectNotFound = errors.New("subject not found")
	ErrVersionNotFound = errors.New("version not found")
	ErrSchemaNotFound  = errors.New("schema not found")
	// ErrConfigNotFound: no compatibility level is set at this level
	// (global or subject).
	ErrConfigNotFound = errors.New("compatibility config not found")
	// ErrConflict: an optimistic write lost a race (Store.AddVersion saw a
	// different latest version than the caller checked against).
	ErrConflict = errors.New("concurrent modification")

	ErrInvalidSchema        = errors.New("invalid schema")
	ErrInvalidVersion       = errors.New("invalid version")
	ErrInvalidCompatibility = errors.New("invalid compatibility level")
	// ErrInvalidSubject is matched by *InvalidSubjectError.
	ErrInvalidSubject = errors.New("invalid subject")
	// ErrIncompatible is matched by *IncompatibleError.
	ErrIncompatible = errors.New("schema is incompatible")
	// ErrRefused is matched by *GuardError.
	ErrRefused = errors.New("schema refused")

	// Delete protocol (Confluent: soft delete first, then permanent).
	ErrSubjectSoftDeleted    = errors.New("subject was soft deleted")
	ErrSubjectNotSoftDeleted = errors.New("subject was not soft deleted first")
	ErrVersionSoftDeleted    = errors.New("version was soft deleted")
	ErrVersionNotSoftDeleted = errors.New("version was not soft deleted first")

	// ErrMalformedFrame: a value is not in the Confluent wire format (see
	// ParseFrame); the runtime quarantines it as decode:malformed.
	ErrMalformedFrame = errors.New("malformed frame")
)

// FrameError describes why a value is not a Confluent-framed one. It
// matches ErrMalformedFrame through errors.Is.
type FrameError struct {
	// SchemaID is the id read from the frame, or -1 when the header itself
	// is malformed.
	SchemaID int
	// Kind is ErrMalformedFrame.
	Kind error
	// Detail says what was wrong (never the payload bytes).
	Detail string
	// Err is the underlying cause, if any.
	Err error
}

func (e *FrameError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.SchemaID >= 0 {
		fmt.Fprintf(&b, " (schema id %d)", e.SchemaID)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the kind and the cause.
func (e *FrameError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// IncompatibleError is returned by Registry.Register when the new schema
// breaks the subject's compatibility level. Messages name the field path,
// the old and new type, and the rule.
type IncompatibleError struct {
	Subject  string
	Level    Compatibility
	Messages []string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("schema being registered is incompatible with an earlier schema for subject %q: %s",
		e.Subject, strings.Join(e.Messages, "; "))
}

// Is makes errors.Is(err, ErrIncompatible) true.
func (e *IncompatibleError) Is(target error) bool { return target == ErrIncompatible }

// GuardError is a version the registry's guard (WithGuard) refused: it
// would break an agreement in force, whatever the compatibility level.
// Agreement and Field name what breaks when known (Agreement is empty when
// a contract's own rule or field is at stake); Reason is the whole
// sentence. It matches ErrRefused through errors.Is.
type GuardError struct {
	Subject   string
	Agreement string
	Field     string
	Reason    string
}

func (e *GuardError) Error() string { return "schema refused: " + e.Reason }

// Is makes errors.Is(err, ErrRefused) true.
func (e *GuardError) Is(target error) bool { return target == ErrRefused }

// InvalidSubjectError is returned when a name cannot be a subject. Reason
// says why, for the registry API's 42208 message.
type InvalidSubjectError struct {
	Subject string
	Reason  string
}

func (e *InvalidSubjectError) Error() string { return ErrInvalidSubject.Error() + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalidSubject) true.
func (e *InvalidSubjectError) Is(target error) bool { return target == ErrInvalidSubject }

// InvalidSchemaError is returned when a schema does not parse or breaks
// the registry's limits (nesting depth, recursion).
type InvalidSchemaError struct {
	Reason string
	Err    error
}

func (e *InvalidSchemaError) Error() string {
	if e.Err != nil {
		return "invalid schema: " + e.Reason + ": " + e.Err.Error()
	}
	return "invalid schema: " + e.Reason
}

// Unwrap returns ErrInvalidSchema and the cause.
func (e *InvalidSchemaError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidSchema, e.Err}
	}
	return []error{ErrInvalidSchema}
}
