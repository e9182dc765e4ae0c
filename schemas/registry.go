package schemas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// Version selectors accepted where a version number is.
const (
	// LatestVersion selects the newest version that is not soft-deleted.
	LatestVersion = -1
	// AllVersions, in CheckCompatibility, checks as Register would:
	// against the latest version, or every version for transitive levels.
	AllVersions = 0
)

// Registry is the schema registry: the rules over a Store. Safe for
// concurrent use. Writes are serialised within one process; the Store's
// compare-and-append (AddVersion) keeps several processes sharing a store
// from registering a version that skipped a compatibility check.
type Registry struct {
	store        Store
	log          *slog.Logger
	defaultLevel Compatibility // BACKWARD; tests change it
	onChange     func(subject string)
	guard        Guard
	maxDepth     int // maxSchemaDepth; tests lower it

	writeMu sync.Mutex

	cacheMu sync.RWMutex
	byID    map[int]*cachedSchema // ids are immutable: never invalidated
}

type cachedSchema struct {
	schema      *Schema
	fingerprint string
}

// Option configures NewRegistry.
type Option func(*Registry)

// WithLogger sets the logger. Default: slog.Default(). Schema texts and
// payloads are never logged; subjects, versions and ids are.
func WithLogger(l *slog.Logger) Option {
	return func(r *Registry) {
		if l != nil {
			r.log = l
		}
	}
}

// WithOnChange sets a hook called (synchronously, after the store write,
// outside the registry's locks) whenever a version of subject is
// registered or deleted, so the runtime can recompile its plan. Default:
// none. It must not block for long.
func WithOnChange(fn func(subject string)) Option {
	return func(r *Registry) { r.onChange = fn }
}

// Guard decides whether candidate may become the newest version of
// subject, whatever the subject's compatibility level (NONE included): the
// runtime refuses a version that would break an agreement in force. It
// returns nil to accept, a *GuardError to refuse; any other error fails
// the registration as an internal error. It runs while the registry holds
// its write lock, so it must not call back into the registry.
type Guard func(ctx context.Context, subject string, candidate avro.Schema) error

// WithGuard sets the check every new version passes before it is stored
// (Register) and that CheckCompatibility reports. Default: none.
func WithGuard(g Guard) Option {
	return func(r *Registry) { r.guard = g }
}

