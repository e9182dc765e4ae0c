package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/deliverysig"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

func init() {
	register("consume", "print an agreement's deliveries (or any topic's records) as JSON lines, decoded with the registry",
		func(ctx context.Context, args []string) error {
			return consumeCmd(ctx, os.Stdout, os.Stderr, args)
		})
}

const consumeUsage = `usage: exchange consume (--agreement ID | --topic TOPIC) [--from-beginning] [--follow] [--credentials FILE | --brokers LIST] [--registry URL] [--keys URL] [--token FILE]

Prints what a subscriber receives: one JSON object per record, with its
topic, partition, offset, key, headers (exchange-agreement,
exchange-delivery-id, exchange-source, exchange-event-time, traceparent,
exchange-signature, …), the schema id of its wire frame and its value
decoded with that schema from the registry. It reads without a consumer
group, so it moves no committed offset of the subscriber.

Every delivery's exchange-signature is checked with the keys published at
--keys (default: /api/v1/delivery-keys beside --registry): "signature" is
"valid", "invalid: <why>" (not written by the exchange, or altered) or
"missing".

Without --from-beginning it starts at the end of each partition; without
--follow it stops at the end offsets it saw when it started.

It connects as --credentials says or, when exchange dev's credentials are in
.exchange-dev/, as the agreement's consumer (for --agreement, or --topic
deliver.*), or as exchange dev's super user for other topics (no agency may
read ingress.* or quarantine.*).

`

// consumeConfig is what the flags of consume say.
type consumeConfig struct {
	agreement, topic    string
	kafka               kafkaFlags
	registry, keys      string
	creds               apiAuth
	fromBeginning, tail bool
}

// consumeCmd is `exchange consume`: records go to stdout as JSON lines,
// notes and errors to stderr.
func consumeCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	cfg, err := parseConsumeFlags(stderr, args)
	if err != nil {
		return err
	}
	kc, asAdmin, err := consumeClients(ctx, stderr, cfg)
	if err != nil {
		return err
	}
	defer kc.Close()
	client := kc.Admin()
	topic, err := consumeTopic(ctx, client, cfg)
	if err != nil {
		return err
	}
	if asAdmin && cfg.agreement != "" {
		return fmt.Errorf("agreement %q: its delivery topic %s exists, but its consumer may not read it now (the agreement is not active, or outside its validity window)", cfg.agreement, topic)
	}
	ranges, err := partitionRanges(ctx, client, topic, cfg.fromBeginning)
	if err != nil {
		return err
	}
	from, until := "the end", "the end offsets seen now"
	if cfg.fromBeginning {
		from = "the beginning"
	}
	if cfg.tail {
		until = "interrupted (Ctrl-C)"
	}
	fmt.Fprintf(stderr, "reading %s (%d partitions) from %s until %s\n", topic, len(ranges), from, until)
	// An agreement's consumer reads its deliveries; other topics are no
	// agency's to read.
	consumer, _ := names.ConsumerOfDeliver(topic)
	creds, err := cfg.creds.withProperties(cfg.kafka.credentials)
	if err != nil {
		return err
	}
	hc, err := creds.orDev(consumer, stderr).client()
	if err != nil {
		return err
	}
	dec := &recordDecoder{registry: cfg.registry, client: hc, schemas: map[int]*schemas.SchemaVersion{}}
	sigs := &signatureChecker{url: cfg.keys, client: hc}
	out := json.NewEncoder(stdout)
	out.SetEscapeHTML(false)
	return readPartitions(ctx, kc, cfg.tail, topic, ranges, func(m kafka.Message) error {
		rec := dec.decode(ctx, m)
		rec.Signature = sigs.check(ctx, &m)
		return out.Encode(rec)
	})
}

func parseConsumeFlags(stderr io.Writer, args []string) (consumeConfig, error) {
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), consumeUsage); fs.PrintDefaults() }
	var cfg consumeConfig
	fs.StringVar(&cfg.agreement, "agreement", "", "agreement id: read its delivery topic")
	fs.StringVar(&cfg.topic, "topic", "", "read this topic (e.g. a quarantine topic) instead")
	brokers := cfg.kafka.register(fs)
	fs.StringVar(&cfg.registry, "registry", "http://127.0.0.1:8080/registry", "schema registry base URL")
	fs.StringVar(&cfg.keys, "keys", "", "URL of the exchange's delivery verification keys (default: /api/v1/delivery-keys on --registry's host)")
	fs.StringVar(&cfg.creds.tokenFile, "token", "", tokenUsage)
	fs.BoolVar(&cfg.fromBeginning, "from-beginning", false, "start at the first record of each partition (default: at the end)")
	fs.BoolVar(&cfg.tail, "follow", false, "keep printing new records until interrupted (default: stop at the end offsets seen at start)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	if (cfg.agreement == "") == (cfg.topic == "") {
		fmt.Fprintln(stderr, "exchange consume: give one of --agreement ID or --topic TOPIC")
		fs.Usage()
		return cfg, exitError{2}
	}
	if cfg.keys == "" {
		cfg.keys = strings.TrimSuffix(strings.TrimSuffix(cfg.registry, "/"), "/registry") + "/api/v1/delivery-keys"
	}
	return cfg, cfg.kafka.parsed(fs, *brokers)
}

