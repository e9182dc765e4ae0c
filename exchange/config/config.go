// Package config reads exchange.yaml, the configuration of `exchange serve`,
// strictly (an unknown key is an error naming its line), applies defaults,
// lets environment variables override the file, and validates the result.
//
//	kafka:                       # the connection block is kafkaclient.Config
//	  brokers: [kafka-1:9092, kafka-2:9092]
//	  client_id: exchange          # default: kafka-go's
//	  tls: {ca_file: /etc/exchange/kafka/ca.pem}  # optional; also cert_file, key_file, server_name
//	  sasl:                        # optional; PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER
//	    mechanism: SCRAM-SHA-512
//	    username: exchange
//	    password_file: /var/run/secrets/kafka/password  # default: $EXCHANGE_KAFKA_SASL_PASSWORD
//	    # OAUTHBEARER instead: token_file (re-read on every connection), or
//	    # token_endpoint, client_id, client_secret_file ($EXCHANGE_KAFKA_SASL_CLIENT_SECRET), scope
//	  principal: User:exchange     # the exchange in ACLs; default User:<sasl.username>, else User:exchange
//	  manage_acls: true            # reconcile ACLs on every plan change and validity bound; default false
//	  group_id: exchange           # default "exchange"
//	  partitions: 6                # of the topics the exchange creates; default 3
//	  replication_factor: 3        # default 1
//	worker:                        # every key optional; defaults shown (exchange.DefaultTuning)
//	  max_batch_records: 1000      # records fetched, routed, produced, audited and committed together
//	  linger: 5ms                  # how long a batch waits for more records after its first
//	  max_record_bytes: 524288     # larger ingress records are quarantined as size:too_large
//	  max_headers: 64              # more headers: quarantined as headers:invalid
//	  max_header_bytes: 16384
//	  produce_batch_bytes: 921600  # one produce request per partition; under message.max.bytes
//	  pipeline_depth: 7            # produced batches that may wait for the ledger append and commit
//	  fetch_min_bytes: 1           # one partition fetch asks for at least / at most this much
//	  fetch_max_bytes: 10485760
//	  fetch_max_wait: 2s           # one fetch with no data waits this long
//	  write_timeout: 10s           # one produce attempt (retried)
//	  ledger_timeout: 10s          # one ledger append attempt (retried)
//	  commit_timeout: 10s
//	  shutdown_timeout: 10s        # the batch in flight may finish this long after SIGTERM
//	  plan_check_interval: 1s
//	  stall_timeout: 2m            # watchdog of a partition that stopped fetching; negative: off
//	  session_timeout: 10s         # consumer group timings
//	  heartbeat_interval: 1s
//	  rebalance_timeout: 10s
//	database:
//	  url: postgres://exchange@db/exchange
//	http:
//	  addr: 0.0.0.0:8080
//	  tls:                         # optional; TLS 1.2+, files read again when they change
//	    cert_file: /etc/exchange/tls/tls.crt
//	    key_file: /etc/exchange/tls/tls.key
//	    client_ca: /etc/exchange/tls/agencies-ca.pem  # optional: client certificates authenticate agencies
//	  metrics_token_file: /var/run/secrets/exchange/metrics-token  # /metrics wants this bearer token
//	  metrics_addr: 0.0.0.0:9090   # or: /metrics only on this address (and not on addr)
//	auth:                          # who may call the HTTP surface; serve refuses none unless --insecure
//	  oidc:                        # bearer JWTs of one issuer
//	    issuer: https://id.example.gov/realms/exchange
//	    audience: exchange
//	    jwks_url: https://id.example.gov/realms/exchange/protocol/openid-connect/certs  # default: discovery
//	    claims: {agency: agency, roles: roles}  # claim names; dotted names walk objects (realm_access.roles)
//	    algorithms: [EdDSA, RS256, ES256]       # default; a subset may be given
//	    clock_skew: 30s            # on exp and nbf; default 30s
//	    console_client_id: exchange-console  # the console's sign-in (authorization code + PKCE); unset: no console sign-in
//	    console_redirect_url: https://exchange.example.gov/console/oidc/callback  # registered at the issuer
//	    console_client_secret_file: /var/run/secrets/exchange/console-client-secret  # only for a confidential client
//	  basic:
//	    users_file: /etc/exchange/registry-users  # user:<bcrypt|argon2id hash> lines (htpasswd -nB); user = agency id
//	  mtls:                        # with http.tls.client_ca
//	    agencies: {"health-gateway.health.example.gov": health}  # certificate CN or DNS/URI SAN → agency
//	    cn_is_agency: true         # a certificate whose names are not listed is the agency its CN names; default true
//	contracts:
//	  dir: /etc/exchange/contracts
//	secrets:
//	  key_file: /var/lib/exchange/secret.key        # pseudonym and subject-hash master key
//	  signing_key_file: /var/lib/exchange/ledger.key # Ed25519 ledger checkpoint key
//	tracing:
//	  otlp_endpoint: http://otel-collector:4318      # OTLP/HTTP; unset: no traces exported
//	  sample_ratio: 0.1                              # default 1
//	connectors:
//	  # POST /api/v1/datasets/{dataset}/records (connectors/httpingest); alone:
//	  # exchange connect http-ingest --config exchange.yaml (LoadIngest)
//	  http_ingest:
//	    enabled: true              # default false in serve (exchange dev: true); grants the exchange WRITE on ingress.<d>
//	    max_body_bytes: 4194304    # larger: 413
//	    max_records: 5000          # records per request; more: 413
//	    records_per_second: 5000   # per principal (token bucket); over it: 429 with Retry-After
//	    burst: 10000               # default max(max_records, 2 × records_per_second)
//	    produce_timeout: 10s       # Kafka must acknowledge every record (acks=all) within it, else 503
//	    idempotency_ttl: 24h       # how long an Idempotency-Key's answer is kept
//	  outboxes:                    # agencies' PostgreSQL outbox tables (connectors/outbox.Config)
//	    - agency: health
//	      database: {url_env: HEALTH_OUTBOX_DATABASE_URL}
//	      kafka_credentials: /etc/exchange/outbox/health.properties
//	  webhooks:                    # agreements' deliveries POSTed to consumers' endpoints (connectors/webhook.Endpoint)
//	    - agreement: health-to-social-2026-001
//	      consumer: social-services
//	      url: https://intake.social.example/exchange
//	      secret_file: /etc/exchange/webhook/social.secret   # HMAC secret shared with the receiver
//	      properties: /etc/exchange/webhook/social-services.properties  # or kafka: + registry:
//
// Environment overrides: EXCHANGE_KAFKA_BROKERS (comma-separated),
// EXCHANGE_KAFKA_SASL_MECHANISM, EXCHANGE_KAFKA_SASL_USERNAME,
// EXCHANGE_KAFKA_SASL_PASSWORD_FILE (any of them creates the sasl block),
// EXCHANGE_KAFKA_PRINCIPAL, EXCHANGE_KAFKA_MANAGE_ACLS (true or false),
// EXCHANGE_KAFKA_GROUP_ID, EXCHANGE_KAFKA_PARTITIONS,
// EXCHANGE_KAFKA_REPLICATION_FACTOR, EXCHANGE_DATABASE_URL,
// EXCHANGE_HTTP_ADDR, EXCHANGE_HTTP_TLS_CERT_FILE, EXCHANGE_HTTP_TLS_KEY_FILE,
// EXCHANGE_HTTP_TLS_CLIENT_CA, EXCHANGE_HTTP_METRICS_TOKEN_FILE,
// EXCHANGE_HTTP_METRICS_ADDR, EXCHANGE_AUTH_OIDC_ISSUER,
// EXCHANGE_AUTH_OIDC_AUDIENCE, EXCHANGE_AUTH_OIDC_JWKS_URL,
// EXCHANGE_AUTH_BASIC_USERS_FILE, EXCHANGE_CONTRACTS_DIR, EXCHANGE_KEY_FILE,
// EXCHANGE_SIGNING_KEY_FILE, EXCHANGE_TRACING_OTLP_ENDPOINT,
// EXCHANGE_TRACING_SAMPLE_RATIO.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/connectors/outbox"
	"github.com/exchange-gov/exchange/connectors/webhook"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/telemetry"
)

