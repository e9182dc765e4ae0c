package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDevHTTPIngest: exchange dev serves HTTP ingest out of the box: the
// health agency's dev token posts a record over HTTP and the exchange,
// an ordinary user of the embedded broker under its own ACLs, writes it
// to the ingress topic and answers with its position.
func TestDevHTTPIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs exchange dev")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startDevStack(ctx, t)
	base := strings.TrimSuffix(s.registry, "/registry")
	token, err := os.ReadFile(devCredentialsDir(s.dataDir) + "/agencies/health.token")
	if err != nil {
		t.Fatal(err)
	}
	body := "[" + immunisationJSON("http-1") + "]"
	var code int
	var answer []byte
	deadline := time.Now().Add(30 * time.Second)
	for { // the worker creates the ingress topic at start
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/datasets/health.immunisations/records", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if code = resp.StatusCode; code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var ok struct {
		Accepted int `json:"accepted"`
	}
	if code != 200 || json.Unmarshal(answer, &ok) != nil || ok.Accepted != 1 {
		t.Fatalf("posting one record with the dev token of health: %d %s", code, answer)
	}
}

// immunisationJSON is one fresh health.immunisations record as HTTP
// ingest takes it, with record id id.
func immunisationJSON(id string) string {
	return `{"record_id": "` + id + `", "citizen_id": "62187499831", "date_of_birth": "2025-04-11", "age": 1, "postcode": "NE1 4ST",
		"region": "north", "phone": null, "vaccine": "MMR", "dose_number": 1, "batch_number": "MMR1791-A",
		"administered_at": "` + time.Now().UTC().Format(time.RFC3339) + `", "clinic": {"id": "clinic-north-01", "region": "north"},
		"practitioner_id": "NMC175954", "adverse_reaction": false, "source_system": "systmone"}`
}
