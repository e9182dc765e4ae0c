package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadFileThenEnvironmentOverrides(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exchange.yaml")
	os.WriteFile(p, []byte(`
kafka:
  brokers: [k1:9092, k2:9092]
  partitions: 6
database:
  url: postgres://exchange@db/exchange
contracts:
  dir: /etc/exchange/contracts
secrets:
  key_file: /var/lib/exchange/secret.key
tracing:
  otlp_endpoint: http://otel-collector:4318
`), 0o600)
	cfg, err := Load(p, env(map[string]string{"EXCHANGE_KAFKA_BROKERS": "a:1, b:2", "EXCHANGE_HTTP_ADDR": "0.0.0.0:9000",
		"EXCHANGE_TRACING_SAMPLE_RATIO": "0.25"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Kafka.Brokers, ",") != "a:1,b:2" {
		t.Errorf("brokers = %v, want env override a:1,b:2", cfg.Kafka.Brokers)
	}
	if cfg.Kafka.Partitions != 6 || cfg.Kafka.GroupID != "exchange" || cfg.Kafka.ReplicationFactor != 1 {
		t.Errorf("kafka = %+v, want partitions 6 from file and defaults elsewhere", cfg.Kafka)
	}
	if cfg.HTTP.Addr != "0.0.0.0:9000" {
		t.Errorf("http.addr = %q", cfg.HTTP.Addr)
	}
	if cfg.Tracing.OTLPEndpoint != "http://otel-collector:4318" || cfg.Tracing.SampleRatio != 0.25 {
		t.Errorf("tracing = %+v, want the file's endpoint and the environment's ratio 0.25", cfg.Tracing)
	}
}

func TestTracingDefaultsOff(t *testing.T) {
	cfg := Defaults()
	if cfg.Tracing.OTLPEndpoint != "" || cfg.Tracing.SampleRatio != 1 {
		t.Errorf("tracing defaults = %+v, want no endpoint and ratio 1", cfg.Tracing)
	}
}

func TestLoadRejectsUnknownKeyWithLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exchange.yaml")
	os.WriteFile(p, []byte("kafka:\n  brokerz: [x]\n"), 0o600)
	_, err := Load(p, env(nil))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "brokerz") {
		t.Fatalf("got %v, want an error naming line 2 and brokerz", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Load("", env(map[string]string{"EXCHANGE_KAFKA_PARTITIONS": "0", "EXCHANGE_DATABASE_URL": "mysql://x",
		"EXCHANGE_TRACING_OTLP_ENDPOINT": "otel:4317", "EXCHANGE_TRACING_SAMPLE_RATIO": "2"}))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"kafka.brokers", "kafka.partitions", "database.url: must start", "contracts.dir", "secrets.key_file",
		"tracing.otlp_endpoint", "tracing.sample_ratio: 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := Load("", env(map[string]string{"EXCHANGE_KAFKA_PARTITIONS": "six"})); err == nil || !strings.Contains(err.Error(), "EXCHANGE_KAFKA_PARTITIONS") {
		t.Errorf("non-integer env: %v", err)
	}
	if _, err := Load("", env(map[string]string{"EXCHANGE_TRACING_SAMPLE_RATIO": "most"})); err == nil || !strings.Contains(err.Error(), "EXCHANGE_TRACING_SAMPLE_RATIO") {
		t.Errorf("non-number env: %v", err)
	}
}

// TestKafkaConnectionBlock: the kafka block carries the connection block of
// every Kafka client (client id, TLS files, SASL), decoded strictly; the
// SASL password is never a YAML key.
func TestKafkaConnectionBlock(t *testing.T) {
	base := "database: {url: postgres://db/x}\ncontracts: {dir: /c}\nsecrets: {key_file: /k}\n"
	p := filepath.Join(t.TempDir(), "exchange.yaml")
	os.WriteFile(p, []byte(base+`kafka:
  brokers: [k1:9093]
  client_id: exchange-prod
  tls:
    ca_file: /etc/exchange/kafka/ca.pem
    server_name: kafka.internal
`), 0o600)
	cfg, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.ClientID != "exchange-prod" || cfg.Kafka.TLS == nil || cfg.Kafka.TLS.CAFile != "/etc/exchange/kafka/ca.pem" || cfg.Kafka.TLS.ServerName != "kafka.internal" {
		t.Errorf("kafka = %+v, tls %+v", cfg.Kafka, cfg.Kafka.TLS)
	}
	if cfg.Kafka.GroupID != "exchange" || cfg.Kafka.Partitions != 3 || cfg.Kafka.ReplicationFactor != 1 {
		t.Errorf("kafka = %+v, want the defaults group exchange, 3 partitions, replication 1", cfg.Kafka)
	}

	os.WriteFile(p, []byte(base+"kafka:\n  brokers: [k1:9093]\n  tls:\n    ca_fil: /x\n"), 0o600)
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "line 7") || !strings.Contains(err.Error(), "ca_fil") {
		t.Errorf("unknown tls key: %v, want line 7 and ca_fil", err)
	}
	os.WriteFile(p, []byte(base+"kafka:\n  brokers: [k1:9093]\n  sasl: {mechanism: SCRAM-SHA-512, username: exchange, password_file: /run/pw}\n"), 0o600)
	cfg, err = Load(p, env(nil))
	if err != nil || cfg.Kafka.SASL == nil || cfg.Kafka.SASL.Mechanism != "SCRAM-SHA-512" || cfg.Kafka.SASL.PasswordFile != "/run/pw" || cfg.Kafka.ExchangePrincipal() != "User:exchange" {
		t.Errorf("sasl: %v %+v, principal %q", err, cfg.Kafka.SASL, cfg.Kafka.ExchangePrincipal())
	}
	cfg, err = Load(p, env(map[string]string{"EXCHANGE_KAFKA_SASL_USERNAME": "exchange-prod", "EXCHANGE_KAFKA_SASL_PASSWORD_FILE": "/run/other"}))
	if err != nil || cfg.Kafka.SASL.Username != "exchange-prod" || cfg.Kafka.SASL.PasswordFile != "/run/other" || cfg.Kafka.ExchangePrincipal() != "User:exchange-prod" {
		t.Errorf("sasl env: %v %+v, principal %q", err, cfg.Kafka.SASL, cfg.Kafka.ExchangePrincipal())
	}
	if got := cfg.Kafka.String(); !strings.Contains(got, "sasl=SCRAM-SHA-512 user=exchange-prod password=file:/run/other") || !strings.Contains(got, "group=exchange") {
		t.Errorf("kafka block described as %q, want the SASL user and the group", got)
	}
	os.WriteFile(p, []byte(base+"kafka:\n  brokers: [k1:9093]\n  principal: exchange\n  sasl: {mechanism: OAUTHBEARER, username: exchange}\n"), 0o600)
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "OAUTHBEARER needs one of token_file and token_endpoint") || !strings.Contains(err.Error(), "kafka.principal") {
		t.Errorf("oauthbearer without a token, bad principal: %v", err)
	}
	os.WriteFile(p, []byte(base+"kafka:\n  brokers: [k1:9093]\n  principal: User:exchange-svc\n  sasl: {mechanism: OAUTHBEARER, token_endpoint: \"https://idp/token\", client_id: exchange, client_secret_file: /run/cs, scope: kafka}\n"), 0o600)
	if cfg, err := Load(p, env(nil)); err != nil || cfg.Kafka.SASL.TokenEndpoint != "https://idp/token" || cfg.Kafka.ExchangePrincipal() != "User:exchange-svc" {
		t.Errorf("oauthbearer with a client-credentials endpoint: %v %+v", err, cfg.Kafka.SASL)
	}
	os.WriteFile(p, []byte(base+"kafka:\n  brokers: [k1:9093]\n  sasl: {password: hunter2}\n"), 0o600)
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "line 6") || !strings.Contains(err.Error(), "password") {
		t.Errorf("a password in the YAML: %v, want an unknown-key error on line 6 (secrets come from files)", err)
	}
}