// Config is the whole configuration of a production exchange process.
type Config struct {
	Kafka     Kafka     `yaml:"kafka"`
	Worker    Worker    `yaml:"worker"`
	Database  Database  `yaml:"database"`
	HTTP      HTTP      `yaml:"http"`
	Auth      Auth      `yaml:"auth"`
	Contracts Contracts `yaml:"contracts"`
	Secrets   Secrets   `yaml:"secrets"`
	Tracing   Tracing   `yaml:"tracing"`
	// Connectors are the bridges the process runs besides the workers.
	Connectors Connectors `yaml:"connectors"`
}

// Connectors configures the connectors a serve process runs in-process.
type Connectors struct {
	// HTTPIngest: POST /api/v1/datasets/{dataset}/records. Off unless
	// enabled: it is a new way into the ingress topics, and it grants the
	// exchange's Kafka principal WRITE on them (agreements/acl).
	HTTPIngest httpingest.Config `yaml:"http_ingest"`
	// Outboxes are agencies' PostgreSQL outbox connectors (connectors/outbox;
	// each also runs alone: exchange connect outbox --config FILE).
	Outboxes []outbox.Config `yaml:"outboxes"`
	// Webhooks POST agreements' deliveries to consumers' endpoints
	// (package connectors/webhook); each may run alone instead (exchange
	// connect webhook).
	Webhooks []webhook.Endpoint `yaml:"webhooks"`
}

