package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hamba/avro/v2"
)

// Schema is one registered schema version, parsed.
type Schema struct {
	Subject string
	Version int
	ID      int
	Text    string
	Avro    avro.Schema
}

// maxRegistryResponse bounds what FetchLatest reads from the registry.
const maxRegistryResponse = 16 << 20

// FetchLatest reads the latest version of subject from a Confluent-compatible
// schema registry (GET {registry}/subjects/{subject}/versions/latest) and
// parses it. A nil client means http.DefaultClient; ctx bounds the request.
func FetchLatest(ctx context.Context, client *http.Client, registry, subject string) (*Schema, error) {
	if client == nil {
		client = http.DefaultClient
	}
	u := strings.TrimRight(registry, "/") + "/subjects/" + url.PathEscape(subject) + "/versions/latest"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("registry URL %q: %w", registry, err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the latest schema of subject %q: %w", subject, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistryResponse))
	if err != nil {
		return nil, fmt.Errorf("reading the registry's answer for subject %q: %w", subject, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			return nil, fmt.Errorf("registry %s: subject %q: %s (HTTP %d, error %d)", registry, subject, e.Message, resp.StatusCode, e.Code)
		}
		return nil, fmt.Errorf("registry %s: subject %q: HTTP %d", registry, subject, resp.StatusCode)
	}
	var v struct {
		Subject    string `json:"subject"`
		Version    int    `json:"version"`
		ID         int    `json:"id"`
		SchemaType string `json:"schemaType"`
		Schema     string `json:"schema"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("registry %s: subject %q: answer is not the expected JSON {subject, version, id, schema}: %w", registry, subject, err)
	}
	if v.SchemaType != "" && !strings.EqualFold(v.SchemaType, "AVRO") {
		return nil, fmt.Errorf("registry %s: subject %q: schema type %s, only AVRO is supported", registry, subject, v.SchemaType)
	}
	if v.ID <= 0 || v.Schema == "" {
		return nil, fmt.Errorf("registry %s: subject %q: answer has no schema id or no schema", registry, subject)
	}
	return ParseSchema(subject, v.Version, v.ID, v.Schema)
}

// ParseSchema parses an Avro schema text registered under id. Each schema
// gets its own name cache, so schemas of different subjects that reuse a
// record name never clash.
func ParseSchema(subject string, version, id int, text string) (*Schema, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("subject %q version %d (id %d): parsing the Avro schema: %w", subject, version, id, err)
	}
	return &Schema{Subject: subject, Version: version, ID: id, Text: text, Avro: s}, nil
}
