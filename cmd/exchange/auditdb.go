package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/exchange-gov/exchange/exchange/store"
)

// Where `exchange dev` keeps its state by default (its --data-dir) and the
// files in it the audit commands read.
const (
	devDataDir        = ".exchange-dev"
	devLedgerFile     = "exchange.db"
	devSigningKeyFile = "ledger-signing.key" // its public key is this + ".pub"
)

// acceptedStoreForms is what --database takes, for error messages.
const acceptedStoreForms = "postgres://user@host/db, sqlite:relative/path.db, sqlite:///absolute/path.db, or the path of an existing SQLite file"

// errNoDatabase: no --database, no $EXCHANGE_DATABASE_URL, no dev ledger here.
var errNoDatabase = errors.New("no --database given and no " + devDataDir + "/" + devLedgerFile + " in this directory: pass --database URL (" +
	acceptedStoreForms + ") or set $" + databaseEnv + "; `exchange dev` keeps its ledger in " + devDataDir + "/" + devLedgerFile +
	" of the directory it runs in")

// storeTarget is the store the audit commands open: its URL, and, for the
// dev ledger, the public key file beside it ("" when absent).
type storeTarget struct {
	url    string
	devKey string
}

// resolveStore turns what --database says into a store URL, saying on
// stderr what it chose when that is not literally what was given: no flag
// in a directory holding .exchange-dev/ is the dev ledger, a bare path to an
// existing file is a SQLite file, sqlite://rel/path (a host is not allowed
// in SQLite URLs) is the relative path when that file exists.
func resolveStore(given string, stderr io.Writer) (storeTarget, error) {
	if given == "" {
		path := filepath.Join(devDataDir, devLedgerFile)
		if !isFile(path) {
			return storeTarget{}, errNoDatabase
		}
		t := storeTarget{url: "sqlite:" + filepath.ToSlash(path)}
		fmt.Fprintf(stderr, "using the dev ledger %s (no --database given)\n", t.url)
		if key := filepath.Join(devDataDir, devSigningKeyFile+".pub"); isFile(key) {
			t.devKey = key
		}
		return t, nil
	}
	u, err := url.Parse(given)
	switch {
	case err != nil || u.Scheme == "":
		if !isFile(given) {
			return storeTarget{}, fmt.Errorf("--database %q: not a URL and no such file; give %s", given, acceptedStoreForms)
		}
		t := storeTarget{url: "sqlite:" + filepath.ToSlash(given)}
		fmt.Fprintf(stderr, "taking %s as a SQLite file (%s)\n", given, t.url)
		return t, nil
	case strings.EqualFold(u.Scheme, "sqlite") && u.Host != "" && isFile(u.Host+u.Path):
		t := storeTarget{url: "sqlite:" + u.Host + u.Path}
		fmt.Fprintf(stderr, "taking %s as the relative path %s (%s; sqlite:///path is an absolute path)\n", given, u.Host+u.Path, t.url)
		return t, nil
	case !slices.Contains(store.Schemes(), strings.ToLower(u.Scheme)):
		return storeTarget{}, fmt.Errorf("--database %s: unknown kind of store %q; give %s", store.Redact(given), u.Scheme, acceptedStoreForms)
	}
	return storeTarget{url: given}, nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
