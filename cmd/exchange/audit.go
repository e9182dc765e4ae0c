package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/sqlite"
)

func init() {
	register("audit", "verify, export checkpoints of, and query the audit ledger", func(ctx context.Context, args []string) error {
		return runAudit(ctx, os.Stdout, os.Stderr, args)
	})
}

const auditUsage = `usage:
  exchange audit verify [--database URL] [--public-key FILE] [--checkpoints FILE]
  exchange audit export [--database URL] [--out FILE]
  exchange audit query  [--database URL] [filters] [--after CURSOR] [--limit N]
  exchange audit flags  [--database URL] [--limit N]

verify recomputes every hash chain and checks every signed checkpoint (and,
with --checkpoints, checkpoints exported earlier). It prints each break as
"BROKEN: entry <topic>/<partition> offset <n> (seq <s>): <what mismatched>"
and exits 1, or prints "ok: …" and exits 0. It records its result per chain
(who: cli:<OS user>) for the console's integrity page; a role that may only
read gets a warning on stderr, and the result and exit code stand.

export writes every signed checkpoint as JSON lines, for safekeeping outside
the database.

query prints one page of ledger entries as JSON {"entries": […], "next":
CURSOR}; pass --after CURSOR for the next page. Filters: --dataset,
--agreement, --consumer, --decision, --reason, --delivery-id, --from, --to
(RFC 3339, decision time), --subject-hash, --topic, --partition, --offset, --sort
(decision_time or -decision_time).

flags prints, newest first and as JSON {"total": N, "flags": […]}, the
entries the audit indexer refused to chain: a position the ledger holds for
another record (position_reused), an entry that fails validation (invalid),
or an audit message that could not be decoded (malformed). Each is kept with
its bytes as evidence; none is ever chained.

URL is postgres://…, sqlite:relative/path.db or sqlite:///absolute/path.db
(a bare path to an existing file is taken as SQLite); default
$EXCHANGE_DATABASE_URL, else, in a directory holding .exchange-dev/ (where
exchange dev keeps its state), the dev ledger sqlite:.exchange-dev/exchange.db,
whose signatures verify checks against .exchange-dev/ledger-signing.key.pub.
`

func runAudit(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return exitError{2}
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, stdout, stderr, args[1:])
	case "export":
		return auditExport(ctx, stdout, stderr, args[1:])
	case "query":
		return auditQuery(ctx, stdout, stderr, args[1:])
	case "flags":
		return auditFlagsCmd(ctx, stdout, stderr, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(stdout, auditUsage)
		return nil
	default:
		fmt.Fprintf(stderr, "exchange audit: unknown subcommand %q\n\n%s", args[0], auditUsage)
		return exitError{2}
	}
}

func auditFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("audit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "%s\nflags of %s:\n", auditUsage, name); fs.PrintDefaults() }
	return fs, databaseFlag(fs)
}

// auditStore resolves --database (see resolveStore); no database at all is
// a usage error, exit status 2.
func auditStore(dbURL string, stderr io.Writer) (storeTarget, error) {
	t, err := resolveStore(dbURL, stderr)
	if errors.Is(err, errNoDatabase) {
		fmt.Fprintf(stderr, "exchange audit: %v\n", err)
		return t, exitError{2}
	}
	return t, err
}

// openExisting opens the store read-side: no migrations, and a SQLite file
// must already exist (opening would otherwise create an empty one).
func openExisting(ctx context.Context, dbURL string) (store.Backend, error) {
	if strings.HasPrefix(strings.ToLower(dbURL), "sqlite:") {
		path, err := sqlite.Path(dbURL)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
	}
	return store.Open(ctx, dbURL, store.WithoutMigrate())
}

func auditVerify(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs, dbURL := auditFlags("verify", stderr)
	pubFile := fs.String("public-key", "", "Ed25519 public key (PEM) every checkpoint must be signed with")
	cpFile := fs.String("checkpoints", "", "checkpoints exported earlier (JSON lines) that must still match")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	target, err := auditStore(*dbURL, stderr)
	if err != nil {
		return err
	}
	if *pubFile == "" && target.devKey != "" {
		*pubFile = target.devKey
		fmt.Fprintf(stderr, "checking signatures against the dev ledger's public key %s\n", target.devKey)
	}
	var opts ledger.VerifyOptions
	if *pubFile != "" {
		pub, err := ledger.LoadPublicKey(*pubFile)
		if err != nil {
			return err
		}
		opts.PublicKey = pub
	}
	if *cpFile != "" {
		cps, err := readCheckpoints(*cpFile)
		if err != nil {
			return err
		}
		opts.External = cps
	}
	db, err := openExisting(ctx, target.url)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := ledger.Verify(ctx, db, opts)
	if err != nil {
		return err
	}
	recordVerification(ctx, stderr, db, rep)
	for _, b := range rep.Breaks {
		fmt.Fprintf(stdout, "BROKEN: %s\n", b)
	}
	for _, a := range rep.Archived {
		fmt.Fprintf(stdout, "archived: chain %s resumes after seq %d (%s, archived %s)\n", a.Chain, a.UpToSeq, a.Archive, a.ArchivedAt.Format(time.RFC3339))
	}
	summary := fmt.Sprintf("%d chains, %d entries, %d checkpoints", rep.Chains, rep.Entries, rep.Checkpoints)
	if rep.External > 0 {
		summary += fmt.Sprintf(", %d exported checkpoints", rep.External)
	}
	if !rep.OK() {
		fmt.Fprintf(stdout, "FAILED: %d breaks in %s\n", len(rep.Breaks), summary)
		return exitError{1}
	}
	keyNote := "signatures checked against the keys the checkpoints name (pass --public-key to pin the signer)"
	if opts.PublicKey != nil {
		keyNote = "signatures checked against key " + ledger.KeyID(opts.PublicKey)
	}
	fmt.Fprintf(stdout, "ok: %s intact; %s\n", summary, keyNote)
	return nil
}

