package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// planBuilder turns the contracts directory and the registry into a
// compiled plan. Safe for concurrent use (mu).
type planBuilder struct {
	// mu serialises builds and change checks: App.Reload is exported, so a
	// caller may build while the reload loop polls.
	mu          sync.Mutex
	dir         string
	registerDir bool // register every *.avsc in dir under its file name (dev mode)
	reg         *schemas.Registry
	docs        store.AgreementStore // nil: documents are not recorded
	keys        *Keys
	log         *slog.Logger
	// gate holds the agreement states the plan is compiled with (nil: the
	// files' statuses, a store without lifecycle states).
	gate *exchange.Gate

	// steward records agreement documents and their lifecycle (nil: as
	// plain documents); seed lets a never-seen id take its file's status
	// and approvals (dev mode, serve --seed-from-files).
	steward *stewardship.Service
	seed    bool

	lastSig   string // signature of dir's files at the last build attempt
	avscSig   string // signature of the *.avsc files last registered
	built     int
	derivedNo map[string]bool // derived subjects already set to compatibility NONE

	content   planContent     // of the plan last built
	statesSig string          // statesSignature of the states it was compiled with
	set       *agreements.Set // the documents of the plan last built
	// changes says what the plan last built changed: against the previous
	// plan, or at the first build against the documents recorded by an
	// earlier start (nil on a fresh store). Names only, never values.
	changes []string
	// leftOut describes the stored agreements the plan last built left
	// out (their terms no longer validate); terms caches parsed stored
	// terms by id and document version (storedterms.go).
	leftOut []string
	terms   map[termsKey]*agreements.Agreement
}

// dirSignature names every policy file with its size and modification time,
// so a poll can tell cheaply whether anything changed. Files are stat'ed
// through symlinks: a Kubernetes ConfigMap volume holds each file as a
// symlink into a directory it replaces on every update, so the links
// themselves never change.
func dirSignature(dir string, exts ...string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", dir, err)
	}
	var b strings.Builder
	for _, e := range entries {
		if e.IsDir() || !hasExt(e.Name(), exts) {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return "", err
		}
		fmt.Fprintf(&b, "%s|%d|%d\n", e.Name(), fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

func hasExt(name string, exts []string) bool {
	for _, x := range exts {
		if strings.HasSuffix(name, x) {
			return true
		}
	}
	return false
}

// changed reports whether the directory changed since the last build.
func (b *planBuilder) changed() (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sig, err := dirSignature(b.dir, ".yaml", ".yml", ".avsc", ".ics") // .ics: calendars' holidays files
	if err != nil {
		return false, err
	}
	return sig != b.lastSig, nil
}

// registerSchemaFiles registers every <subject>.avsc of the directory.
// A file whose schema is refused (incompatible, invalid) is reported and the
// subject keeps the versions it has: the exchange keeps running.
func (b *planBuilder) registerSchemaFiles(ctx context.Context) error {
	sig, err := dirSignature(b.dir, ".avsc")
	if err != nil {
		return err
	}
	if sig == b.avscSig {
		return nil
	}
	matches, err := filepath.Glob(filepath.Join(b.dir, "*.avsc"))
	if err != nil {
		return err
	}
	sort.Strings(matches)
	var errs []error
	for _, path := range matches {
		subject := strings.TrimSuffix(filepath.Base(path), ".avsc")
		text, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		id, err := b.reg.Register(ctx, subject, string(text))
		if err != nil {
			errs = append(errs, fmt.Errorf("registering %s under %s: %w", path, subject, err))
			continue
		}
		b.log.Debug("schema registered", "subject", subject, "id", id, "file", path)
	}
	b.avscSig = sig
	return errors.Join(errs...)
}

// loadDocuments loads every contract and agreement of the directory and
// validates them (the first step of build, and all that HTTP ingest run
// alone needs of the policy: NewIngestServer). Every problem comes back
// at once.
func (b *planBuilder) loadDocuments(ctx context.Context) (*agreements.Set, error) {
	sig, err := dirSignature(b.dir, ".yaml", ".yml", ".avsc", ".ics")
	if err != nil {
		return nil, err
	}
	b.lastSig = sig
	if b.registerDir {
		if err := b.registerSchemaFiles(ctx); err != nil {
			b.log.Error("some schema files were not registered", "err", err)
		}
	}
	set, err := agreements.LoadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", b.dir, err)
	}
	if probs := agreements.Validate(set); len(probs) > 0 {
		return nil, fmt.Errorf("validating %s: %w", b.dir, probs)
	}
	return set, nil
}

// build loads every contract and agreement, validates them against the
// registered schemas and compiles the plan. Every problem comes back at once.
// The caller holds b.mu (buildWithStates).
func (b *planBuilder) build(ctx context.Context) (*policy.Plan, error) {
	// Before the documents, so that a build failing on them still notes
	// the states it was attempted with (readStates).
	states, err := b.readStates(ctx)
	if err != nil {
		return nil, err
	}
	set, err := b.loadDocuments(ctx)
	if err != nil {
		return nil, err
	}
	schemaList, err := b.allSchemas(ctx)
	if err != nil {
		return nil, err
	}
	content, err := readPlanContent(b.dir, set, schemaList)
	if err != nil {
		return nil, err
	}
	// The plan (and the ACLs) follow the stored states; the files' own
	// statuses and approvals still go to recordDocuments (seeding).
	compiled, leftOut := set, []string(nil)
	if states != nil {
		compiled, leftOut = b.withStoredTerms(ctx, set, states)
		for _, a := range compiled.Agreements {
			// The terms too: the plan version changes when stored terms
			// no file holds change.
			content.add("state of agreement "+a.ID, []byte(string(a.Status)+" "+a.ContentHash()))
		}
	}
	in := policy.Input{
		Agencies:     compiled.Agencies,
		Contracts:    compiled.Contracts,
		Agreements:   compiled.Agreements,
		Calendars:    compiled.Calendars,
		Schemas:      schemaList,
		PseudonymKey: b.keys.PseudonymKey,
		SubjectKey:   b.keys.SubjectKey(),
		Version:      content.version(),
		RegisterDerived: func(subject string, s avro.Schema) (int, error) {
			return b.registerDerived(ctx, subject, s)
		},
	}
	// A dataset whose schemas do not compile is quarantined rather than
	// refusing the plan: a registry write must not freeze every other
	// dataset's reloads, suspensions and revocations.
	plan, err := policy.Compile(in, policy.IsolateSchemaProblems())
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", b.dir, err)
	}
	var recorded []string
	if b.docs != nil {
		if recorded, err = b.recordDocuments(ctx, set); err != nil {
			// The plan is valid; failing to record history is reported, not fatal.
			b.log.Error("recording contract and agreement versions", "err", err)
		}
	}
	if b.built == 0 {
		b.changes = recorded
	} else {
		b.changes = content.changesSince(b.content)
	}
	b.content = content
	b.set = compiled
	b.leftOut = leftOut
	if b.steward != nil {
		b.steward.SetPolicy(set)
	}
	b.built++
	return plan, nil
}

