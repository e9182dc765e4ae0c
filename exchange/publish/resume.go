package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// Headers of a resumable import's records. The exchange strips every
// "exchange-" header from ingress records (they never reach a consumer);
// only a resumed import reads them, on the ingress topic.
const (
	HeaderImport     = "exchange-import"      // the import id
	HeaderImportLine = "exchange-import-line" // the record's first line in the file
)

// checkpointVersion is the version of the checkpoint file format.
const checkpointVersion = 1

// Checkpoint is the file a resumable import saves after acknowledged
// batches (written to a temporary file, synced, renamed over the old one).
type Checkpoint struct {
	Version int    `json:"version"`
	Import  string `json:"import"` // id: hash of topic and file content
	File    string `json:"file"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"` // of the whole file
	Format  string `json:"format"`
	Topic   string `json:"topic"`
	// Line: every line up to it was published or reported.
	Line      int `json:"line"`
	Lines     int `json:"lines"`
	Published int `json:"published"`
	Errors    int `json:"errors"`
	// Offsets is each partition's end offset after the last acknowledged
	// batch: a record this import published after the checkpoint sits at or
	// after it.
	Offsets map[int]int64 `json:"offsets"`
	Saved   time.Time     `json:"saved"`
}

// Resume makes a file import resumable without publishing any record twice.
//
// After acknowledged batches (at most once per CheckpointInterval) Run
// saves a checkpoint: the last line handled and every partition's end
// offset. That alone would republish a
// batch acknowledged just before a crash that came before the save, so each
// record also carries the import id (a hash of the topic and the file's
// content) and its line in headers. On resume, OpenResume has the topic
// read from the checkpoint's offsets to its end and the lines of this
// import found there collected (a LineFinder: the exchange's lookup, or
// the topic read directly, which needs READ on it); Run then skips the
// lines up to the checkpoint and the lines found. Nothing is looked up
// when no partition grew since the checkpoint. A file that changed since the
// checkpoint (size or SHA-256) is refused.
type Resume struct {
	path    string
	cp      Checkpoint
	kc      *kafkaclient.Clients
	through int              // lines up to it were handled by earlier runs
	found   map[int]struct{} // lines after it found on the topic
	done    Summary          // what earlier runs did
	every   time.Duration    // least time between checkpoints
	saved   time.Time        // when the last one was written
	finder  LineFinder       // finds the lines published after the checkpoint
}

// LineFinder finds the lines of import id's records published at or
// after the offsets from (a checkpoint's) on the import's topic.
// ExchangeLines asks the exchange, which may read ingress topics;
// KafkaLines reads the topic itself, which needs READ on it.
type LineFinder interface {
	FindLines(ctx context.Context, id string, from map[int]int64) (map[int]struct{}, error)
}

// LineFinderFunc is a function as a LineFinder.
type LineFinderFunc func(ctx context.Context, id string, from map[int]int64) (map[int]struct{}, error)

// FindLines calls f.
func (f LineFinderFunc) FindLines(ctx context.Context, id string, from map[int]int64) (map[int]struct{}, error) {
	return f(ctx, id, from)
}

// KafkaLines is the LineFinder that reads topic through kc (ScanImport):
// for a principal with READ on it, which IDENTITY.md gives no agency on
// its ingress topic.
func KafkaLines(kc *kafkaclient.Clients, topic string) LineFinder { return kafkaLines{kc, topic} }

type kafkaLines struct {
	kc    *kafkaclient.Clients
	topic string
}

func (k kafkaLines) FindLines(ctx context.Context, id string, from map[int]int64) (map[int]struct{}, error) {
	return ScanImport(ctx, k.kc, k.topic, id, from)
}

// DefaultCheckpointInterval is the least time between two checkpoints of
// an import. A checkpoint per batch (2,000 records) costs a metadata and an
// offsets request and an fsync, and doubled the time of a 1,000,000-row
// import on kfake; once a second the resumed import reads at most a
// second's worth of records more from the topic.
const DefaultCheckpointInterval = time.Second

// ResumeOption configures OpenResume.
type ResumeOption func(*Resume)

// CheckpointInterval sets the least time between checkpoints (default
// DefaultCheckpointInterval; 0 saves after every acknowledged batch).
func CheckpointInterval(d time.Duration) ResumeOption { return func(r *Resume) { r.every = d } }

// FindLinesWith sets how a resume finds the records published after the
// checkpoint (default KafkaLines over the import's clients and topic). It
// is asked only when some partition grew since the checkpoint.
func FindLinesWith(f LineFinder) ResumeOption { return func(r *Resume) { r.finder = f } }

