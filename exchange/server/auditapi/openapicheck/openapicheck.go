// Package openapicheck checks JSON answers against the OpenAPI document
// of /api/v1, for the tests of the packages that serve it (auditapi,
// catalogapi): every key a handler writes must be documented, every
// required one present.
package openapicheck

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Document parses an OpenAPI document.
func Document(b []byte) (map[string]any, error) {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	return doc, nil
}

// Conform reports where v departs from schema (a subset of JSON Schema:
// $ref, type, required, properties, additionalProperties false, items,
// enum, pattern-free); at names v in the reports.
func Conform(doc map[string]any, schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		s := doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			s, _ = s[part].(map[string]any)
		}
		if s == nil {
			return []string{at + ": unresolved " + ref}
		}
		return Conform(doc, s, v, at)
	}
	var bad []string
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad = append(bad, fmt.Sprintf("%s: %v not in %v", at, v, enum))
	}
	switch schema["type"] {
	case "object":
		return append(bad, conformObject(doc, schema, v, at)...)
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return append(bad, fmt.Sprintf("%s: %T, want an array", at, v))
		}
		items, _ := schema["items"].(map[string]any)
		for i, x := range arr {
			bad = append(bad, Conform(doc, items, x, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			bad = append(bad, fmt.Sprintf("%s: %T, want a string", at, v))
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			bad = append(bad, fmt.Sprintf("%s: %v, want an integer", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad = append(bad, fmt.Sprintf("%s: %T, want a boolean", at, v))
		}
	}
	return bad
}

func conformObject(doc map[string]any, schema map[string]any, v any, at string) []string {
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: %T, want an object", at, v)}
	}
	var bad []string
	props, _ := schema["properties"].(map[string]any)
	required, _ := schema["required"].([]any)
	for _, r := range required {
		if _, ok := obj[r.(string)]; !ok {
			bad = append(bad, fmt.Sprintf("%s: required %q missing", at, r))
		}
	}
	for k, kv := range obj {
		ps, ok := props[k].(map[string]any)
		if !ok {
			if schema["additionalProperties"] == false {
				bad = append(bad, fmt.Sprintf("%s: %q is not documented", at, k))
			}
			continue
		}
		bad = append(bad, Conform(doc, ps, kv, at+"."+k)...)
	}
	return bad
}

// ResponseSchema is the schema of the JSON answer of method (lower case:
// get, post) on path with code; an error when the document has none.
func ResponseSchema(doc map[string]any, method, path, code string) (map[string]any, error) {
	op, _ := dig(doc, "paths", path, method)
	resp, _ := dig(op, "responses", code)
	if ref, ok := resp["$ref"].(string); ok {
		resp, _ = dig(doc, "components", "responses", strings.TrimPrefix(ref, "#/components/responses/"))
	}
	schema, ok := dig(resp, "content", "application/json", "schema")
	if !ok {
		return nil, fmt.Errorf("openapi: no JSON response %s for %s %s", code, method, path)
	}
	return schema, nil
}

// dig follows keys through nested objects.
func dig(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}
