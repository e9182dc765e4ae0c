package registryhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
)

// maxResponseBytes bounds what the client reads from the registry.
const maxResponseBytes = 16 << 20

// ErrAccessDenied is wrapped by the client's errors when the registry
// refused the caller's credentials or their rights (HTTP 401 or 403): a
// problem of the caller, not of the subject or id asked for.
var ErrAccessDenied = errors.New("access denied")

// FetchLatest reads the latest version of subject from a Confluent-compatible
// schema registry (GET {registry}/subjects/{subject}/versions/latest) and
// parses it. A nil client means http.DefaultClient; ctx bounds the request.
func FetchLatest(ctx context.Context, client *http.Client, registry, subject string) (*schemas.SchemaVersion, error) {
	var v struct {
		versionBody
		SchemaType string `json:"schemaType"`
	}
	what := fmt.Sprintf("subject %q", subject)
	path := "/subjects/" + url.PathEscape(subject) + "/versions/latest"
	if err := get(ctx, client, registry, path, what, "{subject, version, id, schema}", &v); err != nil {
		return nil, err
	}
	if err := checkAvro(registry, what, v.SchemaType); err != nil {
		return nil, err
	}
	if v.ID <= 0 || v.Schema == "" {
		return nil, fmt.Errorf("registry %s: %s: answer has no schema id or no schema", registry, what)
	}
	return ParseSchema(subject, v.Version, v.ID, v.Schema)
}

// FetchByID reads the schema registered under id (GET
// {registry}/schemas/ids/{id}) and parses it: what a reader needs for the id
// in a record's wire frame. The answer names no subject or version, so those
// stay empty. A nil client means http.DefaultClient; ctx bounds the request.
func FetchByID(ctx context.Context, client *http.Client, registry string, id int) (*schemas.SchemaVersion, error) {
	var v struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	what := fmt.Sprintf("schema id %d", id)
	if err := get(ctx, client, registry, "/schemas/ids/"+strconv.Itoa(id), what, "{schema}", &v); err != nil {
		return nil, err
	}
	if err := checkAvro(registry, what, v.SchemaType); err != nil {
		return nil, err
	}
	if v.Schema == "" {
		return nil, fmt.Errorf("registry %s: %s: answer has no schema", registry, what)
	}
	return ParseSchema("", 0, id, v.Schema)
}

// get reads registry+path as JSON of the given shape into v; what names
// the request in errors (`subject "x"`, `schema id 7`), with the registry's
// own message when it answers with an error.
func get(ctx context.Context, client *http.Client, registry, path, what, shape string, v any) error {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(registry, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("registry URL %q: %w", registry, err)
	}
	req.Header.Set("Accept", ContentTypeV1+", "+ContentTypeJSON)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("reading the registry's answer for %s: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			if json.Unmarshal(body, &e) != nil || e.Message == "" {
				e.Message = http.StatusText(resp.StatusCode)
			}
			return fmt.Errorf("registry %s: %s: %w: %s (HTTP %d)", registry, what, ErrAccessDenied, e.Message, resp.StatusCode)
		}
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			return fmt.Errorf("registry %s: %s: %s (HTTP %d, error %d)", registry, what, e.Message, resp.StatusCode, e.ErrorCode)
		}
		return fmt.Errorf("registry %s: %s: HTTP %d", registry, what, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("registry %s: %s: answer is not the expected JSON %s: %w", registry, what, shape, err)
	}
	return nil
}

func checkAvro(registry, what, schemaType string) error {
	if schemaType != "" && !strings.EqualFold(schemaType, "AVRO") {
		return fmt.Errorf("registry %s: %s: schema type %s, only AVRO is supported", registry, what, schemaType)
	}
	return nil
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

// AuthClient is an HTTP client that sends header as the Authorization of
// every request ("Bearer <token>", or "Basic <base64 of user:secret>" as
// Confluent serializers send basic.auth.user.info): how client commands
// and connectors call the registry as their principal.
func AuthClient(header string) *http.Client {
	return &http.Client{Transport: authTransport{header: header, base: http.DefaultTransport}}
}

// authTransport adds an Authorization header to every request.
type authTransport struct {
	header string
	base   http.RoundTripper
}

func (t authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", t.header)
	return t.base.RoundTrip(r)
}
