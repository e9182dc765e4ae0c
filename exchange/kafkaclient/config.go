package kafkaclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
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
	// SASL authentication; nil: none. Not supported yet (Validate refuses it).
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
// read from PasswordFile; it is never written in the YAML.
type SASL struct {
	Mechanism    string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
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
		errs = append(errs, errors.New("kafka.sasl: not supported yet; remove the block (SASL authentication arrives with the identity work)"))
	}
	return errors.Join(errs...)
}

// tlsConfig loads the files of t; nil t is plaintext (nil config).
func (t *TLS) tlsConfig() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
