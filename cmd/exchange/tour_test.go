package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
)

// The README's five-minute tour, run as written: the commands between
// <!-- tour:begin --> and <!-- tour:end --> are read from README.md, so a
// tour that no longer works fails here. They run in a scratch directory
// holding deploy/ (a link to the checkout's) against `exchange dev` started
// there with its default data directory (.exchange-dev, as `make run`),
// on free ports: the test rewrites the README's default addresses and
// gives publish and consume --brokers and --registry.

const (
	tourBegin = "<!-- tour:begin -->"
	tourEnd   = "<!-- tour:end -->"
	// DELIVERY_ID in the tour stands for an id from the consume output.
	tourDeliveryID = "DELIVERY_ID"
	// The README's addresses: exchange dev's defaults.
	tourKafkaAddr = "127.0.0.1:9092"
	tourHTTPAddr  = "127.0.0.1:8080"
	tourGoRun     = "go run ./cmd/exchange "
)

// tourCommands are the tour's shell commands, continuation lines joined,
// comments and blank lines dropped.
func tourCommands(readme string) ([]string, error) {
	_, rest, ok := strings.Cut(readme, tourBegin)
	if !ok {
		return nil, fmt.Errorf("README.md has no %s", tourBegin)
	}
	block, _, ok := strings.Cut(rest, tourEnd)
	if !ok {
		return nil, fmt.Errorf("README.md has no %s after %s", tourEnd, tourBegin)
	}
	var cmds []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "```") {
			continue
		}
		if more, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(strings.TrimSpace(more) + " ")
			continue
		}
		cur.WriteString(line)
		cmds = append(cmds, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("the tour ends in a continuation line: %q", cur.String())
	}
	return cmds, nil
}

func TestTourCommandsParse(t *testing.T) {
	cmds, err := tourCommands("x\n" + tourBegin + "\n```sh\n# one\ngo run ./cmd/exchange publish --a \\\n   --b c\n\ncurl -s 'u'\n```\n" + tourEnd + "\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"go run ./cmd/exchange publish --a --b c", "curl -s 'u'"}
	if fmt.Sprint(cmds) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", cmds, want)
	}
}

// tour is one run of the tour: the binary, the scratch directory, the
// addresses of exchange dev, and what earlier steps found.
type tour struct {
	bin, dir            string
	kafkaAddr, httpAddr string
	readme              string        // README.md, whose tour this is
	commands            string        // `exchange help` output: the subcommands the binary has
	log                 *lockedBuffer // exchange dev's terminal
	deliveryID          string
	missing             []string // steps that could not run, and why
}

func TestReadmeTour(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs exchange dev")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := tourCommands(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	tr := startTour(ctx, t)
	tr.readme = string(readme)
	for _, c := range cmds {
		tr.step(ctx, t, c)
	}
	if len(tr.missing) > 0 {
		t.Skipf("tour steps not run: %s", strings.Join(tr.missing, "; "))
	}
}

// startTour builds the binary and starts exchange dev in a scratch
// directory; it is stopped (SIGINT, then killed) when the test ends.
func startTour(ctx context.Context, t *testing.T) *tour {
	t.Helper()
	tr := &tour{dir: t.TempDir(), kafkaAddr: freeAddr(t), httpAddr: freeAddr(t)}
	tr.bin = filepath.Join(t.TempDir(), "exchange")
	build := exec.CommandContext(ctx, "go", "build", "-o", tr.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help, _ := exec.CommandContext(ctx, tr.bin, "help").CombinedOutput()
	tr.commands = string(help)
	deploy, err := filepath.Abs("../../deploy")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(deploy, filepath.Join(tr.dir, "deploy")); err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	tr.log = log
	dev := exec.Command(tr.bin, "dev", "--kafka-addr", tr.kafkaAddr, "--http-addr", tr.httpAddr, "--activity-interval", "500ms")
	dev.Dir, dev.Stdout, dev.Stderr = tr.dir, log, log
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- dev.Wait() }()
	t.Cleanup(func() {
		_ = dev.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("exchange dev exited with %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = dev.Process.Kill()
			<-exited
			t.Errorf("exchange dev did not stop within 30s of SIGINT")
		}
		if t.Failed() {
			t.Logf("exchange dev's output:\n%s", log.String())
		}
	})
	tr.waitReady(ctx, t)
	return tr
}

