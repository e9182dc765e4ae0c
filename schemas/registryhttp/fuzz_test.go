package registryhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary methods, paths and bodies to the REST
// handler. Properties: no panic; every answer is JSON in Confluent's
// content type; every status >= 400 carries an error_code.
func FuzzHandler(f *testing.F) {
	reg := quietRegistry()
	h := Handler(reg, quietLog)
	f.Add(uint8(1), "/subjects/s/versions", schemaBody(userV1))
	f.Add(uint8(1), "/subjects/s", schemaBody(userV2))
	f.Add(uint8(1), "/compatibility/subjects/s/versions/latest?verbose=true", schemaBody(userBad))
	f.Add(uint8(2), "/config/s", `{"compatibility":"FULL"}`)
	f.Add(uint8(3), "/subjects/s/versions/1?permanent=true", "")
	f.Add(uint8(0), "/subjects/s/versions/latest/schema", "")
	f.Add(uint8(0), "/schemas/ids/1/versions?deleted=true", "")
	f.Add(uint8(1), "/subjects/%ZZ/versions", `{"schema":"\ud800"}`)
	f.Add(uint8(1), "/subjects/s/versions", `{"schema":{"type":"int"}}`)
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch}
	f.Fuzz(func(t *testing.T, m uint8, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return // not a request line a client could send
		}
		req, err := http.NewRequest(methods[int(m)%len(methods)], "http://registry"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ContentTypeV1)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 && rec.Code < 400 {
			return // ServeMux redirects non-canonical paths
		}
		if ct := rec.Header().Get("Content-Type"); ct != ContentTypeV1 {
			t.Fatalf("%s %s: Content-Type %q", req.Method, path, ct)
		}
		if strings.HasSuffix(req.URL.Path, "/schema") && rec.Code == 200 {
			return // raw schema text
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s: %d body is not JSON: %q", req.Method, path, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 {
			var e errorBody
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.ErrorCode == 0 || e.Message == "" {
				t.Fatalf("%s %s: %d without error_code: %s", req.Method, path, rec.Code, rec.Body.String())
			}
		}
	})
}

// FuzzAuthorizedHandler drives the handler behind an authorization function
// (the caller may read anything and write only under "ingress.a." subjects,
// as a publisher of agency a): whatever the request, a refusal is a 403
// with error_code 40301, and no subject outside the caller's ever exists.
func FuzzAuthorizedHandler(f *testing.F) {
	reg := quietRegistry()
	own := func(subject string) bool { return strings.HasPrefix(subject, "ingress.a.") }
	h := Handler(reg, quietLog, WithAuthorize(func(req *http.Request, op Op, subject string) error {
		if op == OpRead || (op == OpRegister && own(subject)) {
			return nil
		}
		return fmt.Errorf("publisher of a may %s under ingress.a.* only", op)
	}))
	f.Add(uint8(1), "/subjects/ingress.a.x-value/versions", schemaBody(userV1))
	f.Add(uint8(1), "/subjects/ingress.b.x-value/versions", schemaBody(userV1))
	f.Add(uint8(2), "/config/ingress.a.x-value", `{"compatibility":"NONE"}`)
	f.Add(uint8(3), "/subjects/ingress.a.x-value", "")
	f.Add(uint8(1), "/subjects/ingress.a.%2E%2E%2Fb/versions", schemaBody(userV1))
	f.Add(uint8(0), "/subjects", "")
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
	f.Fuzz(func(t *testing.T, m uint8, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		req, err := http.NewRequest(methods[int(m)%len(methods)], "http://registry"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ContentTypeV1)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusForbidden {
			var e errorBody
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.ErrorCode != ErrorCodeForbidden {
				t.Fatalf("%s %s: 403 without error_code %d: %s", req.Method, path, ErrorCodeForbidden, rec.Body.String())
			}
		}
		subjects, err := reg.ListSubjects(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subjects {
			if !own(s) {
				t.Fatalf("%s %s: subject %q exists, outside the caller's", req.Method, path, s)
			}
		}
	})
}
