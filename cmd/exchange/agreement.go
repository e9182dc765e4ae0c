package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

func init() {
	register("agreement", "validate contracts and agreements, diff two versions of an agreement, or act as a steward (propose, approve, suspend, resume, revoke)", runAgreement)
}

const agreementUsage = `usage:
  exchange agreement validate [--registry URL | --schemas DIR] FILE|DIR...
  exchange agreement diff [--fail-on-widen] OLD NEW
  exchange agreement propose|approve|suspend|resume|revoke … (below)

validate loads every YAML file (a directory: its *.yaml and *.yml files),
checks the contracts and agreements, and with --schemas or --registry also
checks them against the datasets' Avro schemas (fields, transform types,
CEL types). It prints "ok: N contracts, M agreements" and exits 0, or prints
every problem as file:line:col: message (hint: ...) and exits 1.

diff prints what the consumer of each agreement would newly receive or lose,
one line per change; agreements are matched by id.
` + agreementActionsUsage

func runAgreement(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, agreementUsage)
		return exitError{2}
	}
	switch args[0] {
	case "validate":
		return agreementValidate(ctx, os.Stdout, os.Stderr, args[1:])
	case "diff":
		return agreementDiff(os.Stdout, os.Stderr, args[1:])
	case "propose", "approve", "suspend", "resume", "revoke":
		return agreementAction(ctx, os.Stdout, os.Stderr, args[0], args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, agreementUsage)
		return nil
	default:
		fmt.Fprintf(os.Stderr, "exchange agreement: unknown subcommand %q\n\n%s", args[0], agreementUsage)
		return exitError{2}
	}
}

func agreementValidate(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("agreement validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, agreementUsage+"\nflags of validate:\n"); fs.PrintDefaults() }
	registry := fs.String("registry", "", "schema registry base URL (Confluent REST API), e.g. http://127.0.0.1:8080/registry")
	schemaDir := fs.String("schemas", "", "directory of <subject>.avsc files")
	var creds apiAuth
	fs.StringVar(&creds.tokenFile, "token", "", tokenUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitError{2}
	}
	if *registry != "" && *schemaDir != "" {
		fmt.Fprintln(stderr, "exchange agreement validate: give --registry or --schemas, not both")
		return exitError{2}
	}

	set, probs, err := agreements.ValidateFiles(fs.Args()...)
	if err != nil {
		return err
	}
	var schemas []schemas.SchemaVersion
	switch {
	case *schemaDir != "":
		schemas, err = schemasFromDir(*schemaDir)
	case *registry != "":
		var fetchProbs agreements.Problems
		var hc *http.Client
		if hc, err = creds.orDev("", stderr).client(); err != nil {
			return err
		}
		schemas, fetchProbs, err = schemasFromRegistry(ctx, hc, *registry, set.Contracts)
		probs = append(probs, fetchProbs...)
	}
	if err != nil {
		return err
	}
	if *schemaDir != "" || *registry != "" {
		probs = append(probs, checkAgainstSchemas(set, schemas)...)
	}
	probs = dedupe(probs)
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
		}
		fmt.Fprintf(stderr, "%d problem(s)\n", len(probs))
		return exitError{1}
	}
	fmt.Fprintf(stdout, "ok: %d contracts, %d agreements\n", len(set.Contracts), len(set.Agreements))
	if *schemaDir == "" && *registry == "" {
		fmt.Fprintln(stderr, "note: schemas not checked; pass --schemas DIR or --registry URL to check fields, transform types and CEL types")
	}
	return nil
}

// checkAgainstSchemas runs the policy engine's schema-dependent checks. A
// failure inside them is reported as a problem, never a crash.
func checkAgainstSchemas(set *agreements.Set, schemas []schemas.SchemaVersion) (probs agreements.Problems) {
	defer func() {
		if r := recover(); r != nil {
			probs = agreements.Problems{{Message: fmt.Sprintf("internal error in the schema checks: %v", r), Hint: "please report this with the files that caused it"}}
		}
	}()
	return policy.Check(policy.Input{
		Agencies:   set.Agencies,
		Contracts:  set.Contracts,
		Agreements: set.Agreements,
		Calendars:  set.Calendars,
		Schemas:    schemas,
	})
}

// schemasFromDir reads every <subject>.avsc in dir as version 1 of subject,
// with ids 1, 2, ... in file-name order (as the dev mode registers them).
func schemasFromDir(dir string) ([]schemas.SchemaVersion, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.avsc"))
	if err != nil {
		return nil, fmt.Errorf("--schemas %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("--schemas %s: no *.avsc files", dir)
	}
	sort.Strings(paths)
	out := make([]schemas.SchemaVersion, 0, len(paths))
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--schemas: %w", err)
		}
		subject := strings.TrimSuffix(filepath.Base(p), ".avsc")
		s, err := registryhttp.ParseSchema(subject, 1, i+1, string(data))
		if err != nil {
			return nil, fmt.Errorf("--schemas: %s: %w", p, err)
		}
		out = append(out, *s)
	}
	return out, nil
}