// NewRegistry returns a registry over store.
func NewRegistry(store Store, opts ...Option) *Registry {
	r := &Registry{
		store:        store,
		log:          slog.Default(),
		defaultLevel: Backward,
		maxDepth:     maxSchemaDepth,
		byID:         map[int]*cachedSchema{},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Store returns the registry's store.
func (r *Registry) Store() Store { return r.store }

// validSubject rejects names that cannot be a subject: empty, not UTF-8,
// control characters, format characters (Unicode Cf: bidi overrides and
// isolates, zero-width characters; a name can then display as another),
// line and paragraph separators (U+2028, U+2029: they break a log line
// as a newline would), longer than 255 bytes, or with a "." or ".." path
// segment (a client joining URL paths without escaping would address
// another subject). Errors are *InvalidSubjectError.
func validSubject(s string) error {
	if s == "" {
		return &InvalidSubjectError{Subject: s, Reason: "empty name"}
	}
	if len(s) > 255 {
		return &InvalidSubjectError{Subject: s, Reason: "name longer than 255 bytes"}
	}
	if !utf8.ValidString(s) {
		return &InvalidSubjectError{Subject: s, Reason: "name is not valid UTF-8"}
	}
	for _, c := range s {
		switch {
		case unicode.IsControl(c):
			return &InvalidSubjectError{Subject: s, Reason: fmt.Sprintf("name contains control character %U", c)}
		case unicode.Is(unicode.Cf, c):
			return &InvalidSubjectError{Subject: s, Reason: fmt.Sprintf("name contains format character %U (invisible; it can make a name display as another)", c)}
		case unicode.In(c, unicode.Zl, unicode.Zp):
			return &InvalidSubjectError{Subject: s, Reason: fmt.Sprintf("name contains line or paragraph separator %U", c)}
		}
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." {
			return &InvalidSubjectError{Subject: s, Reason: fmt.Sprintf("name has a %q path segment", seg)}
		}
	}
	return nil
}

// load returns the parsed schema of id, from the cache or the store.
func (r *Registry) load(ctx context.Context, id int) (*cachedSchema, error) {
	r.cacheMu.RLock()
	c, ok := r.byID[id]
	r.cacheMu.RUnlock()
	if ok {
		return c, nil
	}
	st, err := r.store.SchemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	// Stored texts were validated at registration; the limits are applied
	// again in case the store was written by someone else.
	p, err := parseSchema(st.Text, r.maxDepth)
	if err != nil {
		return nil, fmt.Errorf("stored schema %d: %w", id, err)
	}
	c = &cachedSchema{schema: &Schema{ID: id, Text: st.Text, Avro: p.schema}, fingerprint: st.Fingerprint}
	r.cacheMu.Lock()
	r.byID[id] = c
	r.cacheMu.Unlock()
	return c, nil
}

// SchemaByID returns the schema with global id, or ErrSchemaNotFound.
func (r *Registry) SchemaByID(ctx context.Context, id int) (*Schema, error) {
	c, err := r.load(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return c.schema, nil
}

func (r *Registry) withSchema(ctx context.Context, v SubjectVersion) (SchemaVersion, error) {
	c, err := r.load(ctx, v.SchemaID)
	if err != nil {
		return SchemaVersion{}, fmt.Errorf("subject %q version %d: %w", v.Subject, v.Version, err)
	}
	return SchemaVersion{Subject: v.Subject, Version: v.Version, ID: v.SchemaID, Text: c.schema.Text, Avro: c.schema.Avro, Deleted: v.Deleted}, nil
}

// Subjects lists the subjects with at least one live version, sorted.
func (r *Registry) Subjects(ctx context.Context) ([]string, error) {
	return r.ListSubjects(ctx, false)
}

// ListSubjects lists subjects, with soft-deleted ones when includeDeleted.
func (r *Registry) ListSubjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	s, err := r.store.Subjects(ctx, includeDeleted)
	if err != nil {
		return nil, fmt.Errorf("listing subjects: %w", err)
	}
	return s, nil
}

// Versions returns the live versions of subject, oldest first, with their
// parsed schemas. ErrSubjectNotFound when there are none.
func (r *Registry) Versions(ctx context.Context, subject string) ([]SchemaVersion, error) {
	return r.listVersions(ctx, subject, false)
}

// listVersions is Versions with soft-deleted versions when includeDeleted.
func (r *Registry) listVersions(ctx context.Context, subject string, includeDeleted bool) ([]SchemaVersion, error) {
	vs, err := r.store.Versions(ctx, subject, includeDeleted)
	if err != nil {
		return nil, fmt.Errorf("versions of subject %q: %w", subject, err)
	}
	out := make([]SchemaVersion, 0, len(vs))
	for _, v := range vs {
		sv, err := r.withSchema(ctx, v)
		if err != nil {
			return nil, err
		}
		out = append(out, sv)
	}
	return out, nil
}

// Latest returns the newest live version of subject.
func (r *Registry) Latest(ctx context.Context, subject string) (SchemaVersion, error) {
	return r.Version(ctx, subject, LatestVersion, false)
}

// Version returns one version of subject (LatestVersion for the newest
// live one). A soft-deleted version is ErrVersionNotFound unless
// includeDeleted.
func (r *Registry) Version(ctx context.Context, subject string, version int, includeDeleted bool) (SchemaVersion, error) {
	v, err := r.resolveVersion(ctx, subject, version, includeDeleted)
	if err != nil {
		return SchemaVersion{}, err
	}
	return r.withSchema(ctx, v)
}

func (r *Registry) resolveVersion(ctx context.Context, subject string, version int, includeDeleted bool) (SubjectVersion, error) {
	if version == LatestVersion {
		vs, err := r.store.Versions(ctx, subject, includeDeleted)
		if err != nil {
			return SubjectVersion{}, fmt.Errorf("latest version of subject %q: %w", subject, err)
		}
		return vs[len(vs)-1], nil
	}
	if version < 1 {
		return SubjectVersion{}, fmt.Errorf("%w: %d", ErrInvalidVersion, version)
	}
	v, err := r.store.Version(ctx, subject, version)
	if err != nil {
		return SubjectVersion{}, fmt.Errorf("subject %q version %d: %w", subject, version, err)
	}
	if v.Deleted && !includeDeleted {
		// A subject whose versions are all soft-deleted is not found.
		if _, err := r.store.Versions(ctx, subject, false); errors.Is(err, ErrSubjectNotFound) {
			return SubjectVersion{}, fmt.Errorf("subject %q: %w", subject, ErrSubjectNotFound)
		}
		return SubjectVersion{}, fmt.Errorf("subject %q version %d is soft-deleted: %w", subject, version, ErrVersionNotFound)
	}
	return v, nil
}

// VersionsBySchemaID lists the subject versions that use schema id.
// ErrSchemaNotFound when the id is unknown.
func (r *Registry) VersionsBySchemaID(ctx context.Context, id int, includeDeleted bool) ([]SubjectVersion, error) {
	if _, err := r.load(ctx, id); err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	vs, err := r.store.VersionsBySchemaID(ctx, id, includeDeleted)
	if err != nil {
		return nil, fmt.Errorf("versions of schema %d: %w", id, err)
	}
	return vs, nil
}

// Lookup finds the version of subject whose schema equals schemaJSON
// (after normalisation). ErrSubjectNotFound, or ErrSchemaNotFound when the
// subject has no such version.
func (r *Registry) Lookup(ctx context.Context, subject, schemaJSON string, includeDeleted bool) (SchemaVersion, error) {
	p, err := parseSchema(schemaJSON, r.maxDepth)
	if err != nil {
		return SchemaVersion{}, err
	}
	vs, err := r.store.Versions(ctx, subject, includeDeleted)
	if err != nil {
		return SchemaVersion{}, fmt.Errorf("looking up schema in subject %q: %w", subject, err)
	}
	for i := len(vs) - 1; i >= 0; i-- {
		c, err := r.load(ctx, vs[i].SchemaID)
		if err != nil {
			return SchemaVersion{}, fmt.Errorf("looking up schema in subject %q: %w", subject, err)
		}
		if c.fingerprint == p.fingerprint {
			return r.withSchema(ctx, vs[i])
		}
	}
	return SchemaVersion{}, fmt.Errorf("subject %q has no version with this schema: %w", subject, ErrSchemaNotFound)
}

// Register adds schemaJSON as a new version of subject and returns its
// global id. If a live version of subject already has this schema, its id
// is returned and nothing changes. A schema already registered under
// another subject keeps its id. The new schema must be compatible with the
// subject's versions under the subject's level (Config); otherwise the
// error is an *IncompatibleError naming field, types and rule.
func (r *Registry) Register(ctx context.Context, subject, schemaJSON string) (int, error) {
	if err := validSubject(subject); err != nil {
		return 0, err
	}
	p, err := parseSchema(schemaJSON, r.maxDepth)
	if err != nil {
		return 0, fmt.Errorf("registering under subject %q: %w", subject, err)
	}
	id, version, created, err := r.register(ctx, subject, p)
	if err != nil {
		return 0, err
	}
	if created {
		r.log.Info("schema registered", "subject", subject, "version", version, "id", id)
		r.changed(subject)
	}
	return id, nil
}

func (r *Registry) register(ctx context.Context, subject string, p *parsed) (id, version int, created bool, err error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	const attempts = 5
	for range attempts {
		all, err := r.store.Versions(ctx, subject, true)
		if err != nil && !errors.Is(err, ErrSubjectNotFound) {
			return 0, 0, false, fmt.Errorf("registering under subject %q: %w", subject, err)
		}
		var live []*cachedSchema
		for _, v := range all {
			if v.Deleted {
				continue
			}
			c, err := r.load(ctx, v.SchemaID)
			if err != nil {
				return 0, 0, false, fmt.Errorf("registering under subject %q: version %d: %w", subject, v.Version, err)
			}
			if c.fingerprint == p.fingerprint {
				return v.SchemaID, v.Version, false, nil
			}
			live = append(live, c)
		}
		// The guard first: its refusal names the agreement that would break.
		if err := r.guarded(ctx, subject, p.schema); err != nil {
			return 0, 0, false, err
		}
		level, err := r.Config(ctx, subject)
		if err != nil {
			return 0, 0, false, err
		}
		if msgs := r.check(level, p.schema, live, liveVersions(all)); len(msgs) > 0 {
			return 0, 0, false, &IncompatibleError{Subject: subject, Level: level, Messages: msgs}
		}
		id, err := r.store.CreateSchema(ctx, p.fingerprint, p.text)
		if err != nil {
			return 0, 0, false, fmt.Errorf("registering under subject %q: %w", subject, err)
		}
		expected := 0
		if len(all) > 0 {
			expected = all[len(all)-1].Version
		}
		version, err := r.store.AddVersion(ctx, subject, id, expected)
		if errors.Is(err, ErrConflict) {
			continue // another process registered meanwhile: check again
		}
		if err != nil {
			return 0, 0, false, fmt.Errorf("registering under subject %q: %w", subject, err)
		}
		return id, version, true, nil
	}
	return 0, 0, false, fmt.Errorf("registering under subject %q: gave up after %d concurrent modifications: %w", subject, attempts, ErrConflict)
}

// guarded runs the guard on a candidate version of subject; a refusal is
// logged (names only) and returned as it is, with the subject filled in.
func (r *Registry) guarded(ctx context.Context, subject string, candidate avro.Schema) error {
	if r.guard == nil {
		return nil
	}
	err := r.guard(ctx, subject, candidate)
	if err == nil {
		return nil
	}
	var ge *GuardError
	if errors.As(err, &ge) {
		if ge.Subject == "" {
			ge.Subject = subject
		}
		r.log.Warn("schema refused", "subject", subject, "agreement", ge.Agreement, "field", ge.Field, "reason", ge.Reason)
		return err
	}
	return fmt.Errorf("registering under subject %q: checking the version against the policy: %w", subject, err)
}

func liveVersions(all []SubjectVersion) []int {
	var out []int
	for _, v := range all {
		if !v.Deleted {
			out = append(out, v.Version)
		}
	}
	return out
}

// check returns the incompatibilities of candidate against the live
// versions (oldest first) under level.
func (r *Registry) check(level Compatibility, candidate avro.Schema, live []*cachedSchema, versions []int) []string {
	if level == None || len(live) == 0 {
		return nil
	}
	from := len(live) - 1
	if level.transitive() {
		from = 0
	}
	var msgs []string
	for i := len(live) - 1; i >= from; i-- {
		msgs = append(msgs, checkPair(level, candidate, live[i].schema.Avro, versions[i])...)
	}
	return msgs
}

// CompatibilityResult is the outcome of CheckCompatibility.
type CompatibilityResult struct {
	Compatible bool
	Messages   []string
}

// CheckCompatibility tests schemaJSON against version of subject under
// the subject's level, without registering. version is a number,
// LatestVersion, or AllVersions (the versions Register would check; a
// subject without versions is then compatible).
func (r *Registry) CheckCompatibility(ctx context.Context, subject string, version int, schemaJSON string) (CompatibilityResult, error) {
	p, err := parseSchema(schemaJSON, r.maxDepth)
	if err != nil {
		return CompatibilityResult{}, err
	}
	level, err := r.Config(ctx, subject)
	if err != nil {
		return CompatibilityResult{}, err
	}
	var msgs []string
	if version == AllVersions {
		all, err := r.store.Versions(ctx, subject, false)
		if err != nil && !errors.Is(err, ErrSubjectNotFound) {
			return CompatibilityResult{}, fmt.Errorf("checking compatibility with subject %q: %w", subject, err)
		}
		var live []*cachedSchema
		for _, v := range all {
			c, err := r.load(ctx, v.SchemaID)
			if err != nil {
				return CompatibilityResult{}, fmt.Errorf("checking compatibility with subject %q: %w", subject, err)
			}
			live = append(live, c)
		}
		msgs = r.check(level, p.schema, live, liveVersions(all))
	} else {
		v, err := r.Version(ctx, subject, version, false)
		if err != nil {
			return CompatibilityResult{}, err
		}
		if level != None {
			msgs = checkPair(level, p.schema, v.Avro, v.Version)
		}
	}
	// Register would also ask the guard; the answer says so too.
	var ge *GuardError
	if err := r.guarded(ctx, subject, p.schema); errors.As(err, &ge) {
		msgs = append(msgs, ge.Error())
	} else if err != nil {
		return CompatibilityResult{}, err
	}
	return CompatibilityResult{Compatible: len(msgs) == 0, Messages: msgs}, nil
}

// Config returns the level in force for subject: its own, else the
// registry's global one, else the default. Config(ctx, "") is the global
// level.
func (r *Registry) Config(ctx context.Context, subject string) (Compatibility, error) {
	if subject != "" {
		c, err := r.store.Config(ctx, subject)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrConfigNotFound) {
			return "", fmt.Errorf("compatibility of subject %q: %w", subject, err)
		}
	}
	c, err := r.store.Config(ctx, "")
	if errors.Is(err, ErrConfigNotFound) {
		return r.defaultLevel, nil
	}
	if err != nil {
		return "", fmt.Errorf("global compatibility: %w", err)
	}
	return c, nil
}