// TestManageACLs: kafka.manage_acls is off unless the file or
// EXCHANGE_KAFKA_MANAGE_ACLS turns it on (the environment wins).
func TestManageACLs(t *testing.T) {
	base := "database: {url: postgres://db/x}\ncontracts: {dir: /c}\nsecrets: {key_file: /k}\nkafka:\n  brokers: [k1:9093]\n"
	p := filepath.Join(t.TempDir(), "exchange.yaml")
	os.WriteFile(p, []byte(base), 0o600)
	if cfg, err := Load(p, env(nil)); err != nil || cfg.Kafka.ManageACLs {
		t.Errorf("default: %v, manage_acls %v, want off", err, cfg.Kafka.ManageACLs)
	}
	os.WriteFile(p, []byte(base+"  manage_acls: true\n"), 0o600)
	cfg, err := Load(p, env(nil))
	if err != nil || !cfg.Kafka.ManageACLs || !strings.Contains(cfg.Kafka.String(), "manage_acls=true") {
		t.Errorf("from the file: %v, manage_acls %v, described as %q", err, cfg.Kafka.ManageACLs, cfg.Kafka.String())
	}
	if cfg, err := Load(p, env(map[string]string{"EXCHANGE_KAFKA_MANAGE_ACLS": "false"})); err != nil || cfg.Kafka.ManageACLs {
		t.Errorf("env false over the file's true: %v, manage_acls %v", err, cfg.Kafka.ManageACLs)
	}
	if _, err := Load(p, env(map[string]string{"EXCHANGE_KAFKA_MANAGE_ACLS": "yes please"})); err == nil || !strings.Contains(err.Error(), "EXCHANGE_KAFKA_MANAGE_ACLS") {
		t.Errorf("a non-boolean env: %v", err)
	}
}

