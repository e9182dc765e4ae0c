package schemas

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"
)

// SchemaSource looks schemas up by global id. *Registry implements it.
type SchemaSource interface {
	SchemaByID(ctx context.Context, id int) (*Schema, error)
}

// Decoding limits (CVE-2023-37475: unbounded length prefixes). They bound
// what one hostile record can make the decoder allocate.
const (
	// DefaultMaxBytes is the default limit on one string or bytes value.
	DefaultMaxBytes = 1 << 20
	// DefaultMaxItems is the default limit on the element count of one
	// array (summed over its blocks).
	DefaultMaxItems = 1 << 18
)

// Codecs decodes and encodes Confluent-framed Avro values, caching the
// parsed schema of each id. Safe for concurrent use. Ids are immutable in
// a registry, so cached entries never go stale; the cache grows with the
// number of distinct ids seen (unknown ids are not cached).
type Codecs struct {
	src SchemaSource
	api avro.API

	readers  sync.Pool // *avro.Reader bound to api
	maxBytes int
	maxItems int

	mu    sync.RWMutex
	cache map[int]avro.Schema
}

// CodecOption configures NewCodecs.
type CodecOption func(*codecConfig)

type codecConfig struct {
	maxBytes int
	maxItems int
}

// WithMaxBytes limits one decoded string or bytes value to n bytes
// (default DefaultMaxBytes).
func WithMaxBytes(n int) CodecOption { return func(c *codecConfig) { c.maxBytes = n } }

// WithMaxItems limits one decoded array to n elements (default
// DefaultMaxItems).
func WithMaxItems(n int) CodecOption { return func(c *codecConfig) { c.maxItems = n } }

// NewCodecs returns a codec cache over src.
func NewCodecs(src SchemaSource, opts ...CodecOption) *Codecs {
	cfg := codecConfig{maxBytes: DefaultMaxBytes, maxItems: DefaultMaxItems}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxBytes <= 0 {
		cfg.maxBytes = DefaultMaxBytes
	}
	if cfg.maxItems <= 0 {
		cfg.maxItems = DefaultMaxItems
	}
	c := &Codecs{
		src: src,
		api: avro.Config{
			MaxByteSliceSize:  cfg.maxBytes,
			MaxSliceAllocSize: cfg.maxItems,
			// UnionResolutionError stays off: with it, any union holding a
			// named type (record, enum, fixed) fails to decode into any,
			// whatever branch the data holds.
		}.Freeze(),
		cache:    map[int]avro.Schema{},
		maxBytes: cfg.maxBytes,
		maxItems: cfg.maxItems,
	}
	c.readers.New = func() any { return avro.NewReader(nil, 0, avro.WithReaderConfig(c.api)) }
	return c
}

// Schema returns the parsed schema of id, loading it once. An id the
// source does not know is a *FrameError matching ErrUnknownSchemaID; other
// source failures (context, store) are returned wrapped as they are.
func (c *Codecs) Schema(ctx context.Context, id int) (avro.Schema, error) {
	c.mu.RLock()
	s, ok := c.cache[id]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	sch, err := c.src.SchemaByID(ctx, id)
	if err != nil {
		if errors.Is(err, ErrSchemaNotFound) {
			return nil, &FrameError{SchemaID: id, Kind: ErrUnknownSchemaID}
		}
		return nil, fmt.Errorf("loading schema %d: %w", id, err)
	}
	c.mu.Lock()
	c.cache[id] = sch.Avro
	c.mu.Unlock()
	return sch.Avro, nil
}

// Decode parses the frame and decodes its body under the writer schema of
// its id into the generic shape hamba/avro produces (records as
// map[string]any, unions as map[string]any{branch: value} or nil,
// timestamp-millis as time.Time, enums as string). Errors are *FrameError
// (see ReasonCode) except for source failures.
func (c *Codecs) Decode(ctx context.Context, frame []byte) (id int, v any, err error) {
	id, body, err := ParseFrame(frame)
	if err != nil {
		return 0, nil, err
	}
	s, err := c.Schema(ctx, id)
	if err != nil {
		return id, nil, err
	}
	v, err = c.DecodeBody(s, body)
	if err != nil {
		var fe *FrameError
		if errors.As(err, &fe) {
			fe.SchemaID = id
		}
		return id, nil, err
	}
	return id, v, nil
}

// DecodeBody decodes an unframed Avro body under s with the cache's
// limits. The body is validated structurally first (validateBody), so
// hamba/avro only sees well-formed input. Trailing bytes after the value are ignored, as Confluent
// deserializers do.
func (c *Codecs) DecodeBody(s avro.Schema, body []byte) (v any, err error) {
	// hamba/avro is not written for hostile input; a panic inside it must
	// not take the process down.
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &FrameError{SchemaID: -1, Kind: ErrMalformedPayload, Detail: fmt.Sprintf("decoder panicked: %v", r)}
		}
	}()
	if err := validateBody(s, body, c.maxBytes, c.maxItems); err != nil {
		return nil, &FrameError{SchemaID: -1, Kind: ErrMalformedPayload, Err: err}
	}
	// Not api.Unmarshal: it reports a body that ends mid-value (io.EOF) as
	// success with a nil or partial value.
	r := c.readers.Get().(*avro.Reader)
	defer c.readers.Put(r)
	r.Reset(body)
	r.ReadVal(s, &v)
	if r.Error != nil {
		err := r.Error
		r.Error = nil
		return nil, &FrameError{SchemaID: -1, Kind: ErrMalformedPayload, Err: err}
	}
	return v, nil
}

// Encode encodes v under schema id and returns the framed value.
func (c *Codecs) Encode(ctx context.Context, id int, v any) ([]byte, error) {
	return c.AppendEncode(ctx, nil, id, v)
}

// AppendEncode appends the framed encoding of v under schema id to dst.
func (c *Codecs) AppendEncode(ctx context.Context, dst []byte, id int, v any) ([]byte, error) {
	s, err := c.Schema(ctx, id)
	if err != nil {
		return dst, err
	}
	body, err := c.api.Marshal(s, v)
	if err != nil {
		return dst, fmt.Errorf("encoding under schema %d: %w", id, err)
	}
	dst = AppendFrame(dst, id)
	return append(dst, body...), nil
}
