package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// The dev banner names every surface, where the ledger and its public key
// are (as audit verify takes them), and the tour's commands.
func TestDevBannerListsEverySurface(t *testing.T) {
	data := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sec, err := devHTTPSecurity(context.Background(), data, "../../deploy/examples", "http://127.0.0.1:8080", log)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Config{
		HTTP:        sec,
		Kafka:       exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"127.0.0.1:1"}}},
		DatabaseURL: "sqlite://" + filepath.Join(data, devLedgerFile), ContractsDir: "../../deploy/examples",
		RegisterSchemaFiles: true, KeyFile: filepath.Join(data, devSecretKeyName), CreateKey: true,
		SigningKeyFile: filepath.Join(data, devSigningKeyFile),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		SeedFromFiles:  true, // as runDev
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	secure := devKafkaView{addr: "127.0.0.1:9092", dataDir: ".exchange-dev", secure: true, users: []string{"health", "social-services"}, httpIngest: true}
	banner := devBanner(secure, "127.0.0.1:8080", ".exchange-dev", "deploy/examples", a.Plan(), a.Topics(), 10*time.Second)
	want := []string{
		"Kafka (embedded)   127.0.0.1:9092",
		"http://127.0.0.1:8080/   (every surface",
		"http://127.0.0.1:8080/api/v1/audit?dataset=health.immunisations&decision=quarantined",
		"http://127.0.0.1:8080/api/v1/lineage?delivery_id=ID",
		"http://127.0.0.1:8080/healthz  /readyz  /metrics",
		"sqlite:.exchange-dev/exchange.db",
		".exchange-dev/ledger-signing.key.pub",
		"secret.key: pseudonym key",
		"every 10s while records flow",
		"ingress.health.immunisations\n",
		"publish --dataset health.immunisations --file deploy/examples/records/health.immunisations.jsonl --stamp-now administered_at",
		"consume --agreement health-to-social-2026-001 --from-beginning",
		"go run ./cmd/exchange audit verify\n",
		"Kafka credentials  .exchange-dev/credentials/agencies (SASL/SCRAM-SHA-512, ACLs enforced; agencies: health, social-services)",
		"--stamp-now administered_at --credentials .exchange-dev/credentials/agencies/health.properties",
		"--from-beginning --credentials .exchange-dev/credentials/agencies/social-services.properties",
		"kcat -b 127.0.0.1:9092 -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=social-services",
		"kafka-console-consumer.sh --bootstrap-server 127.0.0.1:9092 --consumer.config .exchange-dev/credentials/agencies/social-services.java.properties --topic deliver.social-services.health-to-social-2026-001 --group social-services.console",
		".exchange-dev/credentials/   (agencies/<agency>.token, stewards/<steward>.token, auditor.token, operator.token",
		`curl -H "Authorization: Bearer $(cat .exchange-dev/credentials/auditor.token)" http://127.0.0.1:8080/api/v1/audit`,
		`sed '1s/^/[/; $!s/$/,/; $s/$/]/' deploy/examples/records/health.immunisations.jsonl | curl -H "Authorization: Bearer $(cat .exchange-dev/credentials/agencies/health.token)" -H "Content-Type: application/json" --data-binary @- http://127.0.0.1:8080/api/v1/datasets/health.immunisations/records`,
	}
	for _, s := range app.Surfaces {
		want = append(want, "http://127.0.0.1:8080"+s.Path)
	}
	for _, w := range want {
		if !strings.Contains(banner, w) {
			t.Errorf("the banner lacks %q:\n%s", w, banner)
		}
	}
	// Another data directory: verify needs the ledger and key spelt out.
	other := devBanner(devKafkaView{addr: "127.0.0.1:9092", dataDir: "/tmp/x"}, "127.0.0.1:8080", "/tmp/x", "deploy/examples", a.Plan(), a.Topics(), 0)
	if !strings.Contains(other, "audit verify --database sqlite:/tmp/x/exchange.db --public-key /tmp/x/ledger-signing.key.pub") {
		t.Errorf("with --data-dir /tmp/x the banner's verify command is not spelt out:\n%s", other)
	}
	if !strings.Contains(other, "!!! INSECURE") || !strings.Contains(other, "--brokers 127.0.0.1:9092") || strings.Contains(other, "kcat") {
		t.Errorf("the --insecure banner does not say so loudly, or offers credentials:\n%s", other)
	}
	if strings.Contains(other, "/api/v1/datasets/") {
		t.Errorf("with HTTP ingest off the banner still offers it:\n%s", other)
	}
	if strings.Contains(other, "Activity log") {
		t.Errorf("with the activity log off the banner still mentions it:\n%s", other)
	}
}

// exchange dev --help and serve --help list the surfaces too.
func TestHelpListsSurfaces(t *testing.T) {
	for name, help := range map[string]string{"dev": devHelp(), "serve": serveHelp()} {
		want := []string{"/healthz", "/metrics", "Index"}
		for _, s := range app.Surfaces {
			want = append(want, s.Path)
		}
		if name == "dev" {
			want = append(want, "sqlite:.exchange-dev/exchange.db", ".exchange-dev/ledger-signing.key.pub", "exchange consume --agreement", "exchange audit verify")
		} else {
			want = append(want, "database.url", "signing_key_file", "auth.oidc", "auth.basic.users_file", "http.tls.client_ca")
		}
		for _, w := range want {
			if !strings.Contains(help, w) {
				t.Errorf("%s --help lacks %q:\n%s", name, w, help)
			}
		}
	}
}