// SubjectConfig returns the level set on subject itself, or
// ErrConfigNotFound.
func (r *Registry) SubjectConfig(ctx context.Context, subject string) (Compatibility, error) {
	c, err := r.store.Config(ctx, subject)
	if err != nil {
		return "", fmt.Errorf("compatibility of subject %q: %w", subject, err)
	}
	return c, nil
}

// SetConfig sets the level of subject ("" = global).
func (r *Registry) SetConfig(ctx context.Context, subject string, level Compatibility) error {
	if !level.valid() {
		return fmt.Errorf("%w: %q", ErrInvalidCompatibility, level)
	}
	if subject != "" {
		if err := validSubject(subject); err != nil {
			return err
		}
	}
	if err := r.store.SetConfig(ctx, subject, level); err != nil {
		return fmt.Errorf("setting compatibility of %q: %w", subject, err)
	}
	r.log.Info("compatibility set", "subject", subject, "level", string(level))
	return nil
}

// DeleteConfig removes the level set on subject ("" = global) and returns
// it; ErrConfigNotFound when none was set.
func (r *Registry) DeleteConfig(ctx context.Context, subject string) (Compatibility, error) {
	prev, err := r.store.Config(ctx, subject)
	if err != nil {
		return "", fmt.Errorf("deleting compatibility of %q: %w", subject, err)
	}
	if err := r.store.DeleteConfig(ctx, subject); err != nil {
		return "", fmt.Errorf("deleting compatibility of %q: %w", subject, err)
	}
	return prev, nil
}

