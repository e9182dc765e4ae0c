package httpingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/publish"
)

// RecordError is one record that does not fit the dataset's schema: its
// index in the request's array, the field path ("" for the record
// itself) and why. The message may quote the offending value: it goes
// back to the publisher who sent it, never to logs or telemetry.
type RecordError struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// tooManyError is a body with more records than max_records.
type tooManyError struct{ max int }

func (e *tooManyError) Error() string {
	return fmt.Sprintf("more than %d records in one request (connectors.http_ingest.max_records); split the array", e.max)
}

// splitArray returns the elements of body, which must be one JSON array,
// without decoding them; more than maxRecords is a *tooManyError.
func splitArray(body []byte, maxRecords int) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("the body is not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("the body must be a JSON array of records")
	}
	var elems []json.RawMessage
	for dec.More() {
		if len(elems) == maxRecords {
			return nil, &tooManyError{maxRecords}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("record %d is not JSON: %w", len(elems), err)
		}
		elems = append(elems, raw)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("the array does not end: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the body holds more than one JSON value")
	}
	return elems, nil
}

// encodeAll converts every record with enc (the mapping of `exchange
// publish`), each carrying headers, and reports every one that does not
// fit; with any error, no message is returned.
func encodeAll(enc *publish.Encoder, elems []json.RawMessage, headers []kafka.Header) ([]kafka.Message, []RecordError) {
	msgs := make([]kafka.Message, 0, len(elems))
	var bad []RecordError
	for i, raw := range elems {
		key, value, err := enc.Encode(raw)
		if err != nil {
			re := RecordError{Index: i, Message: err.Error()}
			var fe *publish.FieldError
			if errors.As(err, &fe) {
				re.Field, re.Message = fe.Field, fe.Msg
			}
			bad = append(bad, re)
			continue
		}
		if bad == nil {
			msgs = append(msgs, kafka.Message{Key: key, Value: value, Headers: headers})
		}
	}
	if bad != nil {
		return nil, bad
	}
	return msgs, nil
}
