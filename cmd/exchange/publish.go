package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

func init() {
	register("publish", "publish JSON lines or CSV to a dataset's ingress topic as Avro records",
		func(ctx context.Context, args []string) error {
			return publishCmd(ctx, os.Stdout, os.Stderr, args)
		})
}

const publishUsage = `usage: exchange publish --dataset ID --file FILE [--format csv|jsonl] [--checkpoint FILE | --no-checkpoint] [--resume-scan exchange|kafka] [--progress | --no-progress] [--credentials FILE | --brokers LIST] [--registry URL] [--token FILE] [--key FIELD] [--stamp-now FIELD]

Reads one JSON object per line, or CSV with a header row naming the fields
(--format; by default csv for a .csv file, else jsonl), converts each record
with the latest schema of subject ingress.<dataset>-value from the schema
registry, and produces it to topic ingress.<dataset> (acks=all). A record
that does not fit the schema is reported with its line (and CSV column) and
field, and is not published. Exit status 1 if any record was not published.
It connects as the dataset's owner agency (the id's part before the first
dot) with the dev credentials of .exchange-dev/ when they exist, or as
--credentials says.

CSV cells: numbers, booleans (true/false, 1/0), enum symbols, dates
(YYYY-MM-DD or days), timestamps (RFC 3339 or epoch units), decimals and
uuids as text; arrays, maps and records as JSON in the cell. An empty cell
is null in a nullable field, the default in a field that has one, "" in a
string field, else an error.

Resume: importing a regular file saves a checkpoint (FILE.checkpoint unless
--checkpoint says) after acknowledged batches, at most once a second; run
the same command again after an interruption and it continues where it
stopped without publishing any record twice. Each record carries the import
id and its line in exchange-import headers; records published after the
last checkpoint are found on the topic by the exchange, which reads ingress
topics: publish asks it (POST /api/v1/datasets/<dataset>/imports/<id>/lines
at the --registry URL without /registry, with the --token or dev
credentials of a publisher of the dataset's owner). An agency has no READ
on its own ingress topic; --resume-scan kafka reads the topic directly
instead, for a principal that has it. A file changed since its checkpoint
is refused. The checkpoint is removed once the file was read to its end.

`

// publishFlags are the flags of exchange publish.
type publishFlags struct {
	dataset, file, registry, key, stampNow string
	format, checkpoint, resumeScan         string
	noCheckpoint, progress, noProgress     bool
	kf                                     kafkaFlags
	creds                                  apiAuth
}

func parsePublishFlags(stderr io.Writer, args []string) (*publishFlags, error) {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), publishUsage)
		fs.PrintDefaults()
	}
	var f publishFlags
	fs.StringVar(&f.dataset, "dataset", "", "dataset id, `<agency>.<name>` (required)")
	fs.StringVar(&f.file, "file", "", "JSON lines or CSV file, - for stdin (required)")
	fs.StringVar(&f.format, "format", "", "input `format`, csv or jsonl (default: csv for a .csv file, else jsonl)")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "checkpoint `FILE` of a resumable import (default: the --file path + .checkpoint when it is a regular file)")
	fs.StringVar(&f.resumeScan, "resume-scan", "exchange", "how a resume finds the records published after the checkpoint: `exchange` (ask the exchange) or kafka (read the topic: needs READ on it)")
	fs.BoolVar(&f.noCheckpoint, "no-checkpoint", false, "do not save a checkpoint: an interrupted import cannot be resumed")
	fs.BoolVar(&f.progress, "progress", false, "show progress (records/s, ETA) on stderr even when it is not a terminal")
	fs.BoolVar(&f.noProgress, "no-progress", false, "never show progress")
	brokers := f.kf.register(fs)
	fs.StringVar(&f.registry, "registry", "http://127.0.0.1:8080/registry", "schema registry base URL")
	fs.StringVar(&f.key, "key", "", "field whose value is the record key (default: record_id when the schema has it)")
	fs.StringVar(&f.creds.tokenFile, "token", "", tokenUsage)
	fs.StringVar(&f.stampNow, "stamp-now", "", "timestamp `FIELD` set to the publish time on every record (replays sample data as fresh events)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	if f.dataset == "" || f.file == "" {
		fs.Usage()
		return nil, exitError{2}
	}
	switch {
	case f.progress && f.noProgress:
		return nil, errors.New("--progress and --no-progress: choose one")
	case f.checkpoint != "" && f.noCheckpoint:
		return nil, errors.New("--checkpoint and --no-checkpoint: choose one")
	case f.checkpoint != "" && f.file == "-":
		return nil, errors.New("--checkpoint needs a --file to resume; standard input cannot be read again")
	case f.resumeScan != "exchange" && f.resumeScan != "kafka":
		return nil, fmt.Errorf("--resume-scan %q: want exchange or kafka", f.resumeScan)
	}
	if err := f.kf.parsed(fs, *brokers); err != nil {
		return nil, err
	}
	return &f, nil
}

