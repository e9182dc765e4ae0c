// Package deploy holds what an operator deploys: Kubernetes manifests,
// Prometheus alert rules and a Grafana dashboard (and, under local/, the
// scripts that start PostgreSQL and Apache Kafka for development and CI).
// These tests hold the artifacts to the code: the configuration the
// manifests carry loads, the probes and port are the server's, and every
// metric the alerts and the dashboard use is one the exchange exports.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/exchange-gov/exchange/exchange/config"
	"github.com/exchange-gov/exchange/exchange/server"
)

// exportedMetrics lists the metric names defined in the exchange's code
// (Name: "exchange_…" in exchange/ and connectors/), with the series a histogram adds.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{"up": true} // Prometheus's own scrape health
	re := regexp.MustCompile(`Name:\s*"(exchange_[a-z0-9_]+)"`)
	walk := func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			n := string(m[1])
			names[n] = true
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[n+s] = true
			}
		}
		return nil
	}
	for _, dir := range []string{"../exchange", "../connectors"} { // connectors export their own
		if err := filepath.WalkDir(dir, walk); err != nil {
			t.Fatal(err)
		}
	}
	if !names["exchange_records_in_total"] || !names["exchange_plan_reloads_total"] {
		t.Fatalf("metric scan found too little: %d names", len(names))
	}
	return names
}

var metricRef = regexp.MustCompile(`\b(exchange_[a-z0-9_]+|up)\b\s*[{\[)]`)

// checkExpr reports metrics expr uses that the exchange does not export.
func checkExpr(t *testing.T, where, expr string, exported map[string]bool) {
	t.Helper()
	refs := metricRef.FindAllStringSubmatch(expr, -1)
	if len(refs) == 0 {
		t.Errorf("%s: %q uses no exchange metric", where, expr)
	}
	for _, m := range refs {
		if !exported[m[1]] {
			t.Errorf("%s: metric %s is not exported by the exchange", where, m[1])
		}
	}
}

func TestAlertRules(t *testing.T) {
	data, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	exported := exportedMetrics(t)
	seen := map[string]bool{}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("rule %d: alert name %q empty or repeated", n, r.Alert)
			}
			seen[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: summary and description are required", r.Alert)
			}
			checkExpr(t, r.Alert, r.Expr, exported)
		}
	}
	// The conditions an operator must hear about at once.
	for _, must := range []string{"ExchangeDown", "ExchangeLedgerPaused", "ExchangePartitionHalted", "ExchangeConsumerLag"} {
		if !seen[must] {
			t.Errorf("no %s alert", must)
		}
	}
}

func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile("grafana/exchange-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("exchange-dashboard.json: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without uid or panels")
	}
	exported := exportedMetrics(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d repeated", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			checkExpr(t, p.Title, q.Expr, exported)
			for _, m := range metricRef.FindAllStringSubmatch(q.Expr, -1) {
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")] = true
			}
		}
	}
	// The dashboard shows every metric the exchange exports.
	for name := range exported {
		if strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") || name == "up" {
			continue
		}
		if !used[name] {
			t.Errorf("metric %s is on no dashboard panel", name)
		}
	}
}

// manifests decodes every document of the Kubernetes file.
func manifests(t *testing.T) []map[string]any {
	t.Helper()
	data, err := os.ReadFile("kubernetes/exchange.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("kubernetes/exchange.yaml: %v", err)
		}
		docs = append(docs, d)
	}
	return docs
}

func find(docs []map[string]any, kind, name string) map[string]any {
	for _, d := range docs {
		if d["kind"] == kind && dig(d, "metadata", "name") == name {
			return d
		}
	}
	return nil
}

