package registryhttp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAuthorize: every route asks the Authorize function with its
// operation and subject; a refusal is 403 with error_code 40301 and the
// function's message, and the request is not served.
func TestAuthorize(t *testing.T) {
	type call struct {
		op      Op
		subject string
	}
	var calls []call
	authorize := func(req *http.Request, op Op, subject string) error {
		calls = append(calls, call{op, subject})
		if op == OpRead {
			return nil
		}
		return errors.New("publisher of a may register under ingress.a-value only")
	}
	mux := http.NewServeMux()
	mux.Handle("/registry/", http.StripPrefix("/registry", Handler(quietRegistry(), quietLog, WithAuthorize(authorize))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := client{t, srv.URL}
	schema := `{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}"}`
	for _, tc := range []struct {
		method, path, body string
		want               call
		code               int
	}{
		{"POST", "/subjects/ingress.b-value/versions", schema, call{OpRegister, "ingress.b-value"}, 403},
		{"PUT", "/config", `{"compatibility":"NONE"}`, call{OpConfig, ""}, 403},
		{"PUT", "/config/s", `{"compatibility":"NONE"}`, call{OpConfig, "s"}, 403},
		{"DELETE", "/config/s", "", call{OpConfig, "s"}, 403},
		{"DELETE", "/subjects/s", "", call{OpDelete, "s"}, 403},
		{"DELETE", "/subjects/s/versions/1", "", call{OpDelete, "s"}, 403},
		{"GET", "/subjects", "", call{OpRead, ""}, 200},
		{"POST", "/compatibility/subjects/s/versions", schema, call{OpRead, "s"}, 200},
	} {
		calls = nil
		code, body := c.do(tc.method, tc.path, tc.body)
		if len(calls) != 1 || calls[0] != tc.want || code != tc.code {
			t.Errorf("%s %s: asked %v, answered %d %s; want %v and %d", tc.method, tc.path, calls, code, body, tc.want, tc.code)
		}
		if code == 403 && (!strings.Contains(body, `"error_code":40301`) || !strings.Contains(body, "may register under ingress.a-value only")) {
			t.Errorf("%s %s: refusal body %s", tc.method, tc.path, body)
		}
	}
}