// inputFormat is --format, or csv for a .csv file and jsonl otherwise.
func (f *publishFlags) inputFormat() (publish.Format, error) {
	if f.format != "" {
		v, err := publish.ParseFormat(f.format)
		if err != nil {
			return 0, fmt.Errorf("--format: %w", err)
		}
		return v, nil
	}
	if strings.EqualFold(filepath.Ext(f.file), ".csv") {
		return publish.CSV, nil
	}
	return publish.JSONLines, nil
}

func (f *publishFlags) progressMode() progressMode {
	switch {
	case f.progress:
		return progressOn
	case f.noProgress:
		return progressOff
	}
	return progressAuto
}

// checkpointPath is where a resumable import keeps its checkpoint, "" for
// none: stdin and non-regular files (a pipe) cannot be read again.
func (f *publishFlags) checkpointPath(regular bool) (string, error) {
	switch {
	case f.checkpoint != "" && !regular:
		return "", fmt.Errorf("--checkpoint: %s is not a regular file, so an import of it cannot be resumed", f.file)
	case f.noCheckpoint || !regular:
		return "", nil
	case f.checkpoint != "":
		return f.checkpoint, nil
	}
	return f.file + ".checkpoint", nil
}

// publishCmd is `exchange publish`: line errors go to stderr as they come,
// the summary to stdout.
func publishCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	f, err := parsePublishFlags(stderr, args)
	if err != nil {
		return err
	}
	format, err := f.inputFormat()
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	var size int64
	regular := false
	if f.file != "-" {
		file, err := os.Open(f.file)
		if err != nil {
			return err
		}
		defer file.Close()
		if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
			size, regular = st.Size(), true
		}
		in = file
	}
	creds, err := f.creds.withProperties(f.kf.credentials)
	if err != nil {
		return err
	}
	owner, _, _ := strings.Cut(f.dataset, ".")
	hc, err := creds.orDev(owner, stderr).client()
	if err != nil {
		return err
	}
	schema, err := latestIngressSchema(ctx, hc, f.registry, f.dataset)
	if err != nil {
		return err
	}
	enc, err := publish.NewEncoder(schema, f.key)
	if err != nil {
		return err
	}
	if f.stampNow != "" {
		if err := enc.StampNow(f.stampNow, time.Now); err != nil {
			return fmt.Errorf("--stamp-now: %w", err)
		}
	}
	topic := names.Ingress(f.dataset)
	kc, err := f.kf.clients(stderr, owner)
	if err != nil {
		return err
	}
	defer kc.Close()
	checkCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = publish.CheckTopic(checkCtx, kc, topic)
	cancel()
	if err != nil {
		return err
	}
	opts := []publish.Option{publish.WithFormat(format)}
	var resume *publish.Resume
	cp, err := f.checkpointPath(regular)
	if err != nil {
		return err
	}
	if cp != "" {
		if resume, err = openResume(ctx, stderr, kc, topic, f.file, cp, format, f.lineFinder(hc, kc, topic)); err != nil {
			return err
		}
		opts = append(opts, publish.WithResume(resume))
	}
	return runPublish(ctx, stdout, stderr, in, enc, publish.NewWriter(kc, topic), topic, resume,
		newProgressBar(stderr, size, f.progressMode(), time.Now), opts)
}