// DeleteSubject soft-deletes every live version of subject, or with
// permanent removes every version of a subject whose versions were all
// soft-deleted before (and its compatibility setting). It returns the
// version numbers deleted. Errors: ErrSubjectNotFound,
// ErrSubjectSoftDeleted (soft delete of an already soft-deleted subject),
// ErrSubjectNotSoftDeleted (permanent delete of live versions).
func (r *Registry) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	deleted, err := r.deleteSubject(ctx, subject, permanent)
	if err != nil {
		return nil, err
	}
	r.log.Info("subject deleted", "subject", subject, "permanent", permanent, "versions", deleted)
	r.changed(subject)
	return deleted, nil
}

func (r *Registry) deleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	all, err := r.store.Versions(ctx, subject, true)
	if err != nil {
		return nil, fmt.Errorf("deleting subject %q: %w", subject, err)
	}
	live := liveVersions(all)
	deleted := []int{}
	if !permanent {
		if len(live) == 0 {
			return nil, fmt.Errorf("deleting subject %q: %w", subject, ErrSubjectSoftDeleted)
		}
		for _, v := range live {
			if err := r.store.SoftDeleteVersion(ctx, subject, v); err != nil {
				return nil, fmt.Errorf("deleting subject %q: %w", subject, err)
			}
			deleted = append(deleted, v)
		}
		return deleted, nil
	}
	if len(live) > 0 {
		return nil, fmt.Errorf("permanently deleting subject %q: %w", subject, ErrSubjectNotSoftDeleted)
	}
	for _, v := range all {
		if err := r.store.DeleteVersion(ctx, subject, v.Version); err != nil {
			return nil, fmt.Errorf("permanently deleting subject %q: %w", subject, err)
		}
		deleted = append(deleted, v.Version)
	}
	if err := r.store.DeleteConfig(ctx, subject); err != nil && !errors.Is(err, ErrConfigNotFound) {
		return nil, fmt.Errorf("permanently deleting subject %q: %w", subject, err)
	}
	return deleted, nil
}

