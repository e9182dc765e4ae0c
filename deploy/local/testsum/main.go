// Command testsum reads `go test -json` on stdin and prints what a person
// needs: each package's result line, the full output of every failed test,
// the reason of every skipped top-level test, the executions of fuzz runs,
// and totals. deploy/local/test.sh and fuzz.sh pipe every go test run
// through it.
//
//	go test -json ./... | go run ./deploy/local/testsum -counts counts.txt
//
// With -counts, one line "passed failed skipped fuzz_execs" is appended to
// the file for the caller to add up; with -figures, the fault tests' figures
// lines. Tests and subtests are counted alike. A
// package that fails with no failed test (a build error, a panic outside a
// test, a timeout) counts as one failed test, so no failure goes uncounted.
// Exit status 1 when anything failed.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type event struct {
	Action      string
	Package     string
	ImportPath  string
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

// maxBuffered bounds the output kept per running test; the tail is kept.
const maxBuffered = 256 << 10

var execsRE = regexp.MustCompile(`fuzz: elapsed: (\S+), execs: (\d+)`)

// Figures lines are shown even for passing tests and listed again at the end:
// the fault tests' "sent N, delivered N, quarantined N, duplicates N, lost N,
// unaudited N" (issue 6) and the details line each prints after it.
var figuresRE = regexp.MustCompile(`sent \d+, delivered \d+, quarantined \d+, duplicates \d+, lost \d+, unaudited \d+|: acknowledged \d+; faults: `)

// logPrefixRE is what t.Log puts before a line: indentation and file:line.
var logPrefixRE = regexp.MustCompile(`^\s*(\S+\.go:\d+: )?`)

type key struct{ pkg, test string }

type summary struct {
	out                     io.Writer
	buf                     map[key]*strings.Builder
	passed, failed, skipped int
	failedTests             []string
	pkgFailedTests          map[string]int
	fuzzExecs               map[key]int64
	fuzzElapsed             map[key]string
	shuffle                 map[string]string // package -> "-test.shuffle N"
	figures                 []string
	seenFigures             map[string]bool
}

func newSummary(out io.Writer) *summary {
	return &summary{
		out:            out,
		buf:            map[key]*strings.Builder{},
		pkgFailedTests: map[string]int{},
		fuzzExecs:      map[key]int64{},
		fuzzElapsed:    map[key]string{},
		shuffle:        map[string]string{},
		seenFigures:    map[string]bool{},
	}
}

// add takes one event of go test -json.
func (s *summary) add(e event) {
	k := key{e.Package, e.Test}
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.out, e.Output)
	case "output":
		s.output(e)
	case "pass":
		if e.Test != "" {
			s.passed++
			delete(s.buf, k)
		}
	case "skip":
		if e.Test != "" {
			s.skipped++
			if !strings.Contains(e.Test, "/") {
				fmt.Fprintf(s.out, "SKIP %s %s: %s\n", e.Package, e.Test, skipReason(s.buf[k]))
			}
			delete(s.buf, k)
		}
	case "fail":
		if seed, ok := s.shuffle[e.Package]; ok && e.Test == "" {
			fmt.Fprintf(s.out, "%s: tests ran in the order of %s (pass it to go test to repeat)\n", e.Package, seed)
		}
		if e.Test != "" {
			s.testFailed(e)
		} else if s.pkgFailedTests[e.Package] == 0 {
			s.packageFailed(e)
		}
	}
}

// output takes a line a test or package printed: fuzz counts and figures
// are noted, package lines shown, a test's lines kept until it ends.
func (s *summary) output(e event) {
	s.noteFuzz(e)
	s.noteFigures(e.Output)
	if e.Test == "" {
		s.packageLine(e)
		return
	}
	k := key{e.Package, e.Test}
	b := s.buf[k]
	if b == nil {
		b = &strings.Builder{}
		s.buf[k] = b
	}
	if b.Len() > maxBuffered {
		tail := b.String()[b.Len()-maxBuffered/2:]
		b.Reset()
		b.WriteString("... (earlier output cut)\n")
		b.WriteString(tail)
	}
	b.WriteString(e.Output)
}

// noteFuzz keeps the latest "fuzz: elapsed: …, execs: N" of a fuzz run.
func (s *summary) noteFuzz(e event) {
	m := execsRE.FindStringSubmatch(e.Output)
	if m == nil {
		return
	}
	n, _ := strconv.ParseInt(m[2], 10, 64)
	fk := key{e.Package, e.Test}
	if fk.test == "" {
		fk.test = "(package)"
	}
	s.fuzzExecs[fk] = n
	s.fuzzElapsed[fk] = m[1]
}

