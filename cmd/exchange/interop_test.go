package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/app"
)

const (
	interopScript   = "../../deploy/interop/confluent_client.py"
	interopPyEnv    = "../../deploy/local/python-env.sh"
	interopAgreeID  = "health-to-social-2026-001"
	interopDataset  = "health.immunisations"
	interopProducer = "health"
	interopConsumer = "social-services"
)

// interopSummary is what confluent_client.py prints on stdout.
type interopSummary struct {
	Error         string           `json:"error"`
	Producer      string           `json:"producer"`
	IngressTopic  string           `json:"ingress_topic"`
	Produced      int              `json:"produced"`
	RecordIDs     []string         `json:"record_ids"`
	Consumer      string           `json:"consumer"`
	DeliveryTopic string           `json:"delivery_topic"`
	Consumed      int              `json:"consumed"`
	SampleFields  []string         `json:"sample_fields"`
	Values        []map[string]any `json:"values"`
}

// TestInteropConfluentPython publishes and consumes through `exchange dev`
// with the Confluent Python client (librdkafka, AvroSerializer and
// AvroDeserializer against the exchange's registry), configured by nothing
// but the agencies' client properties files: the records reach the
// social-services agreement's delivery topic transformed as the agreement
// says. With dev mode's credentials (SASL/SCRAM), a wrong password is
// refused.
func TestInteropConfluentPython(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the Confluent Python client and runs the whole exchange")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found: the Confluent Python client cannot run here")
	}
	python := interopPython(t)
	dataDir, kafkaAddr, httpAddr := startDevCommand(t)
	producer, consumer, secure := interopProperties(t, dataDir, kafkaAddr, httpAddr)

	t.Run("ProduceAndConsume", func(t *testing.T) {
		want := interopExpected(t)
		sum, err := runInterop(t, python, "--producer", producer, "--consumer", consumer,
			"--expect", fmt.Sprint(len(want)), "--timeout", "60")
		if err != nil {
			t.Fatal(err)
		}
		checkInteropSummary(t, sum, want)
	})

	t.Run("WrongRegistryPasswordRefused", func(t *testing.T) {
		wrong := withProperty(t, producer, "basic.auth.user.info", interopProducer+":not-the-secret")
		sum, err := runInterop(t, python, "--producer", wrong, "--timeout", "20")
		if err == nil {
			t.Fatalf("a wrong registry secret produced: %+v", sum)
		}
		if !strings.Contains(sum.Error, "401") || strings.Contains(sum.Error, "not-the-secret") {
			t.Errorf("the failure does not say 401 (or quotes the secret): %q", sum.Error)
		}
	})

	t.Run("WrongPasswordRefused", func(t *testing.T) {
		if !secure {
			t.Skip("dev mode's broker is plain (no SASL credentials): there is no password to get wrong")
		}
		wrong := withProperty(t, producer, "sasl.password", "not-the-password")
		sum, err := runInterop(t, python, "--producer", wrong, "--timeout", "20")
		if err == nil {
			t.Fatalf("a wrong SASL password produced: %+v", sum)
		}
		if !regexp.MustCompile(`(?i)authenticat`).MatchString(sum.Error) {
			t.Errorf("the failure does not say authentication failed: %q", sum.Error)
		}
	})
}