// recordVerification stores the run's result per chain, as the console's
// "verify now" does, so the integrity page shows it. A role that may only
// read (or a database not migrated to 0014) cannot record: that is said
// on stderr and the verification's own result and exit code stand.
func recordVerification(ctx context.Context, stderr io.Writer, db store.Backend, rep *ledger.Report) {
	who := "cli"
	if u, err := user.Current(); err == nil && u.Username != "" {
		who += ":" + u.Username
	}
	if err := db.RecordVerification(ctx, store.VerificationOf(who, time.Now().UTC(), rep)); err != nil {
		fmt.Fprintf(stderr, "warning: this verification is not recorded for the console's integrity page: %v\n", err)
	}
}

func readCheckpoints(path string) ([]ledger.Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints: %w", err)
	}
	defer f.Close()
	var out []ledger.Checkpoint
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var cp ledger.Checkpoint
		if err := json.Unmarshal(sc.Bytes(), &cp); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, cp)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

func auditExport(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs, dbURL := auditFlags("export", stderr)
	out := fs.String("out", "", "write to FILE (atomically) instead of stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	target, err := auditStore(*dbURL, stderr)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, target.url)
	if err != nil {
		return err
	}
	defer db.Close()
	w := stdout
	var tmp *os.File
	if *out != "" {
		tmp, err = os.CreateTemp(filepath.Dir(*out), ".export-*")
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		w = tmp
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	if err := db.Checkpoints(ctx, func(cp *ledger.Checkpoint) error { n++; return enc.Encode(cp) }); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		fmt.Fprintf(stderr, "exported %d checkpoints to %s\n", n, *out)
	}
	return nil
}

// int64Flag is an optional integer flag.
type int64Flag struct{ v *int64 }

func (f *int64Flag) String() string {
	if f.v == nil {
		return ""
	}
	return fmt.Sprint(*f.v)
}

func (f *int64Flag) Set(s string) error {
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return errors.New("not an integer")
	}
	f.v = &v
	return nil
}

type timeFlag struct{ t *time.Time }

func (f *timeFlag) String() string { return "" }

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return errors.New("want RFC 3339, e.g. 2026-11-27T00:00:00Z")
	}
	*f.t = t
	return nil
}

func auditQuery(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs, dbURL := auditFlags("query", stderr)
	var q ledger.Query
	fs.StringVar(&q.Dataset, "dataset", "", "dataset id")
	fs.StringVar(&q.Agreement, "agreement", "", "agreement id (delivered to or skipped by)")
	fs.StringVar(&q.Consumer, "consumer", "", "consumer agency id (delivered to)")
	decision := fs.String("decision", "", "delivered, dropped or quarantined")
	fs.StringVar(&q.Reason, "reason", "", "reason code, e.g. quality:nhi_format")
	fs.StringVar(&q.DeliveryID, "delivery-id", "", "delivery id")
	subject := fs.String("subject-hash", "", "keyed hash of a data subject's identifier (hex): every decision about one person")
	fs.Var(&timeFlag{&q.From}, "from", "decision time from (inclusive, RFC 3339)")
	fs.Var(&timeFlag{&q.To}, "to", "decision time to (exclusive, RFC 3339)")
	fs.StringVar(&q.Topic, "topic", "", "source topic")
	part, off := &int64Flag{}, &int64Flag{}
	fs.Var(part, "partition", "source partition (with --topic)")
	fs.Var(off, "offset", "source offset (with --topic and --partition)")
	fs.StringVar(&q.Sort, "sort", ledger.SortTimeAsc, "decision_time or -decision_time")
	fs.StringVar(&q.After, "after", "", "cursor from a previous page's next")
	fs.IntVar(&q.Limit, "limit", ledger.DefaultLimit, fmt.Sprintf("entries per page (at most %d)", ledger.MaxLimit))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	target, err := auditStore(*dbURL, stderr)
	if err != nil {
		return err
	}
	q.Decision = ledger.Decision(*decision)
	if *subject != "" {
		h, err := hex.DecodeString(*subject)
		if err != nil {
			return errors.New("--subject-hash: want hex")
		}
		q.SubjectHash = h
	}
	if part.v != nil {
		if *part.v < 0 || *part.v > 1<<31-1 {
			return errors.New("--partition out of range")
		}
		p := int32(*part.v)
		q.Partition = &p
	}
	q.Offset = off.v
	db, err := openExisting(ctx, target.url)
	if err != nil {
		return err
	}
	defer db.Close()
	page, err := db.Query(ctx, q)
	if errors.Is(err, ledger.ErrBadQuery) {
		fmt.Fprintf(stderr, "exchange audit query: %v\n", err)
		return exitError{2}
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(page)
}