// consumeClients connects as consume's flags and the dev credentials say
// (see consumeUsage). asAdmin: connected as the dev super user for an
// agreement no agency may read now, only to tell why.
func consumeClients(ctx context.Context, stderr io.Writer, cfg consumeConfig) (kc *kafkaclient.Clients, asAdmin bool, err error) {
	kf := cfg.kafka
	if kf.credentials != "" {
		kc, err = clientsFromFile(kf.credentials, "--credentials")
		return kc, false, err
	}
	if cfg.topic != "" {
		if consumer, ok := names.ConsumerOfDeliver(cfg.topic); ok {
			kc, err = kf.clients(stderr, consumer)
			return kc, false, err
		}
	} else if kc, ok := kf.devReader(ctx, stderr, func(id string) string { return names.Deliver(id, cfg.agreement) }); ok {
		return kc, false, nil
	}
	if kc, ok, err := kf.devAdmin(stderr); ok || err != nil {
		return kc, ok && cfg.agreement != "", err
	}
	kc, err = kf.clients(stderr, "")
	return kc, false, err
}

// consumeTopic finds the topic to read: --topic as given, or the delivery
// topic of --agreement (its consumer agency is read off the topic names, so
// no policy files are needed).
func consumeTopic(ctx context.Context, client *kafka.Client, cfg consumeConfig) (string, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return "", fmt.Errorf("listing the topics of %s: %w", client.Addr, kafkaclient.Explain(err))
	}
	var known []string // agreements that have a delivery topic
	for _, t := range meta.Topics {
		if t.Error != nil {
			continue
		}
		if cfg.topic != "" && t.Name == cfg.topic {
			return t.Name, nil
		}
		if consumer, ok := names.ConsumerOfDeliver(t.Name); ok {
			if cfg.agreement != "" && t.Name == names.Deliver(consumer, cfg.agreement) {
				return t.Name, nil
			}
			known = append(known, strings.TrimPrefix(t.Name, names.DeliverPrefixOf(consumer)))
		}
	}
	brokers := client.Addr.String()
	if cfg.topic != "" {
		return "", fmt.Errorf("topic %q does not exist on %s", cfg.topic, brokers)
	}
	if len(known) == 0 {
		return "", fmt.Errorf("agreement %q has no delivery topic on %s, nor has any other: is the exchange running on these brokers?", cfg.agreement, brokers)
	}
	sort.Strings(known)
	return "", fmt.Errorf("agreement %q has no delivery topic on %s (the exchange creates one when it loads an agreement); agreements with one: %s",
		cfg.agreement, brokers, strings.Join(known, ", "))
}

// offsetRange is the part of one partition to read: [start, end), end being
// the end offset seen at start.
type offsetRange struct {
	partition  int
	start, end int64
}

func partitionRanges(ctx context.Context, client *kafka.Client, topic string, fromBeginning bool) ([]offsetRange, error) {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 {
		return nil, fmt.Errorf("reading the partitions of %s: %w", topic, err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range meta.Topics[0].Partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	resp, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("reading the offsets of %s: %w", topic, err)
	}
	var out []offsetRange
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("reading the offsets of %s partition %d: %w", topic, po.Partition, po.Error)
		}
		r := offsetRange{partition: po.Partition, start: po.LastOffset, end: po.LastOffset}
		if fromBeginning {
			r.start = po.FirstOffset
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].partition < out[j].partition })
	return out, nil
}