// interopPython installs (or reuses) the venv of deploy/local/python-env.sh
// and returns its python.
func interopPython(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", interopPyEnv)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", interopPyEnv, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// startDevCommand runs `exchange dev` (runDev, with its flags) on free
// ports and a temporary data dir until the test ends, and waits for /readyz.
func startDevCommand(t *testing.T) (dataDir, kafkaAddr, httpAddr string) {
	t.Helper()
	dataDir, kafkaAddr, httpAddr = t.TempDir(), freeAddr(t), freeAddr(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"--data-dir", dataDir, "--kafka-addr", kafkaAddr, "--http-addr", httpAddr, "--contracts", examplesDir})
	}()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("exchange dev: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("exchange dev did not stop within 30s")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("exchange dev stopped before it was ready: %v", err)
		default:
		}
		if resp, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return dataDir, kafkaAddr, httpAddr
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("exchange dev not ready within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// interopProperties returns the producer's and the consumer's properties
// files: the ones dev mode issued under <data-dir>/credentials/agencies/,
// or, where dev mode writes none (a plain broker), equivalent files with
// security.protocol=PLAINTEXT written here. secure says the files
// authenticate with SASL.
func interopProperties(t *testing.T, dataDir, kafkaAddr, httpAddr string) (producer, consumer string, secure bool) {
	t.Helper()
	dir := filepath.Join(dataDir, "credentials", "agencies")
	producer = filepath.Join(dir, interopProducer+".properties")
	consumer = filepath.Join(dir, interopConsumer+".properties")
	if b, err := os.ReadFile(producer); err == nil {
		protocol := "unset"
		if m := regexp.MustCompile(`(?m)^security\.protocol=(.*)$`).FindSubmatch(b); m != nil {
			protocol = string(m[1])
		}
		t.Logf("using the credentials exchange dev wrote in %s (security.protocol=%s)", dir, protocol)
		return producer, consumer, strings.HasPrefix(protocol, "SASL")
	}
	t.Logf("exchange dev wrote no %s: the broker is plain, the test writes PLAINTEXT properties files", producer)
	// The registry wants credentials all the same: the agency's registry
	// secret, as exchange dev derives it, over Basic.
	keys, err := app.LoadOrCreateKeys(filepath.Join(dataDir, devSecretKeyName), false)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	for _, agency := range []string{interopProducer, interopConsumer} {
		body := fmt.Sprintf("bootstrap.servers=%s\nsecurity.protocol=PLAINTEXT\nschema.registry.url=http://%s/registry\n"+
			"basic.auth.credentials.source=USER_INFO\nbasic.auth.user.info=%s:%s\n", kafkaAddr, httpAddr, agency, devRegistrySecret(keys, agency))
		if err := os.WriteFile(filepath.Join(dir, agency+".properties"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, interopProducer+".properties"), filepath.Join(dir, interopConsumer+".properties"), false
}

// withProperty copies a properties file with key set to value.
func withProperty(t *testing.T, path, key, value string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if k, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
			continue
		}
		out = append(out, l)
	}
	out = append(out, key+"="+value)
	p := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runInterop runs confluent_client.py and parses its summary; err is
// non-nil when it exits non-zero (the summary then holds its error).
func runInterop(t *testing.T, python string, args ...string) (interopSummary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{interopScript}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var sum interopSummary
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &sum); err != nil {
		t.Fatalf("confluent_client.py printed no summary (%v): %v\nstdout: %s\nstderr: %s", runErr, err, stdout.String(), stderr.String())
	}
	if runErr != nil {
		return sum, fmt.Errorf("confluent_client.py: %w: %s\nstderr: %s", runErr, sum.Error, stderr.String())
	}
	return sum, nil
}

// interopRecord is what the test reads of one sample record.
type interopRecord struct {
	CitizenID string `json:"citizen_id"`
	Postcode  string `json:"postcode"`
}

// interopExpected maps the record_id of each sample record the agreement
// delivers (its filter keeps the north and east regions) to the record.
func interopExpected(t *testing.T) map[string]interopRecord {
	t.Helper()
	set, err := agreements.LoadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	ag, ok := set.Agreement(interopAgreeID)
	if !ok || ag.Filter != "record.region in ['north', 'east']" {
		t.Fatalf("agreement %s: the test expects the filter on the north and east regions", interopAgreeID)
	}
	f, err := os.Open(filepath.Join(examplesDir, "records", interopDataset+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]interopRecord{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			interopRecord
			RecordID string `json:"record_id"`
			Region   string `json:"region"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Region == "north" || r.Region == "east" {
			want[r.RecordID] = r.interopRecord
		}
	}
	if len(want) == 0 {
		t.Fatal("no sample record in the north or east regions")
	}
	return want
}

// checkInteropSummary checks what the Python client produced and decoded:
// every sample record produced, the agreement's deliveries read, each with
// exactly the agreement's fields, the citizen pseudonymised and the
// postcode truncated.
func checkInteropSummary(t *testing.T, sum interopSummary, want map[string]interopRecord) {
	t.Helper()
	if sum.IngressTopic != names.Ingress(interopDataset) || sum.Produced != len(sampleCitizens(t)) {
		t.Errorf("produced %d records to %q, want every sample record (%d) to %q", sum.Produced, sum.IngressTopic, len(sampleCitizens(t)), names.Ingress(interopDataset))
	}
	if sum.DeliveryTopic != names.Deliver(interopConsumer, interopAgreeID) || sum.Consumed != len(want) {
		t.Fatalf("consumed %d deliveries from %q, want %d from %q", sum.Consumed, sum.DeliveryTopic, len(want), names.Deliver(interopConsumer, interopAgreeID))
	}
	set, err := agreements.LoadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	ag, _ := set.Agreement(interopAgreeID)
	var fields []string
	for _, f := range ag.Fields {
		fields = append(fields, f.Name)
	}
	slices.Sort(fields)
	if !slices.Equal(sum.SampleFields, fields) {
		t.Errorf("decoded fields %v, want the agreement's %v", sum.SampleFields, fields)
	}
	seen := map[string]bool{}
	for _, v := range sum.Values {
		id, _ := v["record_id"].(string)
		// The script suffixes record ids with its run tag: <id>.<run>.<n>.
		orig, _, _ := strings.Cut(id, ".")
		raw, ok := want[orig]
		if !ok {
			t.Errorf("delivered %q, not a north or east sample record", id)
			continue
		}
		seen[orig] = true
		if c, _ := v["citizen_id"].(string); c == "" || c == raw.CitizenID {
			t.Errorf("%s: citizen_id %q is not a pseudonym of %q", id, c, raw.CitizenID)
		}
		if p, _ := v["postcode"].(string); p != raw.Postcode[:2] {
			t.Errorf("%s: postcode %q, want %q truncated to 2", id, p, raw.Postcode)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("delivered %d distinct sample records, want %d", len(seen), len(want))
	}
}
