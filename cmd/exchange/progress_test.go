package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/publish"
)

// TestProgressLine: the status shows the share read, counts, and the rates
// since the first batch (records/s; the time left from bytes read against
// the size), so that a resumed import's skip over done lines is not speed.
func TestProgressLine(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	var out bytes.Buffer
	p := newProgressBar(&out, 1000, progressOn, func() time.Time { return now })
	// First batch of a resumed import: 100 records after skipping to byte 200.
	p.update(publish.Summary{Published: 100, Bytes: 200})
	if want := "[####                    ]  20%  100 published, 0 errors\n"; out.String() != want {
		t.Fatalf("first line\n got %q\nwant %q", out.String(), want)
	}
	out.Reset()
	now = start.Add(10 * time.Second)
	p.update(publish.Summary{Published: 600, Errors: 0, Bytes: 250})
	want := "[######                  ]  25%  600 published, 0 errors  50 records/s  ETA 2m30s\n"
	if out.String() != want {
		t.Fatalf("progress line\n got %q\nwant %q", out.String(), want)
	}
	// Within a second of the last line: nothing more.
	now = now.Add(500 * time.Millisecond)
	p.update(publish.Summary{Published: 700, Bytes: 300})
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("redrawn within a second: %q", out.String())
	}
	// Unknown size (stdin): counts and rate only.
	out.Reset()
	q := newProgressBar(&out, 0, progressOn, func() time.Time { return now })
	q.update(publish.Summary{Published: 2})
	now = now.Add(2 * time.Second)
	q.update(publish.Summary{Published: 10, Errors: 4})
	if got := out.String(); got != "2 published, 0 errors\n10 published, 4 errors  6 records/s\n" {
		t.Fatalf("without a size: %q", got)
	}
	// Not a terminal and not forced: silent.
	out.Reset()
	r := newProgressBar(&out, 1000, progressAuto, time.Now)
	r.update(publish.Summary{Published: 10, Bytes: 10})
	if out.Len() != 0 {
		t.Fatalf("progress on a non-terminal: %q", out.String())
	}
}