// Kafka is the external cluster: the connection block, the consumer group
// and the layout of created topics, as the runtime takes it.
type Kafka = exchange.KafkaConfig

// Worker tunes the record workers (batching, fetching, producing, timeouts).
type Worker = exchange.Tuning

// Database is the store (postgres:// or sqlite:///path).
type Database struct {
	URL string `yaml:"url"`
}

// HTTP is the listen address of the HTTP surface, its TLS and how
// /metrics is protected.
type HTTP struct {
	Addr string  `yaml:"addr"` // default 127.0.0.1:8080
	TLS  HTTPTLS `yaml:"tls"`
	// MetricsTokenFile holds the bearer token /metrics requires (instead
	// of a principal); MetricsAddr serves /metrics on its own address
	// only. Either, both or neither (then /metrics needs a principal like
	// every other route).
	MetricsTokenFile string `yaml:"metrics_token_file"`
	MetricsAddr      string `yaml:"metrics_addr"`
}

// HTTPTLS are the server's TLS files; all empty: plain HTTP.
type HTTPTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	ClientCA string `yaml:"client_ca"`
}

// Enabled reports whether TLS is configured.
func (t HTTPTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Auth is how HTTP callers authenticate (IDENTITY.md "HTTP").
type Auth struct {
	OIDC  OIDC  `yaml:"oidc"`
	Basic Basic `yaml:"basic"`
	MTLS  MTLS  `yaml:"mtls"`
}

// OIDC is the one token issuer the exchange trusts.
type OIDC struct {
	Issuer     string          `yaml:"issuer"`
	Audience   string          `yaml:"audience"`
	JWKSURL    string          `yaml:"jwks_url"`
	Claims     auth.ClaimNames `yaml:"claims"`
	Algorithms []string        `yaml:"algorithms"`
	ClockSkew  time.Duration   `yaml:"clock_skew"`
	// The governance console's client at the issuer: its sign-in is the
	// authorization-code flow with PKCE; its access tokens must carry
	// Audience, as API tokens do.
	ConsoleClientID         string `yaml:"console_client_id"`
	ConsoleRedirectURL      string `yaml:"console_redirect_url"`
	ConsoleClientSecretFile string `yaml:"console_client_secret_file"`
}

// Basic are the HTTP Basic users (Confluent serializers).
type Basic struct {
	UsersFile string `yaml:"users_file"`
}

// MTLS maps client certificates (http.tls.client_ca) to agencies.
type MTLS struct {
	Agencies   map[string]string `yaml:"agencies"`
	CNIsAgency *bool             `yaml:"cn_is_agency"` // default true
}

// Authenticated reports whether any HTTP authentication is configured.
func (c Config) Authenticated() bool {
	return c.Auth.OIDC.Issuer != "" || c.Auth.Basic.UsersFile != "" || c.HTTP.TLS.ClientCA != ""
}

// Contracts is where contracts and agreements are read from.
type Contracts struct {
	Dir string `yaml:"dir"`
}

// Secrets are key files.
type Secrets struct {
	KeyFile        string `yaml:"key_file"`
	SigningKeyFile string `yaml:"signing_key_file"`
}

// Tracing is where the batch spans go: an OTLP/HTTP collector inside the
// network. No endpoint, no export.
type Tracing struct {
	OTLPEndpoint string  `yaml:"otlp_endpoint"`
	SampleRatio  float64 `yaml:"sample_ratio"` // 0..1; default 1
}

// Defaults returns a configuration with every default filled in.
func Defaults() Config {
	return Config{
		Kafka:   defaultKafka(),
		Worker:  exchange.DefaultTuning(),
		HTTP:    HTTP{Addr: "127.0.0.1:8080"},
		Tracing: Tracing{SampleRatio: 1},
	}
}

// defaultKafka is the runtime's defaults, with replicated topics: exchange
// serve states the replication factor rather than leave it to the broker.
func defaultKafka() Kafka {
	k := exchange.DefaultKafkaConfig()
	k.ReplicationFactor = 1
	return k
}

// Load reads path (may be empty: defaults + environment only), applies the
// environment, and validates.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg, err := read(path, getenv)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// LoadIngest is Load for HTTP ingest run alone (`exchange connect
// http-ingest`), from the same file: it pseudonymises nothing and signs
// no ledger, so secrets.* may be absent (and their files need not be
// mounted where it runs).
func LoadIngest(path string, getenv func(string) string) (Config, error) {
	cfg, err := read(path, getenv)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.validate(false)
}

// read reads path and applies the environment over the defaults.
func read(path string, getenv func(string) string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("reading config: %w", err)
		}
		if err := Parse(data, &cfg); err != nil {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
		for i := range cfg.Connectors.Outboxes {
			cfg.Connectors.Outboxes[i].ApplyDefaults()
		}
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	return cfg, applyEnv(&cfg, getenv)
}

// Parse decodes YAML strictly into cfg (which holds the defaults).
func Parse(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty document (io.EOF) means "no settings": defaults apply.
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	if v := getenv("EXCHANGE_KAFKA_BROKERS"); v != "" {
		cfg.Kafka.Brokers = nil
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.Kafka.Brokers = append(cfg.Kafka.Brokers, b)
			}
		}
	}
	applySASLEnv(cfg, getenv)
	str := map[string]*string{
		"EXCHANGE_KAFKA_PRINCIPAL":         &cfg.Kafka.Principal,
		"EXCHANGE_KAFKA_GROUP_ID":          &cfg.Kafka.GroupID,
		"EXCHANGE_DATABASE_URL":            &cfg.Database.URL,
		"EXCHANGE_HTTP_ADDR":               &cfg.HTTP.Addr,
		"EXCHANGE_HTTP_TLS_CERT_FILE":      &cfg.HTTP.TLS.CertFile,
		"EXCHANGE_HTTP_TLS_KEY_FILE":       &cfg.HTTP.TLS.KeyFile,
		"EXCHANGE_HTTP_TLS_CLIENT_CA":      &cfg.HTTP.TLS.ClientCA,
		"EXCHANGE_HTTP_METRICS_TOKEN_FILE": &cfg.HTTP.MetricsTokenFile,
		"EXCHANGE_HTTP_METRICS_ADDR":       &cfg.HTTP.MetricsAddr,
		"EXCHANGE_AUTH_OIDC_ISSUER":        &cfg.Auth.OIDC.Issuer,
		"EXCHANGE_AUTH_OIDC_AUDIENCE":      &cfg.Auth.OIDC.Audience,
		"EXCHANGE_AUTH_OIDC_JWKS_URL":      &cfg.Auth.OIDC.JWKSURL,
		"EXCHANGE_AUTH_BASIC_USERS_FILE":   &cfg.Auth.Basic.UsersFile,
		"EXCHANGE_CONTRACTS_DIR":           &cfg.Contracts.Dir,
		"EXCHANGE_KEY_FILE":                &cfg.Secrets.KeyFile,
		"EXCHANGE_SIGNING_KEY_FILE":        &cfg.Secrets.SigningKeyFile,
		"EXCHANGE_TRACING_OTLP_ENDPOINT":   &cfg.Tracing.OTLPEndpoint,
	}
	for name, p := range str {
		if v := getenv(name); v != "" {
			*p = v
		}
	}
	ints := map[string]*int{
		"EXCHANGE_KAFKA_PARTITIONS":         &cfg.Kafka.Partitions,
		"EXCHANGE_KAFKA_REPLICATION_FACTOR": &cfg.Kafka.ReplicationFactor,
	}
	for name, p := range ints {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s=%q: not an integer", name, v)
			}
			*p = n
		}
	}
	if v := getenv("EXCHANGE_KAFKA_MANAGE_ACLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("EXCHANGE_KAFKA_MANAGE_ACLS=%q: not true or false", v)
		}
		cfg.Kafka.ManageACLs = b
	}
	if v := getenv("EXCHANGE_TRACING_SAMPLE_RATIO"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("EXCHANGE_TRACING_SAMPLE_RATIO=%q: not a number", v)
		}
		cfg.Tracing.SampleRatio = r
	}
	return nil
}