// openResume opens the checkpoint of the import and says on stderr where a
// resumed import continues.
func openResume(ctx context.Context, stderr io.Writer, kc *kafkaclient.Clients, topic, file, cp string, format publish.Format,
	finder publish.LineFinder) (*publish.Resume, error) {
	r, err := publish.OpenResume(ctx, kc, topic, file, cp, format, publish.FindLinesWith(finder))
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) && strings.HasPrefix(pathErr.Path, cp) {
		return nil, fmt.Errorf("%w (--checkpoint FILE saves it elsewhere, --no-checkpoint imports without one)", err)
	}
	if err != nil {
		return nil, err
	}
	if r.Through() > 0 || r.Found() > 0 {
		fmt.Fprintf(stderr, "resuming from checkpoint %s: lines up to %d done, %d later records already on %s\n",
			cp, r.Through(), r.Found(), topic)
	}
	return r, nil
}

// runPublish runs the import and prints its summary; a complete import
// (the whole file read) removes its checkpoint.
func runPublish(ctx context.Context, stdout, stderr io.Writer, in io.Reader, enc *publish.Encoder, w *kafka.Writer,
	topic string, resume *publish.Resume, bar *progressBar, opts []publish.Option) error {
	defer w.Close()
	opts = append(opts,
		publish.WithLineErrors(func(e *publish.LineError) {
			bar.clear()
			fmt.Fprintln(stderr, e.Error())
		}),
		publish.WithProgress(bar.update))
	sum, runErr := publish.Run(ctx, in, enc, w, opts...)
	bar.done()
	resumed := ""
	if sum.Resumed > 0 {
		resumed = fmt.Sprintf(" (%d found on the topic from the interrupted run)", sum.Resumed)
	}
	fmt.Fprintf(stdout, "published %d records, %d errors%s\n", sum.Published, sum.Errors, resumed)
	if runErr != nil {
		if resume != nil {
			fmt.Fprintf(stderr, "the import can be resumed: run the same command again (checkpoint %s)\n", resume.Path())
		}
		return fmt.Errorf("publishing to %s: %w", topic, runErr)
	}
	if resume != nil {
		if err := resume.Remove(); err != nil {
			return err
		}
	}
	if sum.Errors > 0 {
		return exitError{1}
	}
	return nil
}

// lineFinder is how a resume finds the records published after its
// checkpoint (--resume-scan): the exchange's lookup, at the --registry
// URL's root, called as hc's principal; or the topic read through kc.
// A --registry elsewhere fails only a resume that must ask.
func (f *publishFlags) lineFinder(hc *http.Client, kc *kafkaclient.Clients, topic string) publish.LineFinder {
	if f.resumeScan == "kafka" {
		return publish.KafkaLines(kc, topic)
	}
	base, ok := strings.CutSuffix(strings.TrimRight(f.registry, "/"), "/registry")
	if !ok {
		err := fmt.Errorf("--registry %s does not end in /registry, so where the exchange's API is is unknown: a resume asks it for the records published after the checkpoint (--resume-scan kafka reads the topic instead, which needs READ on it)", f.registry)
		return publish.LineFinderFunc(func(context.Context, string, map[int]int64) (map[int]struct{}, error) { return nil, err })
	}
	return publish.ExchangeLines(hc, base, f.dataset)
}

// latestIngressSchema fetches the latest schema of dataset's ingress
// subject, calling the registry as hc's principal (nil: none).
func latestIngressSchema(ctx context.Context, hc *http.Client, registry, dataset string) (*schemas.SchemaVersion, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return registryhttp.FetchLatest(ctx, hc, registry, names.IngressSubject(dataset))
}
