package stewardship

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

// SyncFile records an agreement document read from file (its base name)
// with text, parsed as a: the terms as a document version, and the
// lifecycle as the rules allow, never as the file's status: says.
//
//   - An id with no lifecycle state yet is recorded as proposed with no
//     approvals, by "file:<name>"; with seed (exchange dev, serve
//     --seed-from-files) it takes the file's status and approvals instead,
//     once, recorded as "seeded from file".
//   - After that, a file whose text changed since this file last gave it
//     and whose terms differ from the state's moves it to proposed (a
//     terms change: approvals cleared, a new round). A file unchanged since
//     it was last synced changes nothing, so terms proposed through the API
//     are not overwritten by a stale file at the next reload.
//   - A revoked or expired agreement stays so whatever the file says.
//
// A file's status:, approvals: or history: that differ from the store are
// logged (warn) and ignored. It returns a description of what changed ("",
// when nothing did).
func (s *Service) SyncFile(ctx context.Context, file string, text []byte, a *agreements.Agreement, seed bool) (string, error) {
	author := "file:" + file
	fileChanged, err := s.fileChanged(ctx, a.ID, author, text)
	if err != nil {
		return "", err
	}
	if fileChanged {
		if _, err := s.db.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: a.ID, Status: a.Status, YAML: text, Author: author}); err != nil {
			return "", fmt.Errorf("storing agreement %s from %s: %w", a.ID, file, err)
		}
	}
	hash := a.ContentHash()
	var what string
	before := 0
	l, err := s.db.Act(ctx, a.ID, func(l store.Lifecycle) (store.LifecycleChange, error) {
		before, what = len(l.Transitions), ""
		st := l.State()
		switch {
		case st.Status == "":
			c := firstState(a, author, hash, seed)
			what = fmt.Sprintf("agreement %s recorded as %s (%s)", a.ID, c.Transitions[0].To, c.Transitions[0].Reason)
			return c, nil
		case st.Status.Final() || !fileChanged || st.ContentHash == hash:
			return store.LifecycleChange{}, nil
		}
		what = fmt.Sprintf("agreement %s: terms changed in %s; back to proposed, approvals cleared", a.ID, file)
		return store.LifecycleChange{Transitions: []store.Transition{{From: st.Status, To: agreements.StatusProposed, By: author,
			Reason: "terms changed in " + file + ": approvals cleared", ContentHash: hash, ValidUntil: a.ValidUntil}}}, nil
	})
	if err != nil {
		return "", fmt.Errorf("syncing agreement %s from %s: %w", a.ID, file, err)
	}
	s.warnIgnored(a, file, hash, l)
	s.announce(ctx, a, l, before)
	return what, nil
}

// fileChanged reports whether text differs from the latest version of the
// agreement that author (the same file) stored; true when it stored none.
func (s *Service) fileChanged(ctx context.Context, id, author string, text []byte) (bool, error) {
	versions, err := s.db.DocumentVersions(ctx, agreements.KindAgreement, id)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the recorded versions of agreement %s: %w", id, err)
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if versions[i].Author == author {
			return !bytes.Equal(versions[i].YAML, text), nil
		}
	}
	return true, nil
}

// firstState is the first transition of an agreement id never seen: as
// proposed, or seeded with the file's status and approvals.
func firstState(a *agreements.Agreement, author, hash string, seed bool) store.LifecycleChange {
	t := store.Transition{To: agreements.StatusProposed, By: author, ContentHash: hash, ValidUntil: a.ValidUntil,
		Reason: "recorded from file as proposed: a file's status and approvals are not proof"}
	if !seed || !a.Status.Valid() {
		return store.LifecycleChange{Transitions: []store.Transition{t}}
	}
	t.To, t.Reason = a.Status, "seeded from file"
	c := store.LifecycleChange{Transitions: []store.Transition{t}}
	for _, ap := range a.Approvals {
		c.Approvals = append(c.Approvals, store.Approval{Agency: ap.Agency, Steward: ap.Steward, At: ap.At, ContentHash: hash})
	}
	return c
}

// warnIgnored logs a file's lifecycle keys that disagree with the store.
func (s *Service) warnIgnored(a *agreements.Agreement, file, hash string, l store.Lifecycle) {
	st := l.State()
	var diffs []string
	if a.KeyPos["status"] != (agreements.Pos{}) && a.Status != st.Status {
		diffs = append(diffs, fmt.Sprintf("status %s (store: %s)", a.Status, st.Status))
	}
	if len(a.Approvals) > 0 && !sameApprovals(a.Approvals, roundApprovals(l)) {
		diffs = append(diffs, "approvals")
	}
	if len(a.History) > 0 && len(a.History) != len(l.Transitions) {
		diffs = append(diffs, "history")
	}
	if len(diffs) == 0 {
		return
	}
	s.log.Warn("agreement file's lifecycle ignored: status, approvals and history change only through steward actions",
		"agreement", a.ID, "file", file, "differs", fmt.Sprint(diffs), "status", st.Status, "content_hash", shortHash(st.ContentHash), "file_content_hash", shortHash(hash))
}

func sameApprovals(file []agreements.Approval, stored []store.Approval) bool {
	if len(file) != len(stored) {
		return false
	}
	for _, f := range file {
		found := false
		for _, s := range stored {
			found = found || (s.Agency == f.Agency && s.Steward == f.Steward)
		}
		if !found {
			return false
		}
	}
	return true
}