// TestWorkerTuning: the worker block starts at the runtime's defaults,
// overrides only the keys it names, and refuses bad values naming the line
// (wrong type) or the key (out of range).
func TestWorkerTuning(t *testing.T) {
	def := Defaults().Worker
	if def != exchange.DefaultTuning() || def.MaxBatchRecords != 1000 || def.Linger != 5*time.Millisecond || def.FetchMaxWait != 2*time.Second ||
		def.StallTimeout != 2*time.Minute || def.PipelineDepth != 7 || def.FetchMinBytes != 1 || def.FetchMaxBytes != 10<<20 {
		t.Errorf("default worker block = %+v, want the runtime's defaults", def)
	}
	base := "kafka: {brokers: [k1:9092]}\ndatabase: {url: postgres://db/x}\ncontracts: {dir: /c}\nsecrets: {key_file: /k}\n"
	p := filepath.Join(t.TempDir(), "exchange.yaml")
	os.WriteFile(p, []byte(base+"worker:\n  max_batch_records: 250\n  linger: 1ms\n  stall_timeout: -1s\n  pipeline_depth: 3\n  fetch_max_bytes: 1048576\n  produce_compression: lz4\n  max_index_lag: 2m\n"), 0o600)
	cfg, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := def
	want.MaxBatchRecords, want.Linger, want.StallTimeout, want.PipelineDepth, want.FetchMaxBytes = 250, time.Millisecond, -time.Second, 3, 1<<20
	want.ProduceCompression, want.MaxIndexLag = "lz4", 2*time.Minute
	if cfg.Worker != want {
		t.Errorf("worker = %+v\nwant %+v", cfg.Worker, want)
	}
	if err := (exchange.WorkerConfig{Kafka: cfg.Kafka, Tuning: cfg.Worker}).Validate(); err != nil {
		t.Errorf("the loaded blocks as a worker config: %v", err)
	}

	for _, c := range []struct{ yaml, want string }{
		{"worker:\n  linger: 5\n", "line 6"},
		{"worker:\n  linger: soon\n", "line 6"},
		{"worker:\n  max_batch_records: many\n", "line 6"},
		{"worker:\n  max_batch: 10\n", "line 6: field max_batch not found"},
		{"worker:\n  max_batch_records: -1\n  commit_timeout: -1s\n", "worker.max_batch_records: -1, must be positive"},
		{"worker:\n  commit_timeout: -1s\n", "worker.commit_timeout: -1s, must be positive"},
		{"worker:\n  max_record_bytes: 2097152\n", "worker.max_record_bytes 2097152 plus max_header_bytes 16384 (and 4 KiB) must fit in produce_batch_bytes 921600"},
		{"worker:\n  fetch_min_bytes: 20000000\n", "worker.fetch_min_bytes 20000000 is over fetch_max_bytes 10485760"},
		{"worker:\n  pipeline_depth: -2\n", "worker.pipeline_depth: -2, must be positive"},
		{"worker:\n  produce_compression: brotli\n", `worker.produce_compression "brotli": want none, snappy, lz4, zstd or gzip`},
		{"worker:\n  index_writers: -1\n", "worker.index_writers: -1, must be positive"},
		{"worker:\n  max_index_lag: -1m\n", "worker.max_index_lag: -1m0s, must be positive"},
	} {
		os.WriteFile(p, []byte(base+c.yaml), 0o600)
		if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error with %q", c.yaml, err, c.want)
		}
	}
}

// TestHTTPIngestBlock: connectors.http_ingest is off by default in serve,
// read strictly when given, and its bad limits are reported.
func TestHTTPIngestBlock(t *testing.T) {
	if Defaults().Connectors.HTTPIngest.Enabled {
		t.Fatal("http_ingest enabled by default in serve")
	}
	base := "database: {url: sqlite:///x.db}\ncontracts: {dir: c}\nsecrets: {key_file: k}\nkafka: {brokers: [k:9092]}\n"
	p := filepath.Join(t.TempDir(), "exchange.yaml")
	os.WriteFile(p, []byte(base+"connectors:\n  http_ingest:\n    enabled: true\n    max_records: 100\n    idempotency_ttl: 1h\n"), 0o600)
	cfg, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Connectors.HTTPIngest; !h.Enabled || h.MaxRecords != 100 || h.IdempotencyTTL != time.Hour {
		t.Errorf("http_ingest = %+v, want enabled, max_records 100, idempotency_ttl 1h", h)
	}
	os.WriteFile(p, []byte(base+"connectors:\n  http_ingest:\n    max_recrods: 100\n"), 0o600)
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "max_recrods") {
		t.Errorf("a misspelt key: %v, want it named", err)
	}
	os.WriteFile(p, []byte(base+"connectors:\n  http_ingest:\n    max_records: 100\n    burst: 10\n"), 0o600)
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "burst 10 is below max_records 100") {
		t.Errorf("burst below max_records: %v, want it refused", err)
	}
}