// OpenResume opens the import of file (format f) to topic with checkpoint
// path: a new import when there is no checkpoint (it saves one at once, with
// the topic's end offsets), else the interrupted one, after checking that
// the checkpoint is for this file and topic and scanning the topic.
func OpenResume(ctx context.Context, kc *kafkaclient.Clients, topic, file, path string, f Format, opts ...ResumeOption) (*Resume, error) {
	size, sum, err := fileIdentity(file)
	if err != nil {
		return nil, err
	}
	id := sha256.Sum256([]byte("exchange-import\x00" + topic + "\x00" + sum))
	want := Checkpoint{Version: checkpointVersion, Import: hex.EncodeToString(id[:16]), File: file,
		Size: size, SHA256: sum, Format: f.String(), Topic: topic}
	r := &Resume{path: path, kc: kc, every: DefaultCheckpointInterval}
	for _, o := range opts {
		o(r)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		r.cp = want
		offsets, err := kc.EndOffsets(ctx, topic)
		if err != nil {
			return nil, err
		}
		return r, r.write(offsets)
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoint: %w", err)
	}
	if err := json.Unmarshal(data, &r.cp); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w (remove it to start the import again)", path, err)
	}
	if err := r.cp.matches(want, path); err != nil {
		return nil, err
	}
	r.through = r.cp.Line
	r.done = Summary{Lines: r.cp.Lines, Published: r.cp.Published, Errors: r.cp.Errors}
	if r.found, err = r.findLines(ctx); err != nil {
		return nil, err
	}
	for n := range r.found {
		if n <= r.through { // a fetch may start before the offset asked for
			delete(r.found, n)
		}
	}
	return r, nil
}

// findLines asks the finder for the lines published after the checkpoint,
// unless no partition grew since (the end offsets need only DESCRIBE).
func (r *Resume) findLines(ctx context.Context) (map[int]struct{}, error) {
	end, err := r.kc.EndOffsets(ctx, r.cp.Topic)
	if err != nil {
		return nil, err
	}
	grew := false
	for p, e := range end {
		grew = grew || e > r.cp.Offsets[p]
	}
	if !grew {
		return map[int]struct{}{}, nil
	}
	if r.finder == nil {
		r.finder = KafkaLines(r.kc, r.cp.Topic)
	}
	return r.finder.FindLines(ctx, r.cp.Import, r.cp.Offsets)
}

// matches refuses a checkpoint of another file, topic or format.
func (c *Checkpoint) matches(want Checkpoint, path string) error {
	refuse := func(what string, was, now any) error {
		return fmt.Errorf("checkpoint %s: %s was %v, now %v: refusing to resume (remove the checkpoint to import from the start)",
			path, what, was, now)
	}
	switch {
	case c.Version != checkpointVersion:
		return refuse("format version", c.Version, checkpointVersion)
	case c.Topic != want.Topic:
		return refuse("topic", c.Topic, want.Topic)
	case c.Format != want.Format:
		return refuse("input format", c.Format, want.Format)
	case c.Size != want.Size:
		return refuse("the size of "+want.File+" (it changed since the checkpoint)", fmt.Sprint(c.Size, " bytes"), fmt.Sprint(want.Size, " bytes"))
	case c.SHA256 != want.SHA256:
		return refuse("the SHA-256 of "+want.File+" (it changed since the checkpoint)", c.SHA256, want.SHA256)
	}
	return nil
}

// Through is the last line the checkpoint says earlier runs handled.
func (r *Resume) Through() int { return r.through }

// Found is how many records of lines after the checkpoint the scan found on
// the topic (published by the interrupted run, not to be sent again).
func (r *Resume) Found() int { return len(r.found) }

// Path is the checkpoint file.
func (r *Resume) Path() string { return r.path }

// Remove deletes the checkpoint, once the whole file was read.
func (r *Resume) Remove() error {
	if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing checkpoint: %w", err)
	}
	return nil
}

// skip says whether Run skips line n, counting a line found on the topic.
func (r *Resume) skip(n int, sum *Summary) bool {
	if n <= r.through {
		return true
	}
	if _, ok := r.found[n]; ok {
		sum.Lines++
		sum.Published++
		sum.Resumed++
		return true
	}
	return false
}

func (r *Resume) headers(n int) []kafka.Header {
	return []kafka.Header{
		{Key: HeaderImport, Value: []byte(r.cp.Import)},
		{Key: HeaderImportLine, Value: strconv.AppendInt(nil, int64(n), 10)},
	}
}

// save records that every line up to line is handled, with the topic's end
// offsets now (after the batch's acknowledgement): when force says so, or
// when the last checkpoint is older than the interval.
func (r *Resume) save(ctx context.Context, line int, sum Summary, force bool) error {
	if !force && time.Since(r.saved) < r.every {
		return nil
	}
	offsets, err := r.kc.EndOffsets(ctx, r.cp.Topic)
	if err != nil {
		return fmt.Errorf("checkpoint after line %d: %w", line, err)
	}
	r.cp.Line, r.cp.Lines, r.cp.Published, r.cp.Errors = line, sum.Lines, sum.Published, sum.Errors
	return r.write(offsets)
}

