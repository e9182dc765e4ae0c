package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// decoder turns a delivery's value (Confluent wire format under the
// agreement's derived schema) into the JSON body of the POST, with the
// schema fetched from the registry by the frame's id, once per id.
type decoder struct {
	registry string
	client   *http.Client // with the consumer's registry credentials
	mu       sync.Mutex
	schemas  map[int]*schemas.SchemaVersion
}

// body returns the JSON of value and its schema id. Errors name the schema
// id or the framing, never the value.
func (d *decoder) body(ctx context.Context, value []byte) (json.RawMessage, int, error) {
	id, payload, err := schemas.ParseFrame(value)
	if err != nil {
		return nil, 0, err
	}
	s, err := d.schema(ctx, id)
	if err != nil {
		return nil, id, err
	}
	var native any
	if err := avro.Unmarshal(s.Avro, payload, &native); err != nil {
		return nil, id, fmt.Errorf("decoding with schema id %d: %w", id, err)
	}
	b, err := json.Marshal(publish.ToJSON(s.Avro, native))
	if err != nil {
		return nil, id, fmt.Errorf("encoding JSON of schema id %d: %w", id, err)
	}
	return b, id, nil
}

func (d *decoder) schema(ctx context.Context, id int) (*schemas.SchemaVersion, error) {
	d.mu.Lock()
	s, ok := d.schemas[id]
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := registryhttp.FetchByID(ctx, d.client, d.registry, id)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.schemas[id] = s
	d.mu.Unlock()
	return s, nil
}
