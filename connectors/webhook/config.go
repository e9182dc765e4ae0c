package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// Defaults of an Endpoint's optional fields.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMinBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Minute
	DefaultAlertAfter    = 5 * time.Minute
	DefaultAuthzInterval = 5 * time.Second
	// DefaultTolerance is the replay window Verify is meant to be called
	// with: a signature older (or newer) than this is refused.
	DefaultTolerance = 5 * time.Minute
)

// Endpoint is one webhook: the deliveries of one agreement to one HTTPS
// URL of its consumer agency (`connectors: webhooks:` in exchange.yaml, or
// `webhooks:` in the file of `exchange connect webhook --config`). Every
// secret is a file, never a value in the YAML.
type Endpoint struct {
	// Agreement is the agreement id whose delivery topic is read. Required.
	Agreement string `yaml:"agreement"`
	// Consumer is the consumer agency of the agreement; the connector
	// connects to Kafka as this agency (IDENTITY.md). Required.
	Consumer string `yaml:"consumer"`
	// URL is where each delivery is POSTed. https is required unless
	// InsecureAllowHTTP.
	URL string `yaml:"url"`
	// InsecureAllowHTTP permits an http:// URL: deliveries (personal data)
	// then cross the network in clear. For local tests only.
	InsecureAllowHTTP bool `yaml:"insecure_allow_http"`
	// SecretFile holds the HMAC secret shared with the receiver (leading
	// and trailing white space ignored; at least 16 bytes). Required.
	SecretFile string `yaml:"secret_file"`
	// TLS: ca_file (the receiver's CA; default the system roots),
	// cert_file + key_file (a client certificate: mTLS), server_name.
	TLS *kafkaclient.TLS `yaml:"tls"`
	// Timeout bounds one POST, response included. Default DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// MinBackoff and MaxBackoff bound the wait between two attempts at one
	// delivery (exponential, full jitter). Defaults DefaultMinBackoff,
	// DefaultMaxBackoff.
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// AlertAfter: exchange_webhook_failing turns 1 once one delivery has
	// been failing for this long. Default DefaultAlertAfter.
	AlertAfter time.Duration `yaml:"alert_after"`
	// AuthzInterval is how often the connector asks the brokers whether
	// the consumer may still read the delivery topic (a suspended or
	// revoked agreement loses the ACL). Default DefaultAuthzInterval.
	AuthzInterval time.Duration `yaml:"authz_interval"`
	// Group is the consumer group; it must start with "<consumer>.".
	// Default names.WebhookGroup(consumer, agreement).
	Group string `yaml:"group"`
	// Kafka is the connection as the consumer agency; or Properties, the
	// agency's client .properties file (exchange dev writes one per agency
	// under credentials/agencies/). Exactly one.
	Kafka      *kafkaclient.Config `yaml:"kafka"`
	Properties string              `yaml:"properties"`
	// Registry is the schema registry the derived schemas are read from.
	Registry Registry `yaml:"registry"`
}

// Registry is how the connector reads schemas by id.
type Registry struct {
	// URL of the Confluent-compatible registry (the exchange's /registry).
	// Default: schema.registry.url of Properties.
	URL string `yaml:"url"`
	// UserInfoFile holds HTTP Basic "user:secret"; TokenFile a bearer
	// token. At most one; default: basic.auth.user.info of Properties.
	UserInfoFile string `yaml:"user_info_file"`
	TokenFile    string `yaml:"token_file"`
	// CAFile is a PEM bundle of the CAs that sign an https registry's
	// certificate. Default: the system roots.
	CAFile string `yaml:"ca_file"`
}

// Name is how logs and errors name the endpoint: webhooks[<agreement>].
func (e *Endpoint) Name() string { return "webhooks[" + e.Agreement + "]" }

// WithDefaults returns e with its zero optional fields set.
func (e Endpoint) WithDefaults() Endpoint {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&e.Timeout, DefaultTimeout)
	set(&e.MinBackoff, DefaultMinBackoff)
	set(&e.MaxBackoff, DefaultMaxBackoff)
	set(&e.AlertAfter, DefaultAlertAfter)
	set(&e.AuthzInterval, DefaultAuthzInterval)
	if e.Group == "" && e.Consumer != "" && e.Agreement != "" {
		e.Group = names.WebhookGroup(e.Consumer, e.Agreement)
	}
	return e
}

// Validate reports every problem of e (after WithDefaults) at once, each
// naming the key. It reads no file.
func (e Endpoint) Validate() error {
	n := e.Name()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(n+"."+format, args...)) }
	if e.Agreement == "" {
		add("agreement: required")
	}
	if e.Consumer == "" || strings.ContainsAny(e.Consumer, ". \t") {
		add("consumer: required, an agency id (no dot)")
	}
	u, err := url.Parse(e.URL)
	switch {
	case e.URL == "" || err != nil || u.Host == "":
		add("url: %q is not an absolute URL", e.URL)
	case u.User != nil:
		add("url: credentials in the URL would be logged; the signature authenticates the exchange")
	case u.Scheme == "http" && !e.InsecureAllowHTTP:
		add("url: %s is plain http: deliveries would cross the network in clear (https required; insecure_allow_http: true for local tests only)", e.URL)
	case u.Scheme != "https" && u.Scheme != "http":
		add("url: scheme %q, want https", u.Scheme)
	}
	if e.SecretFile == "" {
		add("secret_file: required (the HMAC secret shared with the receiver; never in the YAML)")
	}
	if e.TLS != nil && (e.TLS.CertFile == "") != (e.TLS.KeyFile == "") {
		add("tls: cert_file and key_file go together")
	}
	for key, d := range map[string]time.Duration{"timeout": e.Timeout, "min_backoff": e.MinBackoff, "max_backoff": e.MaxBackoff,
		"alert_after": e.AlertAfter, "authz_interval": e.AuthzInterval} {
		if d <= 0 {
			add("%s: %v, must be positive", key, d)
		}
	}
	if e.MaxBackoff < e.MinBackoff {
		add("max_backoff: %v is below min_backoff %v", e.MaxBackoff, e.MinBackoff)
	}
	if e.Consumer != "" && !strings.HasPrefix(e.Group, names.GroupPrefixOf(e.Consumer)) {
		add("group: %q is outside the consumer's groups (%s*): the broker would deny it", e.Group, names.GroupPrefixOf(e.Consumer))
	}
	switch {
	case (e.Kafka == nil) == (e.Properties == ""):
		add("kafka, properties: give exactly one (the consumer agency's connection)")
	case e.Kafka != nil:
		if err := e.Kafka.Validate(); err != nil {
			add("%w", err)
		}
	}
	if e.Registry.UserInfoFile != "" && e.Registry.TokenFile != "" {
		add("registry: user_info_file and token_file exclude each other")
	}
	if e.Registry.URL == "" && e.Properties == "" {
		add("registry.url: required without properties")
	}
	return errors.Join(errs...)
}

// readSecret reads an endpoint's HMAC secret.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret_file: %w", err)
	}
	s := []byte(strings.TrimSpace(string(b)))
	if len(s) < 16 {
		return nil, fmt.Errorf("secret_file %s: %d bytes; at least 16 are required", path, len(s))
	}
	return s, nil
}
