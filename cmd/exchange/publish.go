package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

func init() {
	register("publish", "publish JSON lines to a dataset's ingress topic as Avro records",
		func(ctx context.Context, args []string) error {
			return publishCmd(ctx, os.Stdout, os.Stderr, args)
		})
}

// publishCmd is `exchange publish`: line errors go to stderr as they come,
// the summary to stdout.
func publishCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: exchange publish --dataset ID --file records.jsonl [--credentials FILE | --brokers LIST] [--registry URL] [--token FILE] [--key FIELD] [--stamp-now FIELD]

Reads one JSON object per line, converts it with the latest schema of subject
ingress.<dataset>-value from the schema registry, and produces it to topic
ingress.<dataset> (acks=all). A line that does not fit the schema is reported
with its line number and field, and is not published. Exit status 1 if any
line was not published. It connects as the dataset's owner agency (the id's
part before the first dot) with the dev credentials of .exchange-dev/ when
they exist, or as --credentials says.

`)
		fs.PrintDefaults()
	}
	dataset := fs.String("dataset", "", "dataset id, `<agency>.<name>` (required)")
	file := fs.String("file", "", "JSON lines file, - for stdin (required)")
	var kf kafkaFlags
	brokers := kf.register(fs)
	registry := fs.String("registry", "http://127.0.0.1:8080/registry", "schema registry base URL")
	key := fs.String("key", "", "field whose value is the record key (default: record_id when the schema has it)")
	var creds apiAuth
	fs.StringVar(&creds.tokenFile, "token", "", tokenUsage)
	stampNow := fs.String("stamp-now", "", "timestamp `FIELD` set to the publish time on every record (replays sample data as fresh events)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	if *dataset == "" || *file == "" {
		fs.Usage()
		return exitError{2}
	}
	if err := kf.parsed(fs, *brokers); err != nil {
		return err
	}

	var in io.Reader = os.Stdin
	var size int64
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}

	creds, err := creds.withProperties(kf.credentials)
	if err != nil {
		return err
	}
	schema, err := latestIngressSchema(ctx, creds, *registry, *dataset, stderr)
	if err != nil {
		return err
	}
	enc, err := publish.NewEncoder(schema, *key)
	if err != nil {
		return err
	}
	if *stampNow != "" {
		if err := enc.StampNow(*stampNow, time.Now); err != nil {
			return fmt.Errorf("--stamp-now: %w", err)
		}
	}
	topic := names.Ingress(*dataset)
	owner, _, _ := strings.Cut(*dataset, ".")
	kc, err := kf.clients(stderr, owner)
	if err != nil {
		return err
	}
	defer kc.Close()
	w := publish.NewWriter(kc, topic)
	defer w.Close()
	checkCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = publish.CheckTopic(checkCtx, kc, topic)
	cancel()
	if err != nil {
		return err
	}

	bar := newProgressBar(stderr, size)
	sum, runErr := publish.Run(ctx, in, enc, w,
		publish.WithLineErrors(func(e *publish.LineError) {
			bar.clear()
			fmt.Fprintln(stderr, e.Error())
		}),
		publish.WithProgress(bar.update))
	bar.done()
	fmt.Fprintf(stdout, "published %d records, %d errors\n", sum.Published, sum.Errors)
	if runErr != nil {
		return fmt.Errorf("publishing to %s: %w", topic, runErr)
	}
	if sum.Errors > 0 {
		return exitError{1}
	}
	return nil
}

// latestIngressSchema fetches the latest schema of dataset's ingress
// subject, calling the registry as the dataset's owner (the first part of
// its id) unless creds say otherwise.
func latestIngressSchema(ctx context.Context, creds apiAuth, registry, dataset string, stderr io.Writer) (*schemas.SchemaVersion, error) {
	owner, _, _ := strings.Cut(dataset, ".")
	hc, err := creds.orDev(owner, stderr).client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return registryhttp.FetchLatest(ctx, hc, registry, names.IngressSubject(dataset))
}

// progressBar draws one line on stderr while publishing, only when stderr is
// a terminal (a character device). Redraws at most ten times a second.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	total int64
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, total int64) *progressBar {
	on := false
	if f, ok := w.(*os.File); ok {
		st, err := f.Stat()
		on = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	return &progressBar{w: w, total: total, on: on}
}

func (p *progressBar) update(s publish.Summary) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw(s)
	}
}

func (p *progressBar) draw(s publish.Summary) {
	const width = 30
	counts := fmt.Sprintf("%d published, %d errors", s.Published, s.Errors)
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r\033[K%s", counts)
	} else {
		frac := float64(s.Bytes) / float64(p.total)
		if frac > 1 {
			frac = 1
		}
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%%  %s", strings.Repeat("#", n), strings.Repeat(" ", width-n), frac*100, counts)
	}
	p.drawn = true
}

func (p *progressBar) clear() {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *progressBar) done() { p.clear() }
