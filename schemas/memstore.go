package schemas

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// memoryStore is the in-memory Store: one mutex, plain maps. Fine for dev
// mode and tests; nothing survives the process.
type memoryStore struct {
	mu       sync.Mutex
	nextID   int
	byID     map[int]StoredSchema
	byFP     map[string]int
	subjects map[string][]SubjectVersion // ascending by Version
	configs  map[string]Compatibility
}

// NewMemoryStore returns an empty in-memory Store, safe for concurrent use.
func NewMemoryStore() Store {
	return &memoryStore{
		nextID:   1,
		byID:     map[int]StoredSchema{},
		byFP:     map[string]int{},
		subjects: map[string][]SubjectVersion{},
		configs:  map[string]Compatibility{},
	}
}

var _ Store = (*memoryStore)(nil)

func (m *memoryStore) CreateSchema(ctx context.Context, fingerprint, text string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("create schema: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.byFP[fingerprint]; ok {
		return id, nil
	}
	id := m.nextID
	m.nextID++
	m.byID[id] = StoredSchema{ID: id, Text: text, Fingerprint: fingerprint}
	m.byFP[fingerprint] = id
	return id, nil
}

func (m *memoryStore) SchemaByID(ctx context.Context, id int) (StoredSchema, error) {
	if err := ctx.Err(); err != nil {
		return StoredSchema{}, fmt.Errorf("schema %d: %w", id, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byID[id]
	if !ok {
		return StoredSchema{}, fmt.Errorf("schema %d: %w", id, ErrSchemaNotFound)
	}
	return s, nil
}

func (m *memoryStore) SchemaByFingerprint(ctx context.Context, fingerprint string) (StoredSchema, error) {
	if err := ctx.Err(); err != nil {
		return StoredSchema{}, fmt.Errorf("schema by fingerprint: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byFP[fingerprint]
	if !ok {
		return StoredSchema{}, fmt.Errorf("schema with fingerprint %s: %w", fingerprint, ErrSchemaNotFound)
	}
	return m.byID[id], nil
}

func (m *memoryStore) AddVersion(ctx context.Context, subject string, schemaID, expectedLatest int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("add version to subject %q: %w", subject, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[schemaID]; !ok {
		return 0, fmt.Errorf("add version to subject %q: schema %d: %w", subject, schemaID, ErrSchemaNotFound)
	}
	vs := m.subjects[subject]
	latest := 0
	if len(vs) > 0 {
		latest = vs[len(vs)-1].Version
	}
	if latest != expectedLatest {
		return 0, fmt.Errorf("add version to subject %q: latest version is %d, expected %d: %w", subject, latest, expectedLatest, ErrConflict)
	}
	v := SubjectVersion{Subject: subject, Version: latest + 1, SchemaID: schemaID}
	m.subjects[subject] = append(vs, v)
	return v.Version, nil
}

func (m *memoryStore) Versions(ctx context.Context, subject string, includeDeleted bool) ([]SubjectVersion, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("versions of subject %q: %w", subject, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SubjectVersion
	for _, v := range m.subjects[subject] {
		if includeDeleted || !v.Deleted {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("versions of subject %q: %w", subject, ErrSubjectNotFound)
	}
	return out, nil
}

// find returns the index of version in subject; m.mu must be held.
func (m *memoryStore) find(subject string, version int) (int, error) {
	vs := m.subjects[subject]
	if len(vs) == 0 {
		return 0, fmt.Errorf("subject %q: %w", subject, ErrSubjectNotFound)
	}
	for i, v := range vs {
		if v.Version == version {
			return i, nil
		}
	}
	return 0, fmt.Errorf("subject %q version %d: %w", subject, version, ErrVersionNotFound)
}

func (m *memoryStore) Version(ctx context.Context, subject string, version int) (SubjectVersion, error) {
	if err := ctx.Err(); err != nil {
		return SubjectVersion{}, fmt.Errorf("subject %q version %d: %w", subject, version, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i, err := m.find(subject, version)
	if err != nil {
		return SubjectVersion{}, err
	}
	return m.subjects[subject][i], nil
}

func (m *memoryStore) Subjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list subjects: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []string{}
	for s, vs := range m.subjects {
		for _, v := range vs {
			if includeDeleted || !v.Deleted {
				out = append(out, s)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *memoryStore) VersionsBySchemaID(ctx context.Context, id int, includeDeleted bool) ([]SubjectVersion, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("versions of schema %d: %w", id, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []SubjectVersion{}
	for _, vs := range m.subjects {
		for _, v := range vs {
			if v.SchemaID == id && (includeDeleted || !v.Deleted) {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

func (m *memoryStore) SoftDeleteVersion(ctx context.Context, subject string, version int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("soft-delete subject %q version %d: %w", subject, version, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i, err := m.find(subject, version)
	if err != nil {
		return fmt.Errorf("soft-delete: %w", err)
	}
	m.subjects[subject][i].Deleted = true
	return nil
}

func (m *memoryStore) DeleteVersion(ctx context.Context, subject string, version int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete subject %q version %d: %w", subject, version, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i, err := m.find(subject, version)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	vs := m.subjects[subject]
	vs = append(vs[:i:i], vs[i+1:]...)
	if len(vs) == 0 {
		delete(m.subjects, subject)
	} else {
		m.subjects[subject] = vs
	}
	return nil
}

func (m *memoryStore) Config(ctx context.Context, subject string) (Compatibility, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("config of %q: %w", subject, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.configs[subject]
	if !ok {
		return "", fmt.Errorf("config of %q: %w", subject, ErrConfigNotFound)
	}
	return c, nil
}

func (m *memoryStore) SetConfig(ctx context.Context, subject string, level Compatibility) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set config of %q: %w", subject, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.configs[subject] = level
	return nil
}

func (m *memoryStore) DeleteConfig(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete config of %q: %w", subject, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.configs[subject]; !ok {
		return fmt.Errorf("delete config of %q: %w", subject, ErrConfigNotFound)
	}
	delete(m.configs, subject)
	return nil
}
