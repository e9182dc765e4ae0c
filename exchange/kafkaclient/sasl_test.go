package kafkaclient

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// saslCluster starts a kfake broker that requires SASL, with a user per
// mechanism (each with password "pw-<user>") and the topic "t".
func saslCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.EnableSASL(), kfake.SeedTopics(1, "t"),
		kfake.Superuser(ScramSHA512, "admin", "pw-admin"),
		kfake.User(ScramSHA256, "u256", "pw-u256"),
		kfake.User(ScramSHA512, "u512", "pw-u512"),
		kfake.User(Plain, "uplain", "pw-uplain"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func passwordFile(t *testing.T, pw string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSASLMechanismsAuthenticate: for each mechanism, a Writer (over the
// Transport) and a group Reader (over the Dialer) built from the block
// authenticate, produce and consume.
func TestSASLMechanismsAuthenticate(t *testing.T) {
	addr := saslCluster(t)
	for _, m := range []struct{ mech, user string }{{ScramSHA256, "u256"}, {ScramSHA512, "u512"}, {Plain, "uplain"}} {
		t.Run(m.mech, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := New(Config{Brokers: []string{addr}, SASL: &SASL{Mechanism: m.mech, Username: m.user, PasswordFile: passwordFile(t, "pw-"+m.user)}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			w := c.Writer("t")
			if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(m.user), Value: []byte(m.mech)}); err != nil {
				t.Fatalf("produce: %v", err)
			}
			r := c.Reader(kafka.ReaderConfig{Topic: "t", GroupID: "g-" + m.user, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			for {
				msg, err := r.FetchMessage(ctx)
				if err != nil {
					t.Fatalf("group read: %v", err)
				}
				if string(msg.Key) == m.user {
					break
				}
			}
		})
	}
}

// TestSASLRefusals: a wrong password and missing credentials fail with
// errors that say why; the password itself never appears.
func TestSASLRefusals(t *testing.T) {
	addr := saslCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bad, err := New(Config{Brokers: []string{addr}, SASL: &SASL{Mechanism: ScramSHA512, Username: "u512"}},
		Getenv(func(k string) string {
			if k == PasswordEnv {
				return "not-the-password"
			}
			return ""
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	// Apache Kafka answers SASL_AUTHENTICATION_FAILED; kfake closes the
	// connection. Both must come out explained.
	err = bad.Ping(ctx)
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	explained := errors.Is(err, kafka.SASLAuthenticationFailed) && strings.Contains(err.Error(), "wrong user or password") ||
		strings.Contains(err.Error(), "it refused the credentials")
	if !explained ||
		!strings.Contains(err.Error(), "SCRAM-SHA-512 user=u512 password=env:"+PasswordEnv) || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("wrong password: %v", err)
	}
	w := bad.Writer("t")
	w.MaxAttempts = 1
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("x")}); err == nil {
		t.Error("a writer with a wrong password produced")
	}

	anon, err := New(Config{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if err := anon.Ping(ctx); err == nil || !strings.Contains(err.Error(), "sasl none") {
		t.Errorf("no credentials: %v", err)
	}
	w = anon.Writer("t")
	w.MaxAttempts = 1
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("x")}); err == nil {
		t.Error("a writer without credentials produced")
	}
}

func TestSASLConfig(t *testing.T) {
	base := Config{Brokers: []string{"k1:9092"}}
	for _, c := range []struct {
		sasl SASL
		want string
	}{
		{SASL{Mechanism: "GSSAPI", Username: "x"}, `"GSSAPI" is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER`},
		{SASL{Username: "x"}, "kafka.sasl.mechanism: required"},
		{SASL{Mechanism: Plain}, "kafka.sasl.username: required"},
	} {
		cfg := base
		cfg.SASL = &c.sasl
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.sasl, err, c.want)
		}
	}
	cfg := base
	cfg.SASL = &SASL{Mechanism: ScramSHA512, Username: "exchange"}
	if _, err := New(cfg, Getenv(func(string) string { return "" })); err == nil || !strings.Contains(err.Error(), "no password for user exchange: set password_file or "+PasswordEnv) {
		t.Errorf("no password: %v", err)
	}
	cfg.SASL.PasswordFile = filepath.Join(t.TempDir(), "missing")
	if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "kafka.sasl.password_file: ") {
		t.Errorf("missing password file: %v", err)
	}
	cfg.SASL.PasswordFile = passwordFile(t, "s3cret")
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dialer().SASLMechanism == nil || c.Transport().(*kafka.Transport).SASL == nil || c.Dialer().SASLMechanism.Name() != ScramSHA512 {
		t.Error("the dialer and the transport do not both carry the SASL mechanism")
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("kafka", "kafka", cfg, "sasl", cfg.SASL)
	for _, s := range []string{logged.String(), cfg.String(), cfg.SASL.String()} {
		if strings.Contains(s, "s3cret") || !strings.Contains(s, "exchange") {
			t.Errorf("description %q leaks the password or misses the user", s)
		}
	}
	if !cfg.Authenticated() || base.Authenticated() || (Config{TLS: &TLS{}}).Authenticated() || !(Config{TLS: &TLS{CertFile: "c", KeyFile: "k"}}).Authenticated() {
		t.Error("Authenticated: want true for SASL or a client certificate only")
	}
}
