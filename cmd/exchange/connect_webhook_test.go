package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exchange connect webhook: the kind is registered, needs --config, and
// refuses a configuration with problems before connecting to anything.
func TestConnectWebhookRefusesBadConfig(t *testing.T) {
	if _, ok := connectKinds["webhook"]; !ok {
		t.Fatal("connector kind webhook is not registered")
	}
	var ee exitError
	if err := connectWebhook(context.Background(), io.Discard, nil); !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("without --config: %v, want exit status 2", err)
	}
	path := filepath.Join(t.TempDir(), "webhooks.yaml")
	bad := "webhooks:\n  - agreement: ag-1\n    consumer: social\n    url: http://intake.example/hook\n    secret_file: /s\n    properties: /p\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := connectCmd(context.Background(), []string{"webhook", "--config", path})
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("plain http endpoint: %v, want a refusal naming it", err)
	}
}