// readPartitions reads every partition at once and hands each record to
// emit, one at a time. Without --follow a partition is done at the end
// offset seen at start.
func readPartitions(ctx context.Context, kc *kafkaclient.Clients, follow bool, topic string, ranges []offsetRange, emit func(kafka.Message) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu sync.Mutex // serialises emit
		wg sync.WaitGroup
	)
	for _, r := range ranges {
		if !follow && r.start >= r.end {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reader := kc.Reader(kafka.ReaderConfig{Topic: topic, Partition: r.partition,
				MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 250 * time.Millisecond})
			defer reader.Close()
			if err := reader.SetOffset(r.start); err != nil {
				cancel(fmt.Errorf("%s partition %d: %w", topic, r.partition, err))
				return
			}
			for {
				m, err := reader.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						cancel(fmt.Errorf("reading %s partition %d: %w", topic, r.partition, err))
					}
					return
				}
				mu.Lock()
				err = emit(m)
				mu.Unlock()
				if err != nil {
					cancel(fmt.Errorf("writing: %w", err))
					return
				}
				if !follow && m.Offset+1 >= r.end {
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// consumedRecord is one output line.
type consumedRecord struct {
	Topic     string            `json:"topic"`
	Partition int               `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Key       *string           `json:"key"`
	Headers   map[string]string `json:"headers"`
	SchemaID  int               `json:"schema_id,omitempty"`
	Value     any               `json:"value,omitempty"`
	// Error says why the value could not be decoded; the rest is still printed.
	Error string `json:"error,omitempty"`
	// Signature is the check of a delivery's exchange-signature: "valid",
	// "invalid: <why>" or "missing"; absent on records that are not
	// deliveries (no exchange-agreement header).
	Signature string `json:"signature,omitempty"`
}

// recordDecoder decodes framed values with schemas fetched by id, once each.
type recordDecoder struct {
	registry string
	client   *http.Client // with the caller's credentials; nil: none
	schemas  map[int]*schemas.SchemaVersion
}

func (d *recordDecoder) decode(ctx context.Context, m kafka.Message) consumedRecord {
	rec := consumedRecord{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Timestamp: m.Time.UTC(), Headers: map[string]string{}}
	if m.Key != nil {
		k := string(m.Key)
		if !utf8.ValidString(k) {
			k = fmt.Sprintf("%x", m.Key)
		}
		rec.Key = &k
	}
	for _, h := range m.Headers {
		rec.Headers[h.Key] = string(h.Value)
	}
	id, body, err := schemas.ParseFrame(m.Value)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	rec.SchemaID = id
	s, err := d.schema(ctx, id)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	var native any
	if err := avro.Unmarshal(s.Avro, body, &native); err != nil {
		rec.Error = fmt.Sprintf("decoding with schema id %d: %v", id, err)
		return rec
	}
	rec.Value = publish.ToJSON(s.Avro, native)
	return rec
}

func (d *recordDecoder) schema(ctx context.Context, id int) (*schemas.SchemaVersion, error) {
	if s, ok := d.schemas[id]; ok {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := registryhttp.FetchByID(ctx, d.client, d.registry, id)
	if err != nil {
		return nil, err
	}
	d.schemas[id] = s
	return s, nil
}

// signatureChecker checks deliveries' exchange-signature with the key set
// fetched from url: once at the first delivery, and again when a record
// names a key id it does not know (the exchange's key changed).
type signatureChecker struct {
	url      string
	client   *http.Client // with the caller's credentials; nil: none
	verifier *deliverysig.Verifier
	fetchErr error
}

func (c *signatureChecker) check(ctx context.Context, m *kafka.Message) string {
	var d deliverysig.Delivery
	var sig string
	var isDelivery, signed bool
	for _, h := range m.Headers {
		switch h.Key {
		case exchange.HeaderAgreement:
			d.Agreement, isDelivery = string(h.Value), true
		case exchange.HeaderDeliveryID:
			d.DeliveryID = string(h.Value)
		case deliverysig.Header:
			sig, signed = string(h.Value), true
		}
	}
	switch {
	case !isDelivery:
		return ""
	case !signed:
		return "missing"
	}
	d.Topic, d.Key, d.Value = m.Topic, m.Key, m.Value
	if c.verifier == nil {
		c.fetch(ctx)
	}
	if c.verifier == nil {
		return "invalid: no verification key: " + c.fetchErr.Error()
	}
	err := c.verifier.Verify(&d, sig)
	if errors.Is(err, deliverysig.ErrUnknownKey) && c.fetch(ctx) {
		err = c.verifier.Verify(&d, sig)
	}
	if err != nil {
		return "invalid: " + err.Error()
	}
	return "valid"
}

// fetch reads the key set; it reports whether it got one.
func (c *signatureChecker) fetch(ctx context.Context) bool {
	keys, err := fetchDeliveryKeys(ctx, c.client, c.url)
	if err != nil {
		c.fetchErr = err
		return false
	}
	c.verifier = &deliverysig.Verifier{Keys: keys}
	return true
}

func fetchDeliveryKeys(ctx context.Context, client *http.Client, url string) (deliverysig.Keys, error) {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("--keys %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var ks deliverysig.KeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ks); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	keys, err := ks.Verification()
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return keys, nil
}
