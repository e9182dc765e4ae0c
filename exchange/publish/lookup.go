package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The exchange's lookup of a resumed import's records (POST
// ImportLinesPath): an agency has WRITE but not READ on its ingress topics
// (IDENTITY.md), so its import asks the exchange, which reads them, for
// the lines of its records after a checkpoint. The answer carries line
// numbers only, never a key or value.

// MaxImportScan is the most records one lookup reads (the exchange refuses
// a wider range with 422). A checkpoint is saved at least once a second
// while an import publishes, so a resume asks for about a second of the
// topic's records.
const MaxImportScan = 2_000_000

// ImportLinesPath is the path of the lookup of import id of dataset.
func ImportLinesPath(dataset, id string) string {
	return "/api/v1/datasets/" + url.PathEscape(dataset) + "/imports/" + url.PathEscape(id) + "/lines"
}

// Position is a partition and an offset.
type Position struct {
	Partition int   `json:"partition"`
	Offset    int64 `json:"offset"`
}

// ImportLinesRequest is the lookup's body: where to start on each
// partition (a checkpoint's offsets; a partition not named starts at 0).
type ImportLinesRequest struct {
	From []Position `json:"from"`
}

// ImportLinesAnswer is the lookup's answer: the lines of the import's
// records found, ascending, and the end offsets the topic was read to.
type ImportLinesAnswer struct {
	Lines []int      `json:"lines"`
	End   []Position `json:"end"`
}

// Positions lists m by partition.
func Positions(m map[int]int64) []Position {
	out := make([]Position, 0, len(m))
	for p, o := range m {
		out = append(out, Position{Partition: p, Offset: o})
	}
	slices.SortFunc(out, func(a, b Position) int { return a.Partition - b.Partition })
	return out
}

// ExchangeLines is the LineFinder that asks the exchange at base (its HTTP
// root, e.g. http://127.0.0.1:8080) as hc's credentials, which must be a
// publisher of the dataset's owner.
func ExchangeLines(hc *http.Client, base, dataset string) LineFinder {
	if hc == nil {
		hc = http.DefaultClient
	}
	return exchangeLines{hc: hc, url: strings.TrimSuffix(base, "/"), dataset: dataset}
}

type exchangeLines struct {
	hc           *http.Client
	url, dataset string
}

func (e exchangeLines) FindLines(ctx context.Context, id string, from map[int]int64) (map[int]struct{}, error) {
	u := e.url + ImportLinesPath(e.dataset, id)
	body, err := json.Marshal(ImportLinesRequest{From: Positions(from)})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("asking the exchange for this import's records after the checkpoint: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking the exchange for this import's records after the checkpoint: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of POST %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var ae struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &ae) != nil || ae.Error == "" {
			ae.Error = strings.TrimSpace(string(data))
		}
		return nil, fmt.Errorf("the exchange refused the lookup of this import's records after the checkpoint (POST %s): %s: %s",
			u, resp.Status, ae.Error)
	}
	var a ImportLinesAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("the answer of POST %s: %w", u, err)
	}
	found := make(map[int]struct{}, len(a.Lines))
	for _, n := range a.Lines {
		found[n] = struct{}{}
	}
	return found, nil
}
