package auditapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
)

type stubReader struct{ err error }

func (s stubReader) Query(ctx context.Context, q ledger.Query) (*ledger.Page, error) {
	if s.err != nil {
		return nil, s.err
	}
	if _, err := q.Normalize(); err != nil {
		return nil, err
	}
	return &ledger.Page{Entries: []ledger.Entry{}}, nil
}

func TestStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("ledger append: %w: dial tcp 10.0.0.7:5432: connection refused", ledger.ErrUnavailable), http.StatusServiceUnavailable},
		{errors.New(`ERROR: relation "ledger_entries" does not exist (SQLSTATE 42P01)`), http.StatusInternalServerError},
	} {
		h := auditapi.New(stubReader{tc.err})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/audit", nil))
		if rec.Code != tc.code || strings.Contains(rec.Body.String(), "10.0.0.7") || strings.Contains(rec.Body.String(), "SQLSTATE") {
			t.Errorf("%v: %d %s", tc.err, rec.Code, rec.Body.String())
		}
	}
}

// FuzzAuditParams: no query string makes the handler panic or answer
// anything but 200 or 400.
func FuzzAuditParams(f *testing.F) {
	for _, s := range []string{
		"dataset=health.immunisations&limit=5", "sort=-decision_time&after=eyJ0IjoiMjAyNi0xMS0yN1QwMzowMDowMVoifQ",
		"from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z", "partition=1&offset=2&topic=x", "subject_hash=zz",
		"limit=-1", "after=%00", "delivery_id=" + strings.Repeat("a", 2000),
	} {
		f.Add(s)
	}
	h := auditapi.New(stubReader{})
	f.Fuzz(func(t *testing.T, raw string) {
		for _, path := range []string{"/api/v1/audit", "/api/v1/lineage"} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL = &url.URL{Path: path, RawQuery: raw}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
			default:
				t.Fatalf("%s?%s: %d %s", path, raw, rec.Code, rec.Body.String())
			}
		}
	})
}
