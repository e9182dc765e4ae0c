package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/schemas"
)

// Row is one outbox row.
type Row struct {
	ID        int64
	Dataset   string
	Payload   []byte // JSON text of the payload column
	CreatedAt time.Time
}

// deadRow is a row that does not fit, and why.
type deadRow struct {
	Row
	Err error
}

// SchemaSource returns the latest schema of the ingress subject of dataset.
type SchemaSource func(ctx context.Context, dataset string) (*schemas.SchemaVersion, error)

// stageError is a batch failure that is not a row's fault: the batch is
// retried. Stage is the failures metric's label.
type stageError struct {
	Stage string
	Err   error
}

func (e *stageError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *stageError) Unwrap() error { return e.Err }

// stageOf is the failures metric's stage of err, fallback when it names none.
func stageOf(err error, fallback string) string {
	var se *stageError
	if errors.As(err, &se) {
		return se.Stage
	}
	return fallback
}

// publisher encodes rows with their dataset's latest schema and produces
// them to the dataset's ingress topic with acks=all. One goroutine uses it.
type publisher struct {
	agency    string
	keyFields map[string]string
	schemas   SchemaSource
	kc        *kafkaclient.Clients
	m         *metrics
	log       *slog.Logger
	encoders  map[string]*publish.Encoder
	writers   map[string]*kafka.Writer
}

func newPublisher(agency string, keyFields map[string]string, src SchemaSource, kc *kafkaclient.Clients, m *metrics, log *slog.Logger) *publisher {
	return &publisher{agency: agency, keyFields: keyFields, schemas: src, kc: kc, m: m, log: log,
		encoders: map[string]*publish.Encoder{}, writers: map[string]*kafka.Writer{}}
}

// close closes the writers.
func (p *publisher) close() {
	for _, w := range p.writers {
		_ = w.Close()
	}
}

// publish produces the rows that fit, in row order per dataset, and
// returns once Kafka acknowledged every one of them; the rows that do not
// fit come back as dead. An error means the batch must be retried whole
// (some rows may have been published: at least once).
func (p *publisher) publish(ctx context.Context, rows []Row) (dead []deadRow, err error) {
	byDataset := map[string][]kafka.Message{}
	var order []string
	refreshed := map[string]bool{}
	for _, r := range rows {
		key, value, rowErr, err := p.encode(ctx, r, refreshed)
		if err != nil {
			return nil, err
		}
		if rowErr != nil {
			dead = append(dead, deadRow{r, rowErr})
			continue
		}
		if _, ok := byDataset[r.Dataset]; !ok {
			order = append(order, r.Dataset)
		}
		byDataset[r.Dataset] = append(byDataset[r.Dataset], kafka.Message{Key: key, Value: value})
	}
	for _, ds := range order {
		msgs := byDataset[ds]
		if err := p.writer(ds).WriteMessages(ctx, msgs...); err != nil {
			return nil, &stageError{stageProduce, fmt.Errorf("producing %d rows to %s: %w", len(msgs), names.Ingress(ds), kafkaclient.Explain(err))}
		}
		p.m.published.WithLabelValues(ds).Add(float64(len(msgs)))
	}
	return dead, nil
}

// encode converts one row. rowErr says why the row does not fit (it goes to
// the dead letters); err is a failure to fetch the schema (retry). A row
// that does not fit the cached schema is tried again with the latest one,
// once per dataset and batch, in case the schema evolved.
func (p *publisher) encode(ctx context.Context, r Row, refreshed map[string]bool) (key, value []byte, rowErr, err error) {
	if err := p.checkDataset(r.Dataset); err != nil {
		return nil, nil, err, nil
	}
	enc, err := p.encoder(ctx, r.Dataset, false)
	if err != nil {
		return nil, nil, nil, err
	}
	key, value, rowErr = enc.Encode(r.Payload)
	if rowErr != nil && !refreshed[r.Dataset] {
		refreshed[r.Dataset] = true
		if enc, err = p.encoder(ctx, r.Dataset, true); err != nil {
			return nil, nil, nil, err
		}
		key, value, rowErr = enc.Encode(r.Payload)
	}
	return key, value, rowErr, nil
}

// checkDataset refuses a dataset that is not the agency's: the connector
// acts for one agency and publishes only its datasets.
func (p *publisher) checkDataset(ds string) error {
	owner, name, ok := strings.Cut(ds, ".")
	if !ok || owner != p.agency || name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return fmt.Errorf("dataset %q is not a dataset of agency %s (want %s.<name>)", ds, p.agency, p.agency)
	}
	return nil
}

// encoder is the dataset's Encoder, fetched from the registry when missing
// or when fresh is set.
func (p *publisher) encoder(ctx context.Context, ds string, fresh bool) (*publish.Encoder, error) {
	if enc, ok := p.encoders[ds]; ok && !fresh {
		return enc, nil
	}
	s, err := p.schemas(ctx, ds)
	if err != nil {
		return nil, &stageError{stageSchema, fmt.Errorf("schema of dataset %s: %w", ds, err)}
	}
	enc, err := publish.NewEncoder(s, p.keyFields[ds])
	if err != nil {
		return nil, &stageError{stageSchema, fmt.Errorf("dataset %s: %w", ds, err)}
	}
	p.encoders[ds] = enc
	return enc, nil
}

func (p *publisher) writer(ds string) *kafka.Writer {
	w, ok := p.writers[ds]
	if !ok {
		w = publish.NewWriter(p.kc, names.Ingress(ds))
		p.writers[ds] = w
	}
	return w
}

// observe counts and logs the dead letters of a batch whose position is
// stored (ids and errors only: payloads never go to logs).
func (p *publisher) observe(dead []deadRow) {
	for _, d := range dead {
		p.m.dead.WithLabelValues(d.Dataset).Inc()
		p.log.Warn("outbox row does not fit; moved to the dead-letter table", "id", d.ID, "dataset", d.Dataset, "error", fieldOnly(d.Err))
	}
}

// fieldOnly is what of a row error may be logged: the field path, not the
// value publish quotes for the publisher's own terminal.
func fieldOnly(err error) string {
	var fe *publish.FieldError
	if errors.As(err, &fe) {
		return fmt.Sprintf("field %q does not fit the schema", fe.Field)
	}
	if strings.HasPrefix(err.Error(), "dataset ") {
		return err.Error()
	}
	return "payload does not fit the schema"
}