// applySASLEnv overrides the kafka.sasl keys; any of them set creates the
// block. The password itself is read by kafkaclient (password_file or
// kafkaclient.PasswordEnv), never stored in the configuration.
func applySASLEnv(cfg *Config, getenv func(string) string) {
	mech, user, file := getenv("EXCHANGE_KAFKA_SASL_MECHANISM"), getenv("EXCHANGE_KAFKA_SASL_USERNAME"), getenv("EXCHANGE_KAFKA_SASL_PASSWORD_FILE")
	if mech == "" && user == "" && file == "" {
		return
	}
	if cfg.Kafka.SASL == nil {
		cfg.Kafka.SASL = &kafkaclient.SASL{}
	}
	for _, kv := range []struct {
		v string
		p *string
	}{{mech, &cfg.Kafka.SASL.Mechanism}, {user, &cfg.Kafka.SASL.Username}, {file, &cfg.Kafka.SASL.PasswordFile}} {
		if kv.v != "" {
			*kv.p = kv.v
		}
	}
}

// Validate reports every problem of a configuration at once.
func (c Config) Validate() error { return c.validate(true) }

// validate is Validate; secrets: whether secrets.key_file is required.
func (c Config) validate(secrets bool) error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Kafka.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("kafka.replication_factor: %d, must be at least 1", c.Kafka.ReplicationFactor))
	}
	if err := c.Worker.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Connectors.HTTPIngest.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Database.URL == "" {
		errs = append(errs, errors.New("database.url: required (postgres://… or sqlite:///path; or EXCHANGE_DATABASE_URL)"))
	} else if !strings.HasPrefix(c.Database.URL, "postgres://") && !strings.HasPrefix(c.Database.URL, "postgresql://") && !strings.HasPrefix(c.Database.URL, "sqlite://") {
		errs = append(errs, errors.New("database.url: must start with postgres:// or sqlite://"))
	}
	if c.Contracts.Dir == "" {
		errs = append(errs, errors.New("contracts.dir: required (or EXCHANGE_CONTRACTS_DIR)"))
	}
	if secrets && c.Secrets.KeyFile == "" {
		errs = append(errs, errors.New("secrets.key_file: required: the master key of pseudonyms must survive restarts (or EXCHANGE_KEY_FILE)"))
	}
	if c.HTTP.Addr == "" {
		errs = append(errs, errors.New("http.addr: must not be empty"))
	}
	errs = append(errs, c.validateHTTPSecurity()...)
	for i, o := range c.Connectors.Outboxes {
		if err := o.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("connectors.outboxes[%d]: %w", i, err))
		}
	}
	if c.Tracing.OTLPEndpoint != "" {
		if err := telemetry.CheckEndpoint(c.Tracing.OTLPEndpoint); err != nil {
			errs = append(errs, fmt.Errorf("tracing.otlp_endpoint: %w", err))
		}
	}
	if r := c.Tracing.SampleRatio; !(r >= 0 && r <= 1) {
		errs = append(errs, fmt.Errorf("tracing.sample_ratio: %v, must be from 0 to 1", r))
	}
	if err := webhook.ValidateAll(c.Connectors.Webhooks); err != nil {
		errs = append(errs, fmt.Errorf("connectors.%w", err))
	}
	return errors.Join(errs...)
}

