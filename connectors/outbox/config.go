package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gopkg.in/yaml.v3"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// Modes of Config.Mode.
const (
	ModeAuto        = "auto"        // replication when the role may replicate and wal_level is logical, else poll
	ModeReplication = "replication" // logical replication through a slot
	ModePoll        = "poll"        // SELECT … FOR UPDATE SKIP LOCKED, publish, DELETE
)

// Defaults of Config.
const (
	DefaultTable           = "exchange_outbox"
	DefaultDeadTable       = "exchange_outbox_dead"
	DefaultBatchSize       = 500
	DefaultPollInterval    = time.Second
	DefaultRegistryURL     = "http://127.0.0.1:8080/registry"
	defaultSlotPrefix      = "exchange_outbox_"
	defaultMaxBackoff      = 30 * time.Second
	defaultReplicationIdle = 50 * time.Millisecond
)

// Config is one outbox connector: the agency it acts for, the database it
// reads and how, and where it publishes (the YAML of `exchange connect
// outbox --config FILE`, and one entry of connectors: outboxes: in
// exchange.yaml).
//
//	agency: health
//	mode: auto                       # auto (default), replication or poll
//	database:
//	  url_env: HEALTH_OUTBOX_DATABASE_URL   # or url_file; url only without a password
//	table: exchange_outbox           # default; schema-qualified allowed (app.exchange_outbox)
//	dead_letter_table: exchange_outbox_dead
//	publication: exchange_outbox_health  # replication; default exchange_outbox_<agency>
//	slot: exchange_outbox_health         # replication; default exchange_outbox_<agency>
//	batch_size: 500
//	poll_interval: 1s                # poll: wait when the table is empty
//	key_fields: {health.immunisations: record_id}  # default: publish's choice
//	kafka_credentials: /etc/outbox/health.properties  # bootstrap.servers, sasl.* (and the registry's basic.auth.user.info)
//	# or a kafka: block (kafkaclient.Config: brokers, tls, sasl with password_file)
//	registry:
//	  url: https://exchange.example.gov/registry
//	  token_file: /etc/outbox/health.token   # default: basic.auth.user.info of kafka_credentials
type Config struct {
	Agency           string              `yaml:"agency"`
	Mode             string              `yaml:"mode"`
	Database         Database            `yaml:"database"`
	Table            string              `yaml:"table"`
	DeadLetterTable  string              `yaml:"dead_letter_table"`
	Publication      string              `yaml:"publication"`
	Slot             string              `yaml:"slot"`
	BatchSize        int                 `yaml:"batch_size"`
	PollInterval     time.Duration       `yaml:"poll_interval"`
	KeyFields        map[string]string   `yaml:"key_fields"`
	KafkaCredentials string              `yaml:"kafka_credentials"`
	Kafka            *kafkaclient.Config `yaml:"kafka"`
	Registry         Registry            `yaml:"registry"`
}

// Database says where the agency's database is. The URL carries the
// password, so it comes from the environment or a file, never the YAML.
type Database struct {
	URL     string `yaml:"url"`      // only without a password (trust, peer, .pgpass)
	URLEnv  string `yaml:"url_env"`  // environment variable holding the URL
	URLFile string `yaml:"url_file"` // file holding the URL (one trailing newline ignored)
}

// Registry is the exchange's schema registry and how the connector
// authenticates to it (as the agency).
type Registry struct {
	URL       string `yaml:"url"`
	TokenFile string `yaml:"token_file"`
}

// Load reads a connector's YAML strictly (unknown keys are errors), applies
// the defaults and validates.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading outbox config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ApplyDefaults fills the unset fields.
func (c *Config) ApplyDefaults() {
	if c.Mode == "" {
		c.Mode = ModeAuto
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.DeadLetterTable == "" {
		c.DeadLetterTable = DefaultDeadTable
	}
	slot := defaultSlotPrefix + strings.ReplaceAll(c.Agency, "-", "_")
	if c.Publication == "" {
		c.Publication = slot
	}
	if c.Slot == "" {
		c.Slot = slot
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Registry.URL == "" {
		c.Registry.URL = DefaultRegistryURL
	}
}

var (
	slugRe  = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	tableRe = regexp.MustCompile(`^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$`)
)

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !slugRe.MatchString(c.Agency) {
		bad("agency %q: want the agency id, a lowercase slug (health, social-services)", c.Agency)
	}
	switch c.Mode {
	case ModeAuto, ModeReplication, ModePoll:
	default:
		bad("mode %q: want %s, %s or %s", c.Mode, ModeAuto, ModeReplication, ModePoll)
	}
	errs = append(errs, c.Database.validate()...)
	for what, v := range map[string]string{"table": c.Table, "dead_letter_table": c.DeadLetterTable} {
		if !tableRe.MatchString(v) {
			bad("%s %q: want a lowercase SQL name, optionally schema-qualified", what, v)
		}
	}
	for what, v := range map[string]string{"publication": c.Publication, "slot": c.Slot} {
		if !identRe.MatchString(v) {
			bad("%s %q: want a lowercase SQL name (letters, digits, _)", what, v)
		}
	}
	if c.BatchSize < 1 {
		bad("batch_size %d: want 1 or more", c.BatchSize)
	}
	if c.PollInterval < 0 {
		bad("poll_interval %s: want a positive duration", c.PollInterval)
	}
	switch {
	case c.KafkaCredentials == "" && c.Kafka == nil:
		bad("kafka_credentials or kafka: the agency's Kafka connection is required")
	case c.KafkaCredentials != "" && c.Kafka != nil:
		bad("kafka_credentials and kafka: give one")
	case c.Kafka != nil:
		if err := c.Kafka.Validate(); err != nil {
			bad("kafka: %w", err)
		}
	}
	if u, err := url.Parse(c.Registry.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("registry.url %q: want an http(s) URL", c.Registry.URL)
	}
	return errors.Join(errs...)
}

func (d Database) validate() []error {
	set := 0
	for _, v := range []string{d.URL, d.URLEnv, d.URLFile} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return []error{errors.New("database: give exactly one of url_env, url_file or url")}
	}
	if d.URL != "" {
		cfg, err := pgconn.ParseConfig(d.URL)
		if err != nil {
			return []error{errors.New("database.url: not a PostgreSQL URL")}
		}
		if cfg.Password != "" {
			return []error{errors.New("database.url holds a password: secrets never go in the YAML; use url_env or url_file")}
		}
	}
	return nil
}

// DatabaseURL resolves the database URL from the environment or the file;
// getenv nil means os.Getenv. Errors never quote the URL (it holds the
// password).
func (c Config) DatabaseURL(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch {
	case c.Database.URLEnv != "":
		v := getenv(c.Database.URLEnv)
		if v == "" {
			return "", fmt.Errorf("database.url_env: $%s is not set", c.Database.URLEnv)
		}
		return v, nil
	case c.Database.URLFile != "":
		b, err := os.ReadFile(c.Database.URLFile)
		if err != nil {
			return "", fmt.Errorf("database.url_file: %w", err)
		}
		return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
	}
	return c.Database.URL, nil
}