// readStates reads the agreement states the plan is compiled with
// (overlayStates; the plan version changes with them), fresh, and notes
// their signature: like lastSig, statesSig is of the last attempt, so a
// build that fails is not retried until something changes again. States
// that cannot be read refuse the build: the plan in force stays, and the
// gate keeps enforcing on its own. nil without a gate.
func (b *planBuilder) readStates(ctx context.Context) (map[string]store.AgreementState, error) {
	if b.gate == nil {
		return nil, nil
	}
	if err := b.gate.Refresh(ctx); err != nil {
		return nil, err
	}
	states, _ := b.gate.States()
	b.statesSig = statesSignature(states)
	if states == nil {
		states = map[string]store.AgreementState{}
	}
	return states, nil
}

// buildWithStates builds the plan, and builds it again when building
// changed the agreement states it was compiled with: recording the files
// may seed states (dev mode, --seed-from-files) or move an agreement whose
// terms changed back to proposed, and the plan must not lag behind.
func (b *planBuilder) buildWithStates(ctx context.Context) (*policy.Plan, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	plan, err := b.build(ctx)
	if err != nil || b.gate == nil {
		return plan, err
	}
	if err := b.gate.Refresh(ctx); err != nil || !b.statesChangedLocked() {
		return plan, nil // the reloader retries with the states once they read
	}
	changes, first := b.changes, b.built == 1
	again, err := b.build(ctx)
	if err != nil {
		// Keep the first plan; the reloader tries again at its next tick.
		b.statesSig = ""
		b.log.Error("rebuilding the plan with the agreement states recorded from the files", "err", err)
		return plan, nil
	}
	if first {
		// At a start, changes are against the documents recorded before
		// (issue 15), not against the plan compiled a moment ago.
		b.changes = changes
	} else {
		b.changes = append(changes, b.changes...)
	}
	return again, nil
}

// statesChanged reports whether the gate's states differ from those the
// plan last built was compiled with.
func (b *planBuilder) statesChanged() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.statesChangedLocked()
}

