package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// resumeWorld is a kfake broker with one 3-partition topic and a CSV file
// of n rows keyed r-<row>.
type resumeWorld struct {
	ctx   context.Context
	kc    *kafkaclient.Clients
	topic string
	file  string
	cp    string
	rows  int
	every time.Duration // checkpoint interval (0: after every batch)
}

func newResumeWorld(t *testing.T, rows int) *resumeWorld {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(3, "ingress.health.visits"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	return newResumeWorldOn(t, rows, kc)
}

// newResumeWorldOn writes the CSV file for the broker of kc, the importing
// client, which has the topic.
func newResumeWorldOn(t *testing.T, rows int, kc *kafkaclient.Clients) *resumeWorld {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	dir := t.TempDir()
	w := &resumeWorld{ctx: ctx, kc: kc, topic: "ingress.health.visits",
		file: filepath.Join(dir, "visits.csv"), cp: filepath.Join(dir, "visits.csv.checkpoint"), rows: rows}
	var b strings.Builder
	b.WriteString("record_id,age\n")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, "r-%d,%d\n", i, i%100)
	}
	if err := os.WriteFile(w.file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// run imports the file with a checkpoint; stop, when it returns true after
// a batch, cancels the run there (a crash between batches).
func (w *resumeWorld) run(t *testing.T, enc *Encoder, stop func(Summary) bool) (*Resume, Summary, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	r, err := OpenResume(ctx, w.kc, w.topic, w.file, w.cp, CSV, CheckpointInterval(w.every))
	if err != nil {
		return nil, Summary{}, err
	}
	f, err := os.Open(w.file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kw := NewWriter(w.kc, w.topic)
	defer kw.Close()
	sum, err := Run(ctx, f, enc, kw, WithFormat(CSV), WithResume(r), WithBatchSize(100),
		WithProgress(func(s Summary) {
			if stop != nil && stop(s) {
				cancel()
			}
		}))
	return r, sum, err
}

// countKeys reads the whole topic as w.kc and counts each key.
func (w *resumeWorld) countKeys(t *testing.T) map[string]int {
	t.Helper()
	end, err := w.kc.EndOffsets(w.ctx, w.topic)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for p, e := range end {
		for off := int64(0); off < e; {
			res, err := w.kc.Admin().Fetch(w.ctx, &kafka.FetchRequest{Topic: w.topic, Partition: p, Offset: off, MinBytes: 1, MaxBytes: 8 << 20})
			if err == nil {
				err = res.Error
			}
			if err != nil {
				t.Fatalf("fetch %s/%d at %d: %v", w.topic, p, off, err)
			}
			before := off
			for {
				r, err := res.Records.ReadRecord()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.Offset >= off {
					key, _ := io.ReadAll(r.Key)
					counts[string(key)]++
					off = r.Offset + 1
				}
			}
			if off == before {
				t.Fatalf("fetch %s/%d at %d: no records below the end %d", w.topic, p, off, e)
			}
		}
	}
	return counts
}

// TestResumeFindsRecordsPublishedAfterTheCheckpoint simulates the worst
// crash: batches acknowledged after the last checkpoint was saved (here the
// checkpoint of line 300 is put back after lines up to 600 were
// published). The resumed import finds lines 301-600 on the topic by their
// headers and publishes only the rest: every row exactly once.
func TestResumeFindsRecordsPublishedAfterTheCheckpoint(t *testing.T) {
	w := newResumeWorld(t, 1000)
	enc := smallEncoder(t)
	var saved []byte
	_, sum, err := w.run(t, enc, func(s Summary) bool {
		if s.Published == 300 {
			var err error
			if saved, err = os.ReadFile(w.cp); err != nil {
				t.Error(err)
			}
		}
		return s.Published == 600
	})
	if !errors.Is(err, context.Canceled) || sum.Published != 600 {
		t.Fatalf("first run: summary %+v, err %v; want 600 published and canceled", sum, err)
	}
	if err := os.WriteFile(w.cp, saved, 0o600); err != nil {
		t.Fatal(err)
	}

	r, sum, err := w.run(t, enc, nil)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if r.Through() != 301 || r.Found() != 300 {
		// Line 1 is the header: row 300 is on line 301.
		t.Errorf("resume: through line %d, found %d; want 301 and 300", r.Through(), r.Found())
	}
	if sum.Published != 1000 || sum.Resumed != 300 || sum.Errors != 0 {
		t.Errorf("resumed summary %+v; want 1000 published of which 300 found", sum)
	}
	if err := r.Remove(); err != nil {
		t.Fatal(err)
	}
	counts := w.countKeys(t)
	for i := 1; i <= w.rows; i++ {
		if c := counts["r-"+strconv.Itoa(i)]; c != 1 {
			t.Errorf("row %d published %d times", i, c)
		}
	}
	if len(counts) != w.rows {
		t.Errorf("%d distinct keys on the topic, want %d", len(counts), w.rows)
	}
}

// TestResumeRefusesAChangedFile: a file changed after the checkpoint, or a
// checkpoint of another topic, is refused with a clear error.
func TestResumeRefusesAChangedFile(t *testing.T) {
	w := newResumeWorld(t, 300)
	_, _, err := w.run(t, smallEncoder(t), func(s Summary) bool { return s.Published == 100 })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	data, err := os.ReadFile(w.file)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "r-5,5", "r-5,6", 1)
	if err := os.WriteFile(w.file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenResume(w.ctx, w.kc, w.topic, w.file, w.cp, CSV)
	if err == nil || !strings.Contains(err.Error(), "changed since the checkpoint") || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("same size, other content: %v", err)
	}
	if err := os.WriteFile(w.file, append(data, "r-301,1\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenResume(w.ctx, w.kc, w.topic, w.file, w.cp, CSV)
	if err == nil || !strings.Contains(err.Error(), "the size of "+w.file) {
		t.Errorf("longer file: %v", err)
	}
	if err := os.WriteFile(w.file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenResume(w.ctx, w.kc, "ingress.health.other", w.file, w.cp, CSV)
	if err == nil || !strings.Contains(err.Error(), "topic was ingress.health.visits, now ingress.health.other") {
		t.Errorf("other topic: %v", err)
	}
	// The original file resumes.
	if _, _, err := w.run(t, smallEncoder(t), nil); err != nil {
		t.Errorf("original file: %v", err)
	}
}

// TestResumeHeadersOnRecords: each record of a resumable import names the
// import and its line.
func TestResumeHeadersOnRecords(t *testing.T) {
	w := newResumeWorld(t, 3)
	r, _, err := w.run(t, smallEncoder(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	found, err := ScanImport(w.ctx, w.kc, w.topic, r.cp.Import, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := range found {
		lines = append(lines, n)
	}
	if len(found) != 3 || !containsAll(found, 2, 3, 4) {
		t.Errorf("lines found by import id %s: %v, want 2, 3, 4", r.cp.Import, lines)
	}
	if other, err := ScanImport(w.ctx, w.kc, w.topic, "another-import", nil); err != nil || len(other) != 0 {
		t.Errorf("another import id found %v (err %v)", other, err)
	}
}

func containsAll(m map[int]struct{}, keys ...int) bool {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

// TestResumeWithRareCheckpoints: with checkpoints far apart, an import
// interrupted after 600 rows still has only its first checkpoint (line 0,
// the offsets before it began); the resume finds all 600 on the topic.
func TestResumeWithRareCheckpoints(t *testing.T) {
	w := newResumeWorld(t, 1000)
	w.every = time.Hour
	enc := smallEncoder(t)
	if _, _, err := w.run(t, enc, func(s Summary) bool { return s.Published == 600 }); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	r, sum, err := w.run(t, enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Through() != 0 || r.Found() != 600 || sum.Published != 1000 || sum.Resumed != 600 {
		t.Errorf("through %d, found %d, summary %+v; want 0, 600, 1000 published of which 600 found", r.Through(), r.Found(), sum)
	}
	for k, n := range w.countKeys(t) {
		if n != 1 {
			t.Errorf("%s published %d times", k, n)
		}
	}
}

// TestScanImportRangeBounded: a range over the limit is refused with its
// size before any record is read; offsets naming a partition the topic
// lacks, or negative, are ErrBadOffsets; within the limit the lines and
// the end offsets read to come back.
func TestScanImportRangeBounded(t *testing.T) {
	w := newResumeWorld(t, 50)
	r, _, err := w.run(t, smallEncoder(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var tooLarge *RangeTooLargeError
	_, err = ScanImportRange(w.ctx, w.kc, w.topic, r.cp.Import, map[int]int64{0: 1}, 10)
	if !errors.As(err, &tooLarge) || tooLarge.Records != 49 || tooLarge.Max != 10 || !strings.Contains(err.Error(), "49 records") {
		t.Errorf("50 records from offset 1 of partition 0 with a limit of 10: %v", err)
	}
	for _, from := range []map[int]int64{{3: 0}, {0: -1}} {
		if _, err := ScanImportRange(w.ctx, w.kc, w.topic, r.cp.Import, from, 0); !errors.Is(err, ErrBadOffsets) {
			t.Errorf("from %v: %v; want ErrBadOffsets", from, err)
		}
	}
	s, err := ScanImportRange(w.ctx, w.kc, w.topic, r.cp.Import, nil, 50)
	var total int64
	for _, e := range s.End {
		total += e
	}
	if err != nil || len(s.Lines) != 50 || total != 50 || len(s.End) != 3 {
		t.Errorf("the whole topic within the limit: %d lines, end %v, err %v; want 50 lines, 50 records over 3 partitions", len(s.Lines), s.End, err)
	}
}
