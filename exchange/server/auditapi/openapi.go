package auditapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes the /api/v1 endpoints (OpenAPI
// 3.1). TestOpenAPIMatchesHandlers keeps it in step with the parameters the
// handlers accept and the JSON they write.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI serves GET /api/v1/openapi.json.
func (h *Handler) OpenAPI() http.Handler { return staticJSON(openAPIDocument) }

// staticJSON serves body, a JSON document fixed at start, to GET and HEAD.
func staticJSON(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(body)
	})
}