// validateHTTPSecurity checks http.tls, the metrics keys and auth.
func (c Config) validateHTTPSecurity() []error {
	var errs []error
	t := c.HTTP.TLS
	if t.Enabled() && (t.CertFile == "" || t.KeyFile == "") {
		errs = append(errs, errors.New("http.tls: cert_file and key_file go together"))
	}
	if t.ClientCA != "" && !t.Enabled() {
		errs = append(errs, errors.New("http.tls.client_ca: needs http.tls.cert_file and key_file (client certificates come with TLS)"))
	}
	if len(c.Auth.MTLS.Agencies) > 0 && t.ClientCA == "" {
		errs = append(errs, errors.New("auth.mtls.agencies: needs http.tls.client_ca"))
	}
	if c.HTTP.MetricsAddr != "" && c.HTTP.MetricsAddr == c.HTTP.Addr {
		errs = append(errs, fmt.Errorf("http.metrics_addr: %s is http.addr; give another address, or leave it out", c.HTTP.MetricsAddr))
	}
	o := c.Auth.OIDC
	if (o.Issuer == "") != (o.Audience == "") {
		errs = append(errs, errors.New("auth.oidc: issuer and audience go together (the audience is what tokens for the exchange carry in aud)"))
	}
	if o.Issuer == "" && (o.JWKSURL != "" || len(o.Algorithms) > 0) {
		errs = append(errs, errors.New("auth.oidc: jwks_url and algorithms need an issuer"))
	}
	for _, a := range o.Algorithms {
		if !slices.Contains(auth.Algorithms, a) {
			errs = append(errs, fmt.Errorf("auth.oidc.algorithms: %q is not accepted (only %s)", a, strings.Join(auth.Algorithms, ", ")))
		}
	}
	if (o.ConsoleClientID == "") != (o.ConsoleRedirectURL == "") || (o.ConsoleClientID != "" && o.Issuer == "") {
		errs = append(errs, errors.New("auth.oidc: console_client_id and console_redirect_url go together, with an issuer"))
	}
	if o.ConsoleClientSecretFile != "" && o.ConsoleClientID == "" {
		errs = append(errs, errors.New("auth.oidc.console_client_secret_file: needs console_client_id"))
	}
	if o.ClockSkew < 0 || o.ClockSkew > 5*time.Minute {
		errs = append(errs, fmt.Errorf("auth.oidc.clock_skew: %v, must be from 0 to 5m", o.ClockSkew))
	}
	return errs
}