// dig follows keys (string) and indexes (int) through decoded YAML.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestKubernetesManifests: the ConfigMap's exchange.yaml, with the
// Deployment's environment, is a valid configuration; the container runs
// `exchange serve` on it, mounts every path it names, exposes its HTTP
// port, probes endpoints the server has, and is given time to drain.
func TestKubernetesManifests(t *testing.T) {
	docs := manifests(t)
	cm := find(docs, "ConfigMap", "exchange-config")
	dep := find(docs, "Deployment", "exchange")
	job := find(docs, "Job", "exchange-migrate")
	if cm == nil || dep == nil || job == nil || find(docs, "Service", "exchange") == nil {
		t.Fatalf("want ConfigMap exchange-config, Deployment, Service and Job exchange-migrate")
	}
	c := dig(dep, "spec", "template", "spec", "containers", 0)
	args := strs(dig(c, "args"))
	if len(args) != 3 || args[0] != "serve" || args[1] != "--config" {
		t.Fatalf("container args %v, want serve --config PATH", args)
	}
	env := map[string]string{}
	for _, e := range dig(c, "env").([]any) {
		name := dig(e, "name").(string)
		if !strings.HasPrefix(name, "EXCHANGE_") {
			t.Errorf("env %s is not an exchange setting", name)
		}
		env[name] = "postgres://exchange_app@db/exchange" // from a Secret
	}
	path := filepath.Join(t.TempDir(), "exchange.yaml")
	if err := os.WriteFile(path, []byte(dig(cm, "data", "exchange.yaml").(string)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the ConfigMap's exchange.yaml with the Deployment's env: %v", err)
	}

	mounts := map[string]bool{}
	for _, m := range dig(c, "volumeMounts").([]any) {
		mounts[dig(m, "mountPath").(string)] = true
	}
	if !cfg.Kafka.Authenticated() || cfg.Kafka.SASL == nil {
		t.Fatal("the kafka block does not authenticate: serve would refuse to start")
	}
	if !cfg.Authenticated() || !cfg.HTTP.TLS.Enabled() || cfg.Auth.Basic.UsersFile == "" {
		t.Fatal("the HTTP surface does not authenticate over TLS: serve would refuse to start, or credentials would cross in clear")
	}
	for what, p := range map[string]string{
		"http.tls.cert_file": filepath.Dir(cfg.HTTP.TLS.CertFile), "http.tls.client_ca": filepath.Dir(cfg.HTTP.TLS.ClientCA),
		"auth.basic.users_file": filepath.Dir(cfg.Auth.Basic.UsersFile),
		"--config":              args[2], "contracts.dir": cfg.Contracts.Dir, "kafka.sasl.password_file": filepath.Dir(cfg.Kafka.SASL.PasswordFile),
		"secrets.key_file": filepath.Dir(cfg.Secrets.KeyFile), "secrets.signing_key_file": filepath.Dir(cfg.Secrets.SigningKeyFile),
	} {
		if !mounts[p] {
			t.Errorf("%s %s is not mounted (mounts: %v)", what, p, mounts)
		}
	}
	_, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := dig(c, "ports", 0, "containerPort"); fmt.Sprint(got) != port {
		t.Errorf("containerPort %v, http.addr port %s", got, port)
	}
	srv := server.New(nil, nil)
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		p, _ := dig(c, probe, "httpGet", "path").(string)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code == http.StatusNotFound || p == "" {
			t.Errorf("%s path %q: the server answers %d", probe, p, rec.Code)
		}
	}
	// Worker drain (worker.shutdown_timeout) + HTTP drain 10 s + trace flush 5 s.
	need := int((cfg.Worker.ShutdownTimeout + 15*time.Second).Seconds())
	if g, _ := dig(dep, "spec", "template", "spec", "terminationGracePeriodSeconds").(int); g < need {
		t.Errorf("terminationGracePeriodSeconds %d, want at least %d (worker.shutdown_timeout %v + 15 s)", g, need, cfg.Worker.ShutdownTimeout)
	}
	if a := strs(dig(job, "spec", "template", "spec", "containers", 0, "args")); !slices.Equal(a, []string{"migrate"}) {
		t.Errorf("migration job args %v", a)
	}
	if dig(job, "spec", "template", "spec", "containers", 0, "env", 0, "name") != "EXCHANGE_DATABASE_URL" {
		t.Errorf("migration job does not set EXCHANGE_DATABASE_URL")
	}
}

// TestDockerfile: the builder's Go is the one go.mod asks for, and the
// image builds the one binary without cgo.
func TestDockerfile(t *testing.T) {
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goLine == nil {
		t.Fatal("go.mod has no go directive")
	}
	if want := "FROM golang:" + string(goLine[1]) + " AS build"; !strings.Contains(string(df), want) {
		t.Errorf("Dockerfile does not build with Go %s (want %q)", goLine[1], want)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/exchange", "USER nonroot"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