// statesChangedLocked is statesChanged with b.mu held.
func (b *planBuilder) statesChangedLocked() bool {
	if b.gate == nil {
		return false
	}
	states, _ := b.gate.States()
	return states != nil && statesSignature(states) != b.statesSig
}

// allSchemas lists every registered version of every subject: the plan needs
// them all to tell an unknown schema id from one of another dataset.
func (b *planBuilder) allSchemas(ctx context.Context) ([]schemas.SchemaVersion, error) {
	subjects, err := b.reg.Subjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing subjects: %w", err)
	}
	var out []schemas.SchemaVersion
	for _, s := range subjects {
		versions, err := b.reg.Versions(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("listing versions of %s: %w", s, err)
		}
		out = append(out, versions...)
	}
	return out, nil
}

// registerDerived registers an agreement's derived schema. Derived subjects
// accept any evolution (compatibility NONE): each delivered record names
// its exact schema id, and the agreement change that altered the shape is
// itself the reviewed, audited event.
func (b *planBuilder) registerDerived(ctx context.Context, subject string, s avro.Schema) (int, error) {
	if b.derivedNo == nil {
		b.derivedNo = map[string]bool{}
	}
	if !b.derivedNo[subject] {
		if err := b.reg.SetConfig(ctx, subject, schemas.None); err != nil {
			return 0, fmt.Errorf("setting compatibility of %s: %w", subject, err)
		}
		b.derivedNo[subject] = true
	}
	id, err := b.reg.Register(ctx, subject, s.String())
	if err != nil {
		return 0, fmt.Errorf("registering derived schema %s: %w", subject, err)
	}
	return id, nil
}

// recordDocuments stores each document of the directory as a version in the
// agreements store (unchanged documents are not stored again). It returns
// the documents that differ from their latest recorded version ("agreement
// X changed", "contract D added"), or nil when the store held none: what
// changed since an earlier start.
func (b *planBuilder) recordDocuments(ctx context.Context, set *agreements.Set) ([]string, error) {
	paths, err := agreements.Files(b.dir) // the files the plan was compiled from
	if err != nil {
		return nil, err
	}
	var changed []string
	known := false
	var errs []error
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs, _, err := agreements.SplitDocuments(p, data)
		if err != nil {
			errs = append(errs, err)
		}
		for _, d := range docs {
			switch prev, err := b.docs.Document(ctx, d.Kind, d.ID, 0); {
			case errors.Is(err, store.ErrNotFound):
				changed = append(changed, documentName(d.Kind, d.ID)+" added")
			case err != nil:
				errs = append(errs, fmt.Errorf("reading the recorded %s %s: %w", d.Kind, d.ID, err))
			default:
				known = true
				if !bytes.Equal(prev.YAML, d.YAML) {
					changed = append(changed, documentName(d.Kind, d.ID)+" changed")
				}
			}
			if err := b.recordDocument(ctx, set, filepath.Base(p), d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if !known {
		changed = nil // a fresh store: the first plan, nothing to compare with
	}
	sort.Strings(changed)
	return changed, errors.Join(errs...)
}

// recordDocument stores one document of file; an agreement goes through
// the stewardship file sync, which records its lifecycle by the rules and
// never takes its status from the file (except seeding a new id).
func (b *planBuilder) recordDocument(ctx context.Context, set *agreements.Set, file string, d agreements.Document) error {
	if a, ok := set.Agreement(d.ID); ok && d.Kind == agreements.KindAgreement && b.steward != nil {
		// The file is read again here, after the set was loaded: if it was
		// written in between, its text no longer holds the terms the set
		// (and the plan) has. Syncing that text under the set's terms would
		// store the new text without moving the lifecycle, and the next
		// reload would find the text already synced. Skip it; the next
		// reload (forced) syncs text and terms together.
		if fresh, err := agreements.Load(file, d.YAML); err != nil || len(fresh.Agreements) != 1 || fresh.Agreements[0].ContentHash() != a.ContentHash() {
			b.lastSig = ""
			b.log.Info("agreement file changed during the reload; it is synced at the next", "agreement", d.ID, "file", file)
			return nil
		}
		what, err := b.steward.SyncFile(ctx, file, d.YAML, a, b.seed)
		if what != "" {
			b.log.Info("agreement lifecycle recorded from file", "agreement", d.ID, "file", file, "what", what)
		}
		return err
	}
	doc := store.Document{Kind: d.Kind, ID: d.ID, Status: d.Status, YAML: d.YAML, Author: "file:" + file}
	if _, err := b.docs.PutDocument(ctx, doc); err != nil {
		return fmt.Errorf("storing %s %s: %w", doc.Kind, doc.ID, err)
	}
	return nil
}