// TestConnectorsOutboxes: connectors.outboxes entries are outbox connector
// configs, defaulted and validated with the rest (a bad one is named by
// its index).
func TestConnectorsOutboxes(t *testing.T) {
	base := `
kafka: {brokers: [k1:9092]}
database: {url: postgres://exchange@db/exchange}
contracts: {dir: /etc/exchange/contracts}
secrets: {key_file: /var/lib/exchange/secret.key}
connectors:
  outboxes:
    - agency: health
      database: {url_env: HEALTH_OUTBOX_URL}
      kafka_credentials: /etc/exchange/outbox/health.properties
`
	p := filepath.Join(t.TempDir(), "exchange.yaml")
	os.WriteFile(p, []byte(base), 0o600)
	cfg, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Connectors.Outboxes) != 1 || cfg.Connectors.Outboxes[0].Mode != "auto" || cfg.Connectors.Outboxes[0].Table != "exchange_outbox" {
		t.Fatalf("outboxes = %+v, want one with the defaults applied", cfg.Connectors.Outboxes)
	}
	os.WriteFile(p, []byte(base+"    - agency: tax\n      mode: sometimes\n"), 0o600)
	_, err = Load(p, env(nil))
	if err == nil || !strings.Contains(err.Error(), "connectors.outboxes[1]") || !strings.Contains(err.Error(), `mode "sometimes"`) {
		t.Fatalf("got %v, want an error naming connectors.outboxes[1] and its mode", err)
	}
}

// TestConnectorsWebhooks: connectors.webhooks holds the webhook connector's
// endpoints, decoded strictly (a secret is never a YAML key) and validated
// with the rest of the file, errors naming the endpoint.
func TestConnectorsWebhooks(t *testing.T) {
	base := "kafka:\n  brokers: [k:9092]\ndatabase:\n  url: sqlite:///x.db\ncontracts:\n  dir: /c\nsecrets:\n  key_file: /k\n"
	hook := "connectors:\n  webhooks:\n    - agreement: ag-1\n      consumer: social\n      url: %s\n      secret_file: /s\n      properties: /p\n      timeout: 3s\n"
	load := func(text string) (Config, error) {
		p := filepath.Join(t.TempDir(), "exchange.yaml")
		os.WriteFile(p, []byte(text), 0o600)
		return Load(p, env(nil))
	}
	cfg, err := load(base + fmt.Sprintf(hook, "https://intake.example/hook"))
	if err != nil {
		t.Fatal(err)
	}
	if ws := cfg.Connectors.Webhooks; len(ws) != 1 || ws[0].Agreement != "ag-1" || ws[0].Timeout != 3*time.Second {
		t.Errorf("connectors.webhooks = %+v", ws)
	}
	if _, err := load(base + fmt.Sprintf(hook, "http://intake.example/hook")); err == nil || !strings.Contains(err.Error(), "connectors.webhooks[ag-1].url") {
		t.Errorf("plain http endpoint: %v", err)
	}
	if _, err := load(base + fmt.Sprintf(hook, "https://intake.example/hook") + "      secret: s3cr3t\n"); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("a secret in the YAML: %v", err)
	}
}

// TestLoadIngestNeedsNoSecrets: HTTP ingest run alone reads the same file
// without secrets.* (Load still requires secrets.key_file), and every
// other problem is still reported.
func TestLoadIngestNeedsNoSecrets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exchange.yaml")
	if err := os.WriteFile(p, []byte("kafka: {brokers: [k1:9092]}\ndatabase: {url: sqlite:///x.db}\ncontracts: {dir: /c}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIngest(p, env(nil)); err != nil {
		t.Errorf("LoadIngest without secrets: %v", err)
	}
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "secrets.key_file") {
		t.Errorf("Load without secrets: %v, want secrets.key_file required", err)
	}
	_, err := LoadIngest(p, env(map[string]string{"EXCHANGE_DATABASE_URL": "mysql://x"}))
	if err == nil || !strings.Contains(err.Error(), "database.url: must start") || strings.Contains(err.Error(), "secrets") {
		t.Errorf("LoadIngest with a bad database.url: %v, want that problem and none about secrets", err)
	}
}
