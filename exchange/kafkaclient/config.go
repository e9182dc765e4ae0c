package kafkaclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Config is the Kafka connection block (`kafka:` in exchange.yaml, inlined
// there next to the consumer group and topic settings).
type Config struct {
	// Brokers are the bootstrap addresses (host:port). Required.
	Brokers []string `yaml:"brokers"`
	// ClientID names the exchange in broker logs and quotas. Default "":
	// kafka-go's own ("<program>@<host> (github.com/segmentio/kafka-go)").
	ClientID string `yaml:"client_id"`
	// TLS to the brokers; nil: plaintext.
	TLS *TLS `yaml:"tls"`
	// SASL authentication; nil: none.
	SASL *SASL `yaml:"sasl"`
}

// TLS is how the brokers are reached over TLS. Every field names a file or
// a host, never key material itself.
type TLS struct {
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates.
	// Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and its key (PEM), for
	// brokers that authenticate clients by certificate (mTLS). Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the host name checked in the brokers'
	// certificates. Default: the host of the address dialled.
	ServerName string `yaml:"server_name"`
}

// SASL is how the exchange authenticates to the brokers. The password is
// read from PasswordFile or, without one, from the environment variable
// PasswordEnv; it is never written in the YAML, never held in this struct
// and never logged. OAUTHBEARER takes a token from TokenFile or from a
// client-credentials TokenEndpoint instead (its secret likewise from
// ClientSecretFile or ClientSecretEnv).
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER.
	// PLAIN sends the password as is, OAUTHBEARER the token: use them only
	// over TLS.
	Mechanism string `yaml:"mechanism"`
	// Username is the SASL user; the broker's principal is User:<username>.
	// Required but for OAUTHBEARER (the token names the principal; set
	// kafka.principal to it for the ACLs).
	Username string `yaml:"username"`
	// PasswordFile holds the password (one trailing newline is ignored).
	// Default "": the password is the value of PasswordEnv.
	PasswordFile string `yaml:"password_file"`

	// TokenFile holds the OAUTHBEARER token (e.g. a JWT), re-read for
	// every new connection so whoever renews it may replace the file.
	TokenFile string `yaml:"token_file"`
	// TokenEndpoint is an OAuth 2 token endpoint (https) the OAUTHBEARER
	// token is fetched from with the client-credentials grant, as ClientID
	// with the secret of ClientSecretFile (default: ClientSecretEnv), for
	// Scope (optional); each token is cached until shortly before it
	// expires. Either TokenFile or TokenEndpoint.
	TokenEndpoint    string `yaml:"token_endpoint"`
	ClientID         string `yaml:"client_id"`
	ClientSecretFile string `yaml:"client_secret_file"`
	Scope            string `yaml:"scope"`
}

// PasswordEnv is the environment variable holding the SASL password when
// kafka.sasl.password_file is not set.
const PasswordEnv = "EXCHANGE_KAFKA_SASL_PASSWORD"

// SASL mechanisms the builder supports.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	// OAuthBearer is implemented here (oauthbearer.go): kafka-go v0.4
	// ships no OAUTHBEARER mechanism.
	OAuthBearer = "OAUTHBEARER"
)

// Mechanisms lists the supported SASL mechanisms.
var Mechanisms = []string{Plain, ScramSHA256, ScramSHA512, OAuthBearer}

// String names the mechanism, the user and where the password comes from,
// never the password.
func (s *SASL) String() string {
	if s == nil {
		return "none"
	}
	if s.Mechanism == OAuthBearer {
		return fmt.Sprintf("%s token=%s", s.Mechanism, s.tokenSource())
	}
	return fmt.Sprintf("%s user=%s password=%s", s.Mechanism, s.Username, s.passwordSource())
}

// LogValue is String as slog attributes, so logging the block never logs a
// secret.
func (s *SASL) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("none")
	}
	if s.Mechanism == OAuthBearer {
		return slog.GroupValue(slog.String("mechanism", s.Mechanism), slog.String("token", s.tokenSource()))
	}
	return slog.GroupValue(slog.String("mechanism", s.Mechanism), slog.String("username", s.Username), slog.String("password", s.passwordSource()))
}

// tokenSource says where OAUTHBEARER tokens come from, never a secret.
func (s *SASL) tokenSource() string {
	if s.TokenFile != "" {
		return "file:" + s.TokenFile
	}
	secret := "env:" + ClientSecretEnv
	if s.ClientSecretFile != "" {
		secret = "file:" + s.ClientSecretFile
	}
	endpoint := s.TokenEndpoint
	if u, err := url.Parse(endpoint); err == nil {
		endpoint = u.Redacted()
	}
	return fmt.Sprintf("endpoint:%s client_id=%s client_secret=%s", endpoint, s.ClientID, secret)
}

func (s *SASL) passwordSource() string {
	if s.PasswordFile != "" {
		return "file:" + s.PasswordFile
	}
	return "env:" + PasswordEnv
}

// Authenticated reports whether the block makes the brokers know who the
// exchange is: SASL, or a TLS client certificate. `exchange serve` refuses
// to start without it unless --insecure is given.
func (c Config) Authenticated() bool {
	return c.SASL != nil || (c.TLS != nil && c.TLS.CertFile != "")
}

