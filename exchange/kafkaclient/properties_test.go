package kafkaclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadProperties(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, text string
	}{
		{"librdkafka", "# c\nbootstrap.servers=a:1, b:2\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanisms=SCRAM-SHA-512\nsasl.username=health\nsasl.password=s3cr=t\nschema.registry.url=http://r\n"},
		{"java", "bootstrap.servers = a:1,b:2\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n" +
			`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="health" password="s3cr=t";` + "\n"},
	} {
		cfg, opt, err := ReadProperties(write(c.name, c.text))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if strings.Join(cfg.Brokers, ",") != "a:1,b:2" || cfg.SASL == nil || cfg.SASL.Mechanism != ScramSHA512 || cfg.SASL.Username != "health" || cfg.TLS != nil {
			t.Errorf("%s: %+v %v", c.name, cfg, cfg.SASL)
		}
		kc, err := New(cfg, opt)
		if err != nil {
			t.Fatalf("%s: New: %v", c.name, err)
		}
		kc.Close()
		cl := &Clients{}
		opt.apply(cl)
		got := cl.getenv(PasswordEnv)
		if got != "s3cr=t" {
			t.Errorf("%s: password %q", c.name, got)
		}
	}

	plain, _, err := ReadProperties(write("plain", "bootstrap.servers=a:1\n"))
	if err != nil || plain.SASL != nil || plain.TLS != nil {
		t.Errorf("plaintext: %+v %v", plain, err)
	}
	tlsCfg, _, err := ReadProperties(write("ssl", "bootstrap.servers=a:1\nsecurity.protocol=SSL\nssl.ca.location=/ca.pem\n"))
	if err != nil || tlsCfg.TLS == nil || tlsCfg.TLS.CAFile != "/ca.pem" {
		t.Errorf("ssl: %+v %v", tlsCfg, err)
	}
	for name, text := range map[string]string{
		"no brokers":  "security.protocol=PLAINTEXT\n",
		"no password": "bootstrap.servers=a:1\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=u\n",
		"bad proto":   "bootstrap.servers=a:1\nsecurity.protocol=KERBEROS\n",
		"bad line":    "bootstrap.servers\n",
	} {
		if _, _, err := ReadProperties(write("bad", text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, _, err := ReadProperties(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file: no error")
	}
}