// noteFigures shows a fault test's figures line, once: it is printed both
// by t.Log and to stdout.
func (s *summary) noteFigures(output string) {
	if !figuresRE.MatchString(output) {
		return
	}
	line := logPrefixRE.ReplaceAllString(strings.TrimRight(output, "\n"), "")
	if !s.seenFigures[line] {
		s.seenFigures[line] = true
		s.figures = append(s.figures, line)
		fmt.Fprintf(s.out, "%s\n", line)
	}
}

// packageLine shows a package-level line ("ok pkg 1.2s", "FAIL pkg",
// panics) but not the bare PASS/FAIL; the -shuffle seed is kept, to be
// shown only when the package fails.
func (s *summary) packageLine(e event) {
	switch line := strings.TrimSpace(e.Output); {
	case line == "PASS" || line == "FAIL":
	case strings.HasPrefix(line, "-test.shuffle "):
		s.shuffle[e.Package] = line
	default:
		fmt.Fprint(s.out, e.Output)
	}
}

// testFailed counts a failed test and shows its output.
func (s *summary) testFailed(e event) {
	k := key{e.Package, e.Test}
	s.failed++
	s.pkgFailedTests[e.Package]++
	s.failedTests = append(s.failedTests, e.Package+" "+e.Test)
	if b := s.buf[k]; b != nil {
		fmt.Fprintf(s.out, "---- output of failed %s %s\n%s", e.Package, e.Test, b.String())
	}
	delete(s.buf, k)
}

// packageFailed counts a package that failed without a failing test
// (build error, panic in TestMain or init, timeout) as one failure, and
// shows what its unfinished tests said.
func (s *summary) packageFailed(e event) {
	s.failed++
	what := "package failed without a failing test (build error, panic or timeout)"
	if e.FailedBuild != "" {
		what = "build failed: " + e.FailedBuild
	}
	s.failedTests = append(s.failedTests, e.Package+" ("+what+")")
	for bk, b := range s.buf {
		if bk.pkg == e.Package {
			fmt.Fprintf(s.out, "---- output of %s %s (unfinished)\n%s", bk.pkg, bk.test, b.String())
			delete(s.buf, bk)
		}
	}
}

func appendLines(path string, lines []string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(f, l); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// skipReason is the last line a skipped test printed, usually t.Skip's text.
func skipReason(b *strings.Builder) string {
	if b == nil {
		return "skipped"
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- SKIP") {
			return l
		}
	}
	return "skipped"
}

func main() {
	countsFile := flag.String("counts", "", "append `passed failed skipped fuzz_execs` to this file")
	label := flag.String("label", "go test", "name of this run in the totals line")
	figuresFile := flag.String("figures", "", "append the figures lines (fault tests) to this file")
	flag.Parse()

	s := newSummary(os.Stdout)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(os.Stdout, "%s\n", line) // not test2json: pass it on
			continue
		}
		if e.Package == "" && e.ImportPath != "" {
			e.Package = e.ImportPath
		}
		s.add(e)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "testsum: reading go test -json: %v\n", err)
		s.failed++
	}

	var execs int64
	keys := make([]key, 0, len(s.fuzzExecs))
	for k := range s.fuzzExecs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].pkg+keys[i].test < keys[j].pkg+keys[j].test })
	for _, k := range keys {
		execs += s.fuzzExecs[k]
		fmt.Printf("fuzz %s %s: %d execs in %s\n", k.pkg, k.test, s.fuzzExecs[k], s.fuzzElapsed[k])
	}
	if len(s.figures) > 0 {
		fmt.Printf("%s: figures:\n", *label)
		for _, f := range s.figures {
			fmt.Printf("  %s\n", f)
		}
	}
	if len(s.failedTests) > 0 {
		fmt.Printf("%s: failed:\n", *label)
		for _, t := range s.failedTests {
			fmt.Printf("  %s\n", t)
		}
	}
	fmt.Printf("%s: %d passed, %d failed, %d skipped\n", *label, s.passed, s.failed, s.skipped)
	if *figuresFile != "" && len(s.figures) > 0 {
		if err := appendLines(*figuresFile, s.figures); err != nil {
			fmt.Fprintf(os.Stderr, "testsum: %v\n", err)
			os.Exit(1)
		}
	}
	if *countsFile != "" {
		f, err := os.OpenFile(*countsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = fmt.Fprintf(f, "%d %d %d %d\n", s.passed, s.failed, s.skipped, execs)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsum: writing %s: %v\n", *countsFile, err)
			os.Exit(1)
		}
	}
	if s.failed > 0 {
		os.Exit(1)
	}
}
