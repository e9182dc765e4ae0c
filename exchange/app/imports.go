// The lookup of a resumed file import's records: `exchange publish`
// resuming from a checkpoint must find the lines it published after it,
// which sit on the dataset's ingress topic. The agency may write that
// topic but not read it (IDENTITY.md), so the exchange, which reads
// ingress topics, reads the range for it and answers line numbers only.

package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/exchange/server"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// importLinesRoute is the lookup (publish.ImportLinesPath).
const importLinesRoute = "POST /api/v1/datasets/{dataset}/imports/{import}/lines"

// importID is what an import id may look like (publish: 32 hex digits).
var importID = regexp.MustCompile(`^[0-9A-Za-z._-]{1,128}$`)

// newImports builds the Kafka clients the lookup reads ingress topics
// with, as the exchange's principal.
func (a *App) newImports() error {
	c, err := kafkaclient.New(a.cfg.Kafka.Config)
	if err != nil {
		return fmt.Errorf("import lookup: %w", err)
	}
	a.imports = c
	return nil
}

// closeImports closes the lookup's clients.
func (a *App) closeImports() {
	if a.imports != nil {
		a.imports.Close()
	}
}

// mountImports mounts the lookup.
func (a *App) mountImports() {
	a.http.Handle(importLinesRoute, http.HandlerFunc(a.importLines))
	a.http.Describe("/api/v1/datasets/{dataset}/imports/{import}/lines",
		"lines of a resumed file import already on the ingress topic (exchange publish asks; a publisher of the dataset's owner)")
}

// importLines answers the lookup: 404 for a dataset the plan does not
// know, 401/403 unless a publisher of its owner asks, 400 for a bad body,
// 422 over publish.MaxImportScan records, 503 when Kafka fails.
func (a *App) importLines(w http.ResponseWriter, r *http.Request) {
	dataset, id := r.PathValue("dataset"), r.PathValue("import")
	c, ok := a.holder.Load().Contract(dataset)
	if !ok {
		server.WriteError(w, http.StatusNotFound, fmt.Sprintf("no dataset %q in the plan in force", dataset))
		return
	}
	if err := a.authz.publisher(r, c.Owner, "looking up the records of an import of "+dataset); err != nil {
		var ae *auth.Error
		if !errors.As(err, &ae) {
			ae = auth.Forbidden("right", err.Error())
		}
		ae.Write(w, nil, auth.FormatAPI)
		return
	}
	from, err := readImportLinesRequest(w, r, id)
	if err != nil {
		server.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	topic := names.Ingress(dataset)
	scan, err := publish.ScanImportRange(r.Context(), a.imports, topic, id, from, publish.MaxImportScan)
	var tooLarge *publish.RangeTooLargeError
	switch {
	case errors.As(err, &tooLarge):
		server.WriteError(w, http.StatusUnprocessableEntity, err.Error())
		return
	case errors.Is(err, publish.ErrBadOffsets):
		server.WriteError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		a.log.Error("import lookup failed", "dataset", dataset, "import", id, "err", err)
		server.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("reading %s: %v", topic, kafkaclient.Explain(err)))
		return
	}
	lines := make([]int, 0, len(scan.Lines))
	for n := range scan.Lines {
		lines = append(lines, n)
	}
	slices.Sort(lines)
	server.WriteJSON(w, http.StatusOK, publish.ImportLinesAnswer{Lines: lines, End: publish.Positions(scan.End)})
}

// readImportLinesRequest checks the import id and decodes the body
// (strictly, at most 1 MiB) into each partition's start offset.
func readImportLinesRequest(w http.ResponseWriter, r *http.Request, id string) (map[int]int64, error) {
	if !importID.MatchString(id) {
		return nil, fmt.Errorf("import id %q: want 1 to 128 letters, digits, '.', '_' or '-'", id)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	var req publish.ImportLinesRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf(`the body: %w (want {"from": [{"partition": N, "offset": N}, ...]})`, err)
	}
	if dec.More() {
		return nil, errors.New("the body: one JSON object only")
	}
	from := make(map[int]int64, len(req.From))
	for _, p := range req.From {
		if _, dup := from[p.Partition]; dup {
			return nil, fmt.Errorf("the body: partition %d named twice", p.Partition)
		}
		from[p.Partition] = p.Offset
	}
	return from, nil
}