// write replaces the checkpoint file atomically: a crash leaves the old
// one or the new one, never a torn file.
func (r *Resume) write(offsets map[int]int64) error {
	r.saved = time.Now()
	r.cp.Offsets, r.cp.Saved = offsets, r.saved.UTC()
	data, err := json.MarshalIndent(r.cp, "", "  ")
	if err != nil {
		return err
	}
	tmp := r.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, r.path)
	}
	if err != nil {
		return fmt.Errorf("writing checkpoint %s: %w", r.path, err)
	}
	return nil
}

// fileIdentity returns the size and hex SHA-256 of a regular file.
func fileIdentity(file string) (int64, string, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	if !st.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%s is not a regular file: only a file can be resumed from a checkpoint", file)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("hashing %s: %w", file, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// ScanImport reads topic from the offsets of a checkpoint (0 for a
// partition it does not name) to the current end, and returns the lines of
// the records whose HeaderImport is id. Partitions that did not grow are
// not read. It needs READ on the topic.
func ScanImport(ctx context.Context, kc *kafkaclient.Clients, topic, id string, from map[int]int64) (map[int]struct{}, error) {
	s, err := ScanImportRange(ctx, kc, topic, id, from, 0)
	return s.Lines, err
}

// ImportScan is what ScanImportRange found.
type ImportScan struct {
	Lines map[int]struct{} // lines of the import's records in the range
	End   map[int]int64    // each partition's end offset: the range read ends there
}

// ErrBadOffsets: the offsets a scan starts from name a partition the topic
// lacks or a negative offset.
var ErrBadOffsets = errors.New("bad offsets")

// RangeTooLargeError refuses a scan over more records than its maximum.
type RangeTooLargeError struct {
	Topic   string
	Records int64 // records between the offsets asked for and the end
	Max     int64
}

func (e *RangeTooLargeError) Error() string {
	return fmt.Sprintf("%s holds %d records after the checkpoint's offsets, over the %d one lookup reads: the checkpoint is far behind the topic (a principal with READ on it can resume with exchange publish --resume-scan kafka, which reads without a bound)",
		e.Topic, e.Records, e.Max)
}

// ScanImportRange is ScanImport bounded: with limit > 0 it refuses, with a
// *RangeTooLargeError and before reading any record, a range over limit
// records. It returns the end offsets it read to. Only headers are kept,
// never a key or value. from may not name a partition the topic lacks or
// a negative offset; an offset past the end reads nothing there.
func ScanImportRange(ctx context.Context, kc *kafkaclient.Clients, topic, id string, from map[int]int64, limit int64) (ImportScan, error) {
	end, err := kc.EndOffsets(ctx, topic)
	if err != nil {
		return ImportScan{}, err
	}
	var total int64
	for p, o := range from {
		if _, ok := end[p]; !ok {
			return ImportScan{}, fmt.Errorf("%w: %s has no partition %d", ErrBadOffsets, topic, p)
		}
		if o < 0 {
			return ImportScan{}, fmt.Errorf("%w: partition %d: negative offset %d", ErrBadOffsets, p, o)
		}
	}
	for p, e := range end {
		total += max(0, e-from[p])
	}
	if limit > 0 && total > limit {
		return ImportScan{End: end}, &RangeTooLargeError{Topic: topic, Records: total, Max: limit}
	}
	found := map[int]struct{}{}
	for p, e := range end {
		if start := from[p]; e > start {
			if err := scanPartition(ctx, kc, topic, p, start, e, id, found); err != nil {
				return ImportScan{}, fmt.Errorf("scanning %s/%d from offset %d for this import's records (needs READ on the topic): %w",
					topic, p, start, err)
			}
		}
	}
	return ImportScan{Lines: found, End: end}, nil
}

// scanPartition reads partition p of topic over [start, end) with Fetch
// requests (a kafka-go Reader would retry a refusal silently, forever) and
// adds the lines of import id's records to found.
func scanPartition(ctx context.Context, kc *kafkaclient.Clients, topic string, p int, start, end int64, id string, found map[int]struct{}) error {
	admin := kc.Admin()
	for off := start; off < end; {
		res, err := admin.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: off,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 500 * time.Millisecond})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return err
		}
		next, err := scanRecords(res.Records, id, found)
		if err != nil {
			return err
		}
		if next <= off {
			return fmt.Errorf("no record at offset %d (the end is %d)", off, end)
		}
		off = next
	}
	return nil
}

// scanRecords reads one fetch's records and returns the offset after them.
func scanRecords(rr kafka.RecordReader, id string, found map[int]struct{}) (next int64, err error) {
	for {
		r, err := rr.ReadRecord()
		if err == io.EOF {
			return next, nil
		}
		if err != nil {
			return next, err
		}
		next = r.Offset + 1
		var imp, line []byte
		for _, h := range r.Headers {
			switch h.Key {
			case HeaderImport:
				imp = h.Value
			case HeaderImportLine:
				line = h.Value
			}
		}
		if string(imp) != id {
			continue
		}
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return next, fmt.Errorf("offset %d: header %s %q: %w", r.Offset, HeaderImportLine, line, err)
		}
		found[n] = struct{}{}
	}
}
