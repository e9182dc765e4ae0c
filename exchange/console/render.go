// Rendering: the layout every page shares, the template functions, error
// pages, and in-process calls of the audit API.

package console

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// view is what the layout renders: who is signed in, the CSRF token of
// their forms, the page's title and navigation entry, and its Data.
type view struct {
	Principal *auth.Principal
	CSRF      string
	Title     string
	Nav       string // the navigation entry of this page
	Status    int    // HTTP status; 0 = 200
	Error     string // shown above the content
	Data      any
}

// Role is the principal's first role (the one that decides its kind).
func (v *view) Role() string {
	if v.Principal == nil || len(v.Principal.Roles) == 0 {
		return ""
	}
	return v.Principal.Roles[0]
}

// Is reports whether the principal holds role.
func (v *view) Is(role string) bool { return v.Principal.HasRole(role) }

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"hex":  func(b []byte) string { return hex.EncodeToString(b) },
	"join": strings.Join,
	"query": func(kv ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(v.Encode()) // values are escaped by Encode
	},
}

// parsePages parses each templates/<page>.html with the layout and the
// partials (templates/_*.html: charts and blocks shared by pages).
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("console layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("console page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page with v, buffered so that a template error is a 500,
// not half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, page string, v *view) {
	t, ok := c.pages[page]
	if !ok {
		c.log.Error("console: no such template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.log.Error("console: rendering", "page", page, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if v.Status != 0 {
		w.WriteHeader(v.Status)
	}
	_, _ = w.Write(buf.Bytes())
}

// fail answers with an error page for a request that may have no session.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := &view{}
	if s := c.sess.read(r); s != nil {
		v.Principal, v.CSRF = s.principal(), c.sess.csrf(s)
	}
	c.failView(w, r, v, status, msg)
}

func (c *Console) failView(w http.ResponseWriter, r *http.Request, v *view, status int, msg string) {
	v.Title, v.Status, v.Error = http.StatusText(status), status, msg
	c.render(w, r, "error", v)
}

// apiError is a refusal of the audit API: its status and message.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// bufferWriter collects an in-process answer.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// callAPI asks h (an audit API handler) GET path?q as the request's
// principal and decodes its JSON answer into out; a non-200 answer is an
// *apiError with the API's own message.
func callAPI(r *http.Request, h http.Handler, path string, q url.Values, out any) error {
	return doAPI(r, h, http.MethodGet, path+"?"+q.Encode(), nil, out)
}

// doAPI asks h (an API handler: audit, catalog) method target as the
// request's principal, with in (nil: no body) as its JSON body, and
// decodes its JSON answer into out (nil: ignored); an answer other than
// 2xx is an *apiError with the API's own message.
func doAPI(r *http.Request, h http.Handler, method, target string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, target, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, target, body)
	if err != nil {
		return fmt.Errorf("building %s: %w", target, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	bw := &bufferWriter{header: http.Header{}}
	h.ServeHTTP(bw, req)
	if bw.status < 200 || bw.status > 299 {
		var body struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(bw.body.Bytes(), &body)
		if body.Error == "" {
			body.Error = http.StatusText(bw.status)
		}
		return &apiError{Status: bw.status, Message: body.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(bw.body.Bytes(), out); err != nil {
		return fmt.Errorf("decoding %s: %w", target, err)
	}
	return nil
}
