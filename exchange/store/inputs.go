package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The input checks and version rules every backend applies before and
// inside its transactions, so that PostgreSQL and SQLite refuse and store
// the same things (the conformance suite in storetest holds them to it).

// CheckText refuses text that is not UTF-8 or holds NUL: PostgreSQL's text
// columns cannot hold it, and SQLite would store what PostgreSQL refuses.
func CheckText(what, s string) error {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s is not UTF-8 text or holds NUL", what)
	}
	return nil
}

// checkTexts runs CheckText over name/value pairs in order, naming each
// field after prefix.
func checkTexts(prefix string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if err := CheckText(prefix+fields[i], fields[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// PrepareDocument checks d for PutDocument and returns it with Hash set.
func PrepareDocument(d Document) (Document, error) {
	if d.Kind == "" || d.ID == "" {
		return Document{}, errors.New("put document: kind and id are required")
	}
	if err := checkTexts("put document: ", "kind", d.Kind, "id", d.ID, "yaml", string(d.YAML),
		"author", d.Author, "status", string(d.Status)); err != nil {
		return Document{}, err
	}
	sum := sha256.Sum256(d.YAML)
	d.Hash = sum[:]
	return d, nil
}

// NextVersion decides what PutDocument stores after latest, the newest
// stored version of (d.Kind, d.ID) as its LIMIT 1 query returns it (empty
// when there is none): d as the next version, created now at the
// microsecond precision both backends keep; or, when d's text equals
// latest's, nothing (store is false) and latest is what PutDocument returns.
func NextVersion(latest []Document, d Document, now time.Time) (out Document, store bool) {
	if len(latest) > 0 && string(latest[0].YAML) == string(d.YAML) {
		return latest[0], false
	}
	d.Version = 1
	if len(latest) > 0 {
		d.Version = latest[0].Version + 1
	}
	d.Created = now.UTC().Truncate(time.Microsecond)
	return d, true
}