// String describes the block without secrets (there are none in it: keys
// and passwords are files or environment variables).
func (c Config) String() string {
	tlsDesc := "plaintext"
	if c.TLS != nil {
		tlsDesc = "tls"
		if c.TLS.CertFile != "" {
			tlsDesc += " client-cert=" + c.TLS.CertFile
		}
	}
	return fmt.Sprintf("brokers=%s %s sasl=%s", strings.Join(c.Brokers, ","), tlsDesc, c.SASL.String())
}

// LogValue is the block as slog attributes, without secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("brokers", c.Brokers), slog.Bool("tls", c.TLS != nil),
		slog.Bool("client_cert", c.TLS != nil && c.TLS.CertFile != ""), slog.Any("sasl", c.SASL))
}

// Validate reports every problem of the block at once; errors name the
// YAML key (kafka.…). It reads no file: New does.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: at least one broker is required"))
	}
	for _, b := range c.Brokers {
		if strings.TrimSpace(b) == "" || strings.ContainsAny(b, " \t,") {
			errs = append(errs, fmt.Errorf("kafka.brokers: %q is not a host:port address", b))
		}
	}
	if t := c.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, errors.New("kafka.tls: cert_file and key_file go together (a client certificate needs its key)"))
	}
	if c.SASL != nil {
		errs = append(errs, c.SASL.validate()...)
	}
	return errors.Join(errs...)
}

func (s *SASL) validate() []error {
	var errs []error
	switch s.Mechanism {
	case Plain, ScramSHA256, ScramSHA512:
		if strings.TrimSpace(s.Username) == "" {
			errs = append(errs, errors.New("kafka.sasl.username: required"))
		}
		if s.TokenFile != "" || s.TokenEndpoint != "" || s.ClientID != "" || s.ClientSecretFile != "" || s.Scope != "" {
			errs = append(errs, fmt.Errorf("kafka.sasl: token_file, token_endpoint, client_id, client_secret_file and scope apply to OAUTHBEARER only, not %s", s.Mechanism))
		}
	case OAuthBearer:
		errs = append(errs, s.validateBearer()...)
	case "":
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism: required (one of %s)", strings.Join(Mechanisms, ", ")))
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism: %q is not one of %s", s.Mechanism, strings.Join(Mechanisms, ", ")))
	}
	return errs
}

// validateBearer checks the OAUTHBEARER keys: a token file or a
// client-credentials endpoint, never a password.
func (s *SASL) validateBearer() []error {
	var errs []error
	if s.PasswordFile != "" {
		errs = append(errs, errors.New("kafka.sasl.password_file: does not apply to OAUTHBEARER (token_file or token_endpoint)"))
	}
	switch {
	case (s.TokenFile == "") == (s.TokenEndpoint == ""):
		errs = append(errs, errors.New("kafka.sasl: OAUTHBEARER needs one of token_file and token_endpoint"))
	case s.TokenFile != "":
		if s.ClientID != "" || s.ClientSecretFile != "" || s.Scope != "" {
			errs = append(errs, errors.New("kafka.sasl: client_id, client_secret_file and scope go with token_endpoint, not token_file"))
		}
	default:
		if err := checkTokenEndpoint(s.TokenEndpoint); err != nil {
			errs = append(errs, err)
		}
		if strings.TrimSpace(s.ClientID) == "" {
			errs = append(errs, errors.New("kafka.sasl.client_id: required with token_endpoint"))
		}
	}
	return errs
}

// mechanism reads the password (file, else getenv(PasswordEnv)), or for
// OAUTHBEARER checks its token source, and returns kafka-go's mechanism
// for s; nil s is no SASL. Errors never contain a secret.
func (s *SASL) mechanism(getenv func(string) string) (sasl.Mechanism, error) {
	if s == nil {
		return nil, nil
	}
	if s.Mechanism == OAuthBearer {
		return s.bearerMechanism(getenv)
	}
	var pw string
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl.password_file: %w", err)
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	} else {
		pw = getenv(PasswordEnv)
	}
	if pw == "" {
		return nil, fmt.Errorf("kafka.sasl: no password for user %s: set password_file or %s", s.Username, PasswordEnv)
	}
	switch s.Mechanism {
	case Plain:
		return plain.Mechanism{Username: s.Username, Password: pw}, nil
	case ScramSHA256, ScramSHA512:
		algo := scram.SHA512
		if s.Mechanism == ScramSHA256 {
			algo = scram.SHA256
		}
		m, err := scram.Mechanism(algo, s.Username, pw)
		if err != nil {
			return nil, fmt.Errorf("kafka.sasl: %s for user %s: %w", s.Mechanism, s.Username, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not supported", s.Mechanism)
}

// tlsConfig loads the files of t; nil t is plaintext (nil config).
func (t *TLS) tlsConfig() (*tls.Config, error) { return t.ClientConfig("kafka.tls") }

// ClientConfig loads the block's files into a client tls.Config (TLS 1.2 at
// least); key is the YAML key errors name (kafka.tls, or another block that
// reuses this one, such as a webhook's tls). nil: nil, no TLS settings.
func (t *TLS) ClientConfig(key string) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", key, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file %s: no PEM certificate in it", key, t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
