package registryhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
)

// maxResponseBytes bounds what FetchLatest reads from the registry.
const maxResponseBytes = 16 << 20

// FetchLatest reads the latest version of subject from a Confluent-compatible
// schema registry (GET {registry}/subjects/{subject}/versions/latest) and
// parses it. A nil client means http.DefaultClient; ctx bounds the request.
func FetchLatest(ctx context.Context, client *http.Client, registry, subject string) (*schemas.SchemaVersion, error) {
	if client == nil {
		client = http.DefaultClient
	}
	u := strings.TrimRight(registry, "/") + "/subjects/" + url.PathEscape(subject) + "/versions/latest"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("registry URL %q: %w", registry, err)
	}
	req.Header.Set("Accept", ContentTypeV1+", "+ContentTypeJSON)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the latest schema of subject %q: %w", subject, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the registry's answer for subject %q: %w", subject, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			return nil, fmt.Errorf("registry %s: subject %q: %s (HTTP %d, error %d)", registry, subject, e.Message, resp.StatusCode, e.ErrorCode)
		}
		return nil, fmt.Errorf("registry %s: subject %q: HTTP %d", registry, subject, resp.StatusCode)
	}
	var v struct {
		versionBody
		SchemaType string `json:"schemaType"`
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

// ParseSchema parses an Avro schema text registered under id, as
// FetchLatest does with the registry's answer; callers that read schemas
// from files use it too. Each schema gets its own name cache, so schemas of
// different subjects that reuse a record name never clash. Unlike the
// registry's own parser it applies no limits: the text comes from a
// registry that already accepted it, or from the caller's own files.
func ParseSchema(subject string, version, id int, text string) (*schemas.SchemaVersion, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("subject %q version %d (id %d): parsing the Avro schema: %w", subject, version, id, err)
	}
	return &schemas.SchemaVersion{Subject: subject, Version: version, ID: id, Text: text, Avro: s}, nil
}