// DeleteVersion soft-deletes one version (LatestVersion: the newest live
// one), or with permanent removes a version soft-deleted before. It
// returns the version number. Errors: ErrSubjectNotFound,
// ErrVersionNotFound, ErrVersionSoftDeleted, ErrVersionNotSoftDeleted.
func (r *Registry) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) (int, error) {
	n, err := r.deleteVersion(ctx, subject, version, permanent)
	if err != nil {
		return 0, err
	}
	r.log.Info("schema version deleted", "subject", subject, "version", n, "permanent", permanent)
	r.changed(subject)
	return n, nil
}

func (r *Registry) deleteVersion(ctx context.Context, subject string, version int, permanent bool) (int, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	v, err := r.resolveVersion(ctx, subject, version, permanent || version != LatestVersion)
	if err != nil {
		return 0, fmt.Errorf("deleting: %w", err)
	}
	if !permanent {
		if v.Deleted {
			return 0, fmt.Errorf("deleting subject %q version %d: %w", subject, v.Version, ErrVersionSoftDeleted)
		}
		if err := r.store.SoftDeleteVersion(ctx, subject, v.Version); err != nil {
			return 0, fmt.Errorf("deleting: %w", err)
		}
		return v.Version, nil
	}
	if !v.Deleted {
		return 0, fmt.Errorf("permanently deleting subject %q version %d: %w", subject, v.Version, ErrVersionNotSoftDeleted)
	}
	if err := r.store.DeleteVersion(ctx, subject, v.Version); err != nil {
		return 0, fmt.Errorf("permanently deleting: %w", err)
	}
	return v.Version, nil
}

func (r *Registry) changed(subject string) {
	if r.onChange != nil {
		r.onChange(subject)
	}
}