// schemasFromRegistry fetches the latest version of each contract's
// subject. A subject the registry does not have is a problem at the
// contract's subject; an unreachable registry is an error.
func schemasFromRegistry(ctx context.Context, hc *http.Client, registry string, contracts []agreements.DataContract) ([]schemas.SchemaVersion, agreements.Problems, error) {
	var (
		out   []schemas.SchemaVersion
		probs agreements.Problems
		seen  = map[string]bool{}
	)
	for _, c := range contracts {
		if c.Subject == "" || seen[c.Subject] {
			continue
		}
		seen[c.Subject] = true
		fetchCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		s, err := registryhttp.FetchLatest(fetchCtx, hc, registry, c.Subject)
		cancel()
		var ue *url.Error
		switch {
		case errors.As(err, &ue), errors.Is(err, registryhttp.ErrAccessDenied):
			return nil, nil, fmt.Errorf("--registry %s: %w", registry, err)
		case err != nil:
			pos := c.Pos
			if p, ok := c.KeyPos["subject"]; ok {
				pos = p
			}
			probs = append(probs, agreements.Problem{Pos: pos, Message: err.Error(), Hint: "register the schema under subject " + c.Subject})
			continue
		}
		out = append(out, *s)
	}
	return out, probs, nil
}

// dedupe sorts problems and drops exact repeats (the model and schema checks
// can find the same thing).
func dedupe(ps agreements.Problems) agreements.Problems {
	ps.Sort()
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}

func agreementDiff(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("agreement diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, agreementUsage+"\nflags of diff:\n"); fs.PrintDefaults() }
	failOnWiden := fs.Bool("fail-on-widen", false, "exit 3 when a change gives a consumer more (for CI review gates)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitError{2}
	}
	oldSet, err := loadForDiff(stderr, fs.Arg(0))
	if err != nil {
		return err
	}
	newSet, err := loadForDiff(stderr, fs.Arg(1))
	if err != nil {
		return err
	}
	pairs := pairVersions(oldSet, newSet)
	if len(pairs) == 0 {
		return errors.New("no agreements in either file")
	}
	changes, widens := 0, 0
	for _, p := range pairs {
		c, w := p.print(stdout, len(pairs) > 1)
		changes += c
		widens += w
	}
	if changes == 0 {
		fmt.Fprintln(stdout, "no changes")
	}
	if *failOnWiden && widens > 0 {
		fmt.Fprintf(stderr, "%d change(s) widen what a consumer receives\n", widens)
		return exitError{3}
	}
	return nil
}

// loadForDiff loads one side of a diff. Only problems of loading stop a
// diff: a version that does not validate can still be compared.
func loadForDiff(stderr io.Writer, path string) (*agreements.Set, error) {
	s, err := loadOnly(path)
	var probs agreements.Problems
	if errors.As(err, &probs) {
		for _, p := range probs {
			fmt.Fprintln(stderr, p.String())
		}
		return nil, exitError{1}
	}
	return s, err
}

// versionPair is one agreement on both sides of a diff; old or new is nil
// when the agreement is only on one side.
type versionPair struct{ old, new *agreements.Agreement }

// pairVersions pairs the agreements of two sets by id; two files of one
// agreement each are paired whatever their ids (a renewal renames).
func pairVersions(oldSet, newSet *agreements.Set) []versionPair {
	if len(oldSet.Agreements) == 1 && len(newSet.Agreements) == 1 {
		return []versionPair{{&oldSet.Agreements[0], &newSet.Agreements[0]}}
	}
	var pairs []versionPair
	for i := range oldSet.Agreements {
		o := &oldSet.Agreements[i]
		n, _ := newSet.Agreement(o.ID)
		pairs = append(pairs, versionPair{o, n})
	}
	for i := range newSet.Agreements {
		n := &newSet.Agreements[i]
		if _, ok := oldSet.Agreement(n.ID); !ok {
			pairs = append(pairs, versionPair{nil, n})
		}
	}
	return pairs
}

// print writes the pair's changes, each line led by the agreement id when
// prefixed, and returns how many changes it printed and how many widen.
func (p versionPair) print(stdout io.Writer, prefixed bool) (changes, widens int) {
	id := ""
	switch {
	case p.new != nil:
		id = p.new.ID
	case p.old != nil:
		id = p.old.ID
	}
	lead := ""
	if prefixed {
		lead = id + ": "
	}
	switch {
	case p.old == nil:
		fmt.Fprintf(stdout, "%s+ agreement %s: new (%s → %s, status %s)\n", lead, id, p.new.Provider, p.new.Consumer, p.new.Status)
		changes, widens = 1, 1
		for _, f := range p.new.Fields {
			fmt.Fprintf(stdout, "%s+ field %s: %s (newly received; widens)\n", lead, f.Name, f.Transform)
			changes++
		}
		return changes, widens
	case p.new == nil:
		fmt.Fprintf(stdout, "%s- agreement %s: removed (%s → %s no longer delivered; narrows)\n", lead, id, p.old.Provider, p.old.Consumer)
		return 1, 0
	}
	for _, c := range agreements.Diff(p.old, p.new) {
		fmt.Fprintf(stdout, "%s%s\n", lead, c)
		changes++
		if c.Widens() {
			widens++
		}
	}
	return changes, widens
}

// loadOnly loads path (file or directory) without validating it.
func loadOnly(path string) (*agreements.Set, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return agreements.LoadDir(path)
	}
	return agreements.LoadFile(path)
}
