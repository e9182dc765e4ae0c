package webhook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/connectors/webhook"
)

const goodFile = `
webhooks:
  - agreement: health-to-social-2026-001
    consumer: social
    url: https://intake.social.example/exchange
    secret_file: /etc/exchange/webhook-secret
    tls: {ca_file: /etc/exchange/ca.pem, cert_file: /etc/exchange/client.pem, key_file: /etc/exchange/client.key}
    timeout: 3s
    max_backoff: 2m
    properties: /etc/exchange/social.properties
`

func writeFile(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "webhooks.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFile(t *testing.T) {
	f, err := webhook.LoadFile(writeFile(t, goodFile))
	if err != nil {
		t.Fatal(err)
	}
	e := f.Webhooks[0].WithDefaults()
	if e.Timeout != 3*time.Second || e.MaxBackoff != 2*time.Minute || e.AlertAfter != webhook.DefaultAlertAfter ||
		e.Group != "social.webhook.health-to-social-2026-001" || e.TLS.CertFile != "/etc/exchange/client.pem" {
		t.Errorf("loaded %+v", e)
	}
}

// Each bad file is refused with an error naming the key and the reason.
func TestLoadFileRefuses(t *testing.T) {
	entry := func(extra string, drop ...string) string {
		lines := []string{
			"  - agreement: ag-1", "    consumer: social", "    url: https://x.example/hook",
			"    secret_file: /s", "    properties: /p",
		}
		var out []string
	next:
		for _, l := range lines {
			for _, d := range drop {
				if strings.Contains(l, d+":") {
					continue next
				}
			}
			out = append(out, l)
		}
		return "webhooks:\n" + strings.Join(out, "\n") + "\n" + extra
	}
	cases := []struct{ name, text, want string }{
		{"plain http", strings.Replace(entry(""), "https://", "http://", 1), "url: http://x.example/hook is plain http"},
		{"plain http allowed explicitly", strings.Replace(entry("    insecure_allow_http: true\n"), "https://", "http://", 1), ""},
		{"secret in the YAML", entry("    secret: hunter2hunter2hunter2\n"), "field secret not found"},
		{"no secret file", entry("", "secret_file"), "secret_file: required"},
		{"credentials in the URL", strings.Replace(entry(""), "https://", "https://u:p@", 1), "credentials in the URL"},
		{"group outside the prefix", entry("    group: other.g\n"), `group: "other.g" is outside the consumer's groups (social.*)`},
		{"kafka and properties", entry("    kafka: {brokers: [b:9092]}\n"), "give exactly one"},
		{"no connection", entry("", "properties"), "give exactly one"},
		{"backoff upside down", entry("    min_backoff: 1m\n    max_backoff: 1s\n"), "max_backoff: 1s is below min_backoff 1m0s"},
		{"mTLS without key", entry("    tls: {cert_file: /c}\n"), "tls: cert_file and key_file go together"},
		{"two endpoints for one agreement", entry("") + strings.TrimPrefix(entry(""), "webhooks:\n"), "a second endpoint for the same agreement"},
		{"empty", "webhooks: []\n", "no endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := webhook.LoadFile(writeFile(t, c.text))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
