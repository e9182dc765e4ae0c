package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/exchange-gov/exchange/exchange/publish"
)

// progressBar draws one status line on stderr while publishing: share of
// the file read, counts, records per second and the time left (from the
// rate of bytes read against the file's size), both rates measured since
// the first batch. On a terminal it redraws in place about
// once a second; forced on elsewhere (--progress) it prints a line each
// second instead.
type progressBar struct {
	mu      sync.Mutex
	w       io.Writer
	on, tty bool
	total   int64 // file size, 0 when unknown (stdin)
	now     func() time.Time
	last    time.Time
	drawn   bool
	// first is the summary at the first update, and when: rates count from
	// it, so that a resumed import's fast skip over the lines done before
	// does not count as speed.
	first   *publish.Summary
	firstAt time.Time
}

// progressMode is --progress / --no-progress: auto (a terminal), on, off.
type progressMode int

const (
	progressAuto progressMode = iota
	progressOn
	progressOff
)

func newProgressBar(w io.Writer, total int64, mode progressMode, now func() time.Time) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	on := mode == progressOn || mode == progressAuto && tty
	return &progressBar{w: w, total: total, on: on, tty: tty, now: now}
}

func (p *progressBar) update(s publish.Summary) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.first == nil {
		p.first, p.firstAt = &s, now
	}
	if now.Sub(p.last) >= time.Second {
		p.last = now
		p.draw(p.line(s, now))
	}
}

// line renders the status for summary s at time now.
func (p *progressBar) line(s publish.Summary, now time.Time) string {
	const width = 24
	var b strings.Builder
	if p.total > 0 {
		frac := min(float64(s.Bytes)/float64(p.total), 1)
		n := int(frac * width)
		fmt.Fprintf(&b, "[%s%s] %3.0f%%  ", strings.Repeat("#", n), strings.Repeat(" ", width-n), frac*100)
	}
	fmt.Fprintf(&b, "%d published, %d errors", s.Published, s.Errors)
	elapsed := now.Sub(p.firstAt).Seconds()
	if elapsed <= 0 {
		return b.String()
	}
	records := s.Published + s.Errors - p.first.Published - p.first.Errors
	fmt.Fprintf(&b, "  %.0f records/s", float64(records)/elapsed)
	if read := s.Bytes - p.first.Bytes; p.total > 0 && read > 0 {
		left := time.Duration(float64(p.total-s.Bytes) / (float64(read) / elapsed) * float64(time.Second))
		fmt.Fprintf(&b, "  ETA %s", max(left, 0).Round(time.Second))
	}
	return b.String()
}

func (p *progressBar) draw(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// clear removes the status line (before a line error is printed, and at
// the end) on a terminal.
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
