package kafkaclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Config{
		Brokers: []string{"k1:9092", " "},
		TLS:     &TLS{CertFile: "client.pem"},
		SASL:    &SASL{Mechanism: "SCRAM-SHA-1", Username: "exchange", PasswordFile: "/run/pw"},
	}.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{`kafka.brokers: " " is not a host:port`, "kafka.tls: cert_file and key_file go together", `kafka.sasl.mechanism: "SCRAM-SHA-1" is not one of`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "kafka.brokers: at least one broker is required") {
		t.Errorf("no brokers: %v", err)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted a config without brokers")
	}
	if err := (Config{Brokers: []string{"k1:9092"}, TLS: &TLS{}}).Validate(); err != nil {
		t.Errorf("TLS with system roots: %v", err)
	}
}

// TestClientsCarryTheBlock checks that every client the builder hands out
// reaches the configured brokers with the block's settings and the safe
// producer defaults.
func TestClientsCarryTheBlock(t *testing.T) {
	c, err := New(Config{Brokers: []string{"k1:9092", "k2:9092"}, ClientID: "exchange-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := c.Writer("ingress.x")
	if w.RequiredAcks != kafka.RequireAll || w.Async || w.AllowAutoTopicCreation || w.BatchTimeout != 2*time.Millisecond {
		t.Errorf("writer acks %v async %v auto-create %v batch timeout %v, want all, sync, none, 2ms", w.RequiredAcks, w.Async, w.AllowAutoTopicCreation, w.BatchTimeout)
	}
	if _, ok := w.Balancer.(*kafka.Hash); !ok {
		t.Errorf("writer balancer %T, want *kafka.Hash", w.Balancer)
	}
	if w.Addr.String() != "k1:9092,k2:9092" || w.Topic != "ingress.x" || w.Transport != c.Transport() {
		t.Errorf("writer addr %s topic %s, want k1:9092,k2:9092 ingress.x over the shared transport", w.Addr, w.Topic)
	}
	tr, ok := c.Transport().(*kafka.Transport)
	if !ok || tr.ClientID != "exchange-test" || tr.TLS != nil {
		t.Errorf("transport %+v, want client id exchange-test, plaintext", c.Transport())
	}
	d := c.Dialer()
	if d.ClientID != "exchange-test" || d.Timeout != 10*time.Second || !d.DualStack || d.TLS != nil {
		t.Errorf("dialer %+v, want client id, 10s, dual stack, plaintext", d)
	}
	if a := c.Admin(); a.Timeout != 30*time.Second || a.Transport != c.Transport() || a.Addr.String() != "k1:9092,k2:9092" {
		t.Errorf("admin client %+v", a)
	}
	r := c.Reader(kafka.ReaderConfig{Brokers: []string{"elsewhere:1"}, Topic: "ingress.x", Partition: 1})
	defer r.Close()
	if got := r.Config(); strings.Join(got.Brokers, ",") != "k1:9092,k2:9092" || got.Dialer == nil || got.Dialer.ClientID != "exchange-test" {
		t.Errorf("reader brokers %v dialer %+v, want the builder's", got.Brokers, got.Dialer)
	}
	g, err := c.ConsumerGroup(kafka.ConsumerGroupConfig{ID: "exchange-test", Topics: []string{"ingress.x"}})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if _, err := c.ConsumerGroup(kafka.ConsumerGroupConfig{}); err == nil || !strings.HasPrefix(err.Error(), "consumer group : ") {
		t.Errorf("group without id: %v", err)
	}
}

func TestOptions(t *testing.T) {
	shared := &kafka.Transport{}
	c, err := New(Config{Brokers: []string{"k1:9092"}}, WithTransport(shared), DialTimeout(time.Second), AdminTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport() != shared || c.Writer("").Transport != shared || c.Admin().Transport != shared {
		t.Error("WithTransport: clients do not use the given transport")
	}
	if c.Dialer().Timeout != time.Second || c.Admin().Timeout != 5*time.Second {
		t.Errorf("timeouts: dial %v admin %v", c.Dialer().Timeout, c.Admin().Timeout)
	}
	if _, err := New(Config{Brokers: []string{"k1:9092"}}, DialTimeout(0)); err == nil {
		t.Error("a zero dial timeout was accepted")
	}
}

func TestTLSFilesLoaded(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeCert(t, dir)
	c, err := New(Config{Brokers: []string{"k1:9093"}, TLS: &TLS{CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "kafka.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Dialer().TLS == nil || c.Transport().(*kafka.Transport).TLS != c.Dialer().TLS {
		t.Fatal("the dialer and the transport do not share the loaded TLS config")
	}
	tc := c.Dialer().TLS
	if tc.ServerName != "kafka.internal" || tc.RootCAs == nil || len(tc.Certificates) != 1 {
		t.Errorf("tls config: server name %q roots %v certificates %d", tc.ServerName, tc.RootCAs != nil, len(tc.Certificates))
	}
	if _, err := New(Config{Brokers: []string{"k1:9093"}, TLS: &TLS{CAFile: filepath.Join(dir, "missing.pem")}}); err == nil || !strings.HasPrefix(err.Error(), "kafka.tls.ca_file: ") {
		t.Errorf("missing CA file: %v", err)
	}
	if _, err := New(Config{Brokers: []string{"k1:9093"}, TLS: &TLS{CAFile: key}}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("CA file without certificate: %v", err)
	}
	if _, err := New(Config{Brokers: []string{"k1:9093"}, TLS: &TLS{CertFile: cert, KeyFile: ca}}); err == nil || !strings.HasPrefix(err.Error(), "kafka.tls.cert_file/key_file: ") {
		t.Errorf("key file without key: %v", err)
	}
}

// writeCert writes a self-signed certificate (its own CA) and its key.
func writeCert(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "exchange"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, cert, key
}
