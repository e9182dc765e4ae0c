// The index at / (and /api, /api/v1): every surface the server has, so
// that a person who opens the exchange's address finds the rest. It stands
// in for the console until one exists.

package server

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

// Surface is one entry of the index: a path and what it serves.
type Surface struct {
	Path        string `json:"path"`
	Description string `json:"description"`
}

// Describe adds path to the index at /, in the order described.
func (s *Server) Describe(path, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.surfaces = append(s.surfaces, Surface{Path: path, Description: description})
}

// Surfaces are the described paths, in order.
func (s *Server) Surfaces() []Surface {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Surface(nil), s.surfaces...)
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Exchange</title></head>
<body><h1>Exchange</h1>
<p>The surfaces of this exchange (JSON: <code>curl -H 'Accept: application/json' …/</code>):</p>
<ul>{{range .}}
<li><a href="{{.Path}}"><code>{{.Path}}</code></a> {{.Description}}</li>{{end}}
</ul></body></html>
`))

// index serves the surfaces as HTML to a browser, as JSON otherwise.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	surfaces := s.Surfaces()
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = indexPage.Execute(w, surfaces)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(struct {
		Name     string    `json:"name"`
		Surfaces []Surface `json:"surfaces"`
	}{"exchange", surfaces})
}

// handleIndex serves the index at /, /api and /api/v1 and describes the
// server's own surfaces.
func (s *Server) handleIndex(metrics bool) {
	for _, p := range []string{"GET /{$}", "GET /api", "GET /api/{$}", "GET /api/v1", "GET /api/v1/{$}"} {
		s.mux.HandleFunc(p, s.index)
	}
	s.Describe("/healthz", "liveness: ok while the process runs")
	s.Describe("/readyz", "readiness: store, Kafka and plan (JSON, 503 when not ready)")
	if metrics {
		s.Describe("/metrics", "Prometheus metrics (exchange_*)")
	}
}