// waitReady waits for /readyz and the ingress topic of the sample dataset
// (created by the worker after start), so that the first step can publish.
func (tr *tour) waitReady(ctx context.Context, t *testing.T) {
	t.Helper()
	var kc *kafkaclient.Clients // as the dataset's owner, with the credentials exchange dev wrote
	defer func() {
		if kc != nil {
			kc.Close()
		}
	}()
	retry(ctx, t, time.Minute, "exchange dev to be ready", func() (string, bool) {
		resp, err := http.Get("http://" + tr.httpAddr + "/readyz")
		if err != nil {
			return err.Error() + "\n" + tr.log.String(), false
		}
		resp.Body.Close()
		if kc == nil {
			if kc, err = clientsFromFile(filepath.Join(tr.dir, devcreds.AgencyFile(devDataDir, "health")), "dev credentials"); err != nil {
				return err.Error(), false
			}
		}
		err = publish.CheckTopic(ctx, kc, names.Ingress("health.immunisations"))
		return fmt.Sprintf("/readyz %d, topic: %v", resp.StatusCode, err), resp.StatusCode == 200 && err == nil
	})
	for _, want := range []string{"http://" + tr.httpAddr + "/", "/api/v1/audit", "/api/v1/lineage", "/api/v1/openapi.json",
		"sqlite:.exchange-dev/exchange.db", ".exchange-dev/ledger-signing.key.pub", "consume --agreement",
		`curl -H "Authorization: Bearer $(cat .exchange-dev/credentials/auditor.token)"`} {
		if !strings.Contains(tr.log.String(), want) {
			t.Errorf("the dev banner lacks %q", want)
		}
	}
	out, code := runShell(ctx, tr.dir, `curl -s -H "Authorization: Bearer $(cat .exchange-dev/credentials/auditor.token)" http://`+tr.httpAddr+"/")
	if !strings.Contains(out, `"/api/v1/lineage"`) || !strings.Contains(out, `"/registry"`) {
		t.Errorf("GET / (exit %d) does not list the surfaces:\n%s", code, out)
	}
	if out, _ := runShell(ctx, tr.dir, "curl -s -o /dev/null -w '%{http_code}' http://"+tr.httpAddr+"/api/v1/audit"); out != "401" {
		t.Errorf("GET /api/v1/audit without a token: %s, want 401", out)
	}
}

// step runs one tour command (retrying while the exchange catches up) and
// checks its output.
func (tr *tour) step(ctx context.Context, t *testing.T, command string) {
	t.Helper()
	line := tr.expand(command)
	if sub, ok := strings.CutPrefix(command, tourGoRun); ok {
		name, _, _ := strings.Cut(sub, " ")
		if !strings.Contains(tr.commands, "  "+name+" ") {
			tr.missing = append(tr.missing, fmt.Sprintf("%q: the binary has no %s command yet", command, name))
			return
		}
	}
	if prog, _, _ := strings.Cut(command, " "); prog != "go" {
		if _, err := exec.LookPath(prog); err != nil {
			tr.missing = append(tr.missing, fmt.Sprintf("%q: %s is not installed", command, prog))
			return
		}
	}
	if strings.Contains(line, tourDeliveryID) {
		tr.missing = append(tr.missing, fmt.Sprintf("%q: no delivery id (consume did not run)", command))
		return
	}
	check := tr.checkFor(command)
	var out string
	if strings.Contains(command, "exchange publish") {
		// Once: publishing again would publish the records again.
		out, code := runShell(ctx, tr.dir, line)
		if problem := check(out, code); problem != "" {
			t.Fatalf("$ %s\n%s\n(exit %d) %s", command, problem, code, out)
		}
		t.Logf("$ %s\n%s", command, clipOutput(out))
		tr.checkActivity(ctx, t)
		return
	}
	retry(ctx, t, time.Minute, command, func() (string, bool) {
		var code int
		out, code = runShell(ctx, tr.dir, line)
		problem := check(out, code)
		return fmt.Sprintf("%s\n(exit %d) %s", problem, code, out), problem == ""
	})
	t.Logf("$ %s\n%s", command, clipOutput(out))
}

// readmeActivity is the activity line the README quotes after the tour.
var readmeActivity = regexp.MustCompile("`(activity: health\\.immunisations: [^`]*)`")

