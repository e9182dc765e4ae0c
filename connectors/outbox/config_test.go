package outbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	good := `agency: social-services
database: {url_env: SS_OUTBOX_URL}
kafka_credentials: ss.properties
`
	cases := []struct {
		name, yaml, wantErr string
	}{
		{"good", good, ""},
		{"unknown key", good + "tabel: x\n", "field tabel not found"},
		{"password in the YAML", "agency: health\ndatabase: {url: 'postgres://u:s3cr3t-pw@db/x'}\nkafka_credentials: h.properties\n", "holds a password"},
		{"no database", "agency: health\nkafka_credentials: h.properties\n", "exactly one of url_env, url_file or url"},
		{"bad agency", strings.Replace(good, "social-services", "Social Services", 1), `agency "Social Services"`},
		{"bad mode", good + "mode: stream\n", `mode "stream"`},
		{"no kafka", "agency: health\ndatabase: {url_env: X}\n", "kafka_credentials or kafka"},
		{"table injection", good + "table: \"x; DROP TABLE y\"\n", "table \"x; DROP TABLE y\""},
		{"bad registry", good + "registry: {url: ftp://r}\n", "registry.url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg.Mode != ModeAuto || cfg.Table != DefaultTable || cfg.Slot != "exchange_outbox_social_services" || cfg.BatchSize != DefaultBatchSize {
					t.Fatalf("defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Load error %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t-pw") {
				t.Fatalf("error quotes the password: %v", err)
			}
		})
	}
}