// checkActivity waits for the activity log's line of the published sample,
// as the README quotes it, and its first quarantine detail, on exchange
// dev's terminal.
func (tr *tour) checkActivity(ctx context.Context, t *testing.T) {
	t.Helper()
	m := readmeActivity.FindStringSubmatch(strings.Join(strings.Fields(tr.readme), " "))
	if m == nil {
		t.Fatal("the README no longer quotes the activity line of the tour (`activity: health.immunisations: …`)")
	}
	retry(ctx, t, 30*time.Second, "the activity log", func() (string, bool) {
		log := tr.log.String()
		for _, want := range []string{
			m[1],
			"activity: first record of health.immunisations quarantined for quality:age_in_range: rule age_in_range",
		} {
			if !strings.Contains(log, want) {
				return "no " + want + " in:\n" + log, false
			}
		}
		return "", true
	})
}

// expand turns a README command into one for this run: the binary for go
// run, this run's addresses, a delivery id found earlier.
func (tr *tour) expand(command string) string {
	line := command
	if sub, ok := strings.CutPrefix(line, tourGoRun); ok {
		line = tr.bin + " " + sub
		name, _, _ := strings.Cut(sub, " ")
		if (name == "publish" || name == "consume") && !strings.Contains(sub, "--brokers") {
			line += " --brokers " + tourKafkaAddr + " --registry http://" + tourHTTPAddr + "/registry"
		}
	}
	line = strings.ReplaceAll(line, tourKafkaAddr, tr.kafkaAddr)
	line = strings.ReplaceAll(line, tourHTTPAddr, tr.httpAddr)
	if tr.deliveryID != "" {
		line = strings.ReplaceAll(line, tourDeliveryID, tr.deliveryID)
	}
	return line
}

var deliveryIDField = regexp.MustCompile(`"exchange-delivery-id":\s*"([0-9a-f]{32})"`)

// checkFor returns the check of a tour command's output: "" when it is
// what the README says, else what is wrong.
func (tr *tour) checkFor(command string) func(out string, code int) string {
	want := func(out string, code int, parts ...string) string {
		if code != 0 {
			return "exit status is not 0"
		}
		for _, p := range parts {
			if !strings.Contains(out, p) {
				return fmt.Sprintf("no %q in the output", p)
			}
		}
		return ""
	}
	switch {
	case strings.Contains(command, "exchange publish"):
		return func(out string, code int) string { return want(out, code, "published 19 records") }
	case strings.Contains(command, "exchange consume --agreement"):
		return func(out string, code int) string {
			if p := want(out, code, `"exchange-agreement"`, `"exchange-source"`, `"exchange-event-time"`, `"citizen_id"`); p != "" {
				return p
			}
			if strings.Contains(out, "62187499831") { // line 1's citizen id, north: delivered pseudonymised
				return "a citizen id of the sample file was delivered as it is"
			}
			m := deliveryIDField.FindStringSubmatch(out)
			if m == nil {
				return "no exchange-delivery-id in the output"
			}
			tr.deliveryID = m[1]
			return ""
		}
	case strings.Contains(command, "exchange consume --topic quarantine."):
		return func(out string, code int) string {
			return want(out, code, "quality:age_in_range", "An age outside 0–129 is a data-entry error at the clinic.", "quality:dose_number_valid")
		}
	case strings.Contains(command, "/api/v1/audit"):
		return func(out string, code int) string { return want(out, code, `"quarantined"`, "quality:age_in_range") }
	case strings.Contains(command, "/api/v1/lineage"):
		return func(out string, code int) string {
			return want(out, code, `"deliveries"`, `"health-to-social-2026-001"`, tr.deliveryID)
		}
	case strings.Contains(command, "exchange audit verify"):
		return func(out string, code int) string { return want(out, code, "sqlite:.exchange-dev/exchange.db", "ok") }
	default:
		return func(out string, code int) string { return want(out, code) }
	}
}

// runShell runs line with sh in dir (bounded) and returns its combined
// output and exit status.
func runShell(ctx context.Context, dir, line string) (string, int) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		return string(out) + err.Error(), -1
	}
	return string(out), 0
}

// retry calls try until it reports done, failing the test with try's last
// account after timeout.
func retry(ctx context.Context, t *testing.T, timeout time.Duration, what string, try func() (string, bool)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		last, ok := try()
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not as the README says after %v: %s", what, timeout, clipOutput(last))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func clipOutput(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "\n…"
	}
	return s
}

// freeAddr is a loopback address nothing listens on (just now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
