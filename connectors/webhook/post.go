package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// Kafka headers of a delivery (ARCHITECTURE.md, "Topics"; written by the
// exchange, exchange/route.go). A test checks they match the runtime's.
const (
	kafkaHeaderPrefix      = "exchange-"
	kafkaHeaderDeliveryID  = "exchange-delivery-id"
	kafkaHeaderSignature   = "exchange-signature"
	kafkaHeaderTraceparent = "traceparent"
)

// IdempotencyKeyHeader carries the delivery id: the same on every attempt
// and every re-delivery of one record, so the receiver drops duplicates.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxResponseBytes is how much of a response body is read (and discarded)
// so the connection can be reused.
const maxResponseBytes = 64 << 10

// newHTTPClient is the client of the endpoint's POSTs: its TLS settings
// (CA, client certificate), its timeout, and no redirects: a 3xx is a
// failure, so a body is never re-sent to a place the configuration does
// not name (and a 303 never turns the POST into a GET).
func newHTTPClient(e *Endpoint) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tlsCfg, err := e.TLS.ClientConfig(e.Name() + ".tls")
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		tr.TLSClientConfig = tlsCfg
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       e.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// attempt is the outcome of one POST.
type attempt struct {
	code       int           // HTTP status; 0: no response
	retryAfter time.Duration // the receiver's Retry-After (429, 503); 0: none
	err        error         // transport error, or the refusal
}

// codeLabel is the outcome as the deliveries metric's code label.
func (a attempt) codeLabel() string {
	if a.code == 0 {
		return "error"
	}
	return strconv.Itoa(a.code)
}

func (a attempt) ok() bool { return a.code >= 200 && a.code < 300 }

// permanent: a 4xx other than 408 and 429 says the receiver refuses this
// request as it is; a retry will most likely be refused too. It is still
// retried (nothing is dropped), but logged at error level at once.
func (a attempt) permanent() bool {
	return a.code >= 400 && a.code < 500 && a.code != http.StatusRequestTimeout && a.code != http.StatusTooManyRequests
}

// post sends one delivery: body signed at now with secret, the delivery's
// exchange headers, Idempotency-Key = delivery id.
func (c *Connector) post(ctx context.Context, m *kafka.Message, body []byte, schemaID int) attempt {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return attempt{err: fmt.Errorf("request: %w", err)}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "exchange-webhook/1")
	for _, kh := range m.Headers {
		if kh.Key == kafkaHeaderSignature {
			// The Ed25519 exchange-signature covers the Avro bytes, which a
			// webhook receiver does not get; and its name is the HMAC's.
			continue
		}
		if strings.HasPrefix(kh.Key, kafkaHeaderPrefix) || kh.Key == kafkaHeaderTraceparent {
			h.Set(kh.Key, string(kh.Value))
		}
		if kh.Key == kafkaHeaderDeliveryID {
			h.Set(IdempotencyKeyHeader, string(kh.Value))
		}
	}
	h.Set("Exchange-Schema-Id", strconv.Itoa(schemaID))
	h.Set(SignatureHeader, Sign(c.secret, body, c.now()))
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the URL, query string included: keep it out of
		// the logs (a receiver may have put a token there).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return attempt{err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	a := attempt{code: resp.StatusCode}
	if !a.ok() {
		a.err = fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		a.retryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	return a
}

// retryAfter reads a Retry-After value (seconds or an HTTP date).
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the wait before attempt n+1 after n failures: "full jitter"
// (uniform in [0, min(max, base·2^(n-1))]), so many connectors failing
// together do not retry in lockstep; at least the receiver's Retry-After,
// capped at max.
func backoff(n int, base, maxWait, after time.Duration) time.Duration {
	ceil := maxWait
	if n < 40 {
		ceil = min(maxWait, base<<(n-1))
	}
	d := time.Duration(rand.Int64N(int64(ceil) + 1))
	return min(max(d, after), maxWait)
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// authRoundTripper adds the registry credentials to every request.
type authRoundTripper struct {
	header string // Authorization value
	next   http.RoundTripper
}

func (a authRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", a.header)
	return a.next.RoundTrip(r)
}

// registryClient builds the registry's URL and HTTP client from the
// endpoint's registry block, or its properties file.
func registryClient(e *Endpoint) (string, *http.Client, error) {
	regURL, header := e.Registry.URL, ""
	var err error
	if regURL == "" {
		if regURL, err = kafkaclient.RegistryURL(e.Properties); err != nil {
			return "", nil, err
		}
		if regURL == "" {
			return "", nil, fmt.Errorf("%s.registry.url: not given, and %s has no schema.registry.url", e.Name(), e.Properties)
		}
	}
	switch {
	case e.Registry.TokenFile != "":
		tok, err := readTrimmed(e.Registry.TokenFile)
		if err != nil {
			return "", nil, fmt.Errorf("%s.registry.token_file: %w", e.Name(), err)
		}
		header = "Bearer " + tok
	case e.Registry.UserInfoFile != "":
		info, err := readTrimmed(e.Registry.UserInfoFile)
		if err != nil {
			return "", nil, fmt.Errorf("%s.registry.user_info_file: %w", e.Name(), err)
		}
		header = basic(info)
	case e.Properties != "":
		info, err := kafkaclient.RegistryUserInfo(e.Properties)
		if err != nil {
			return "", nil, err
		}
		if info != "" {
			header = basic(info)
		}
	}
	var next http.RoundTripper = http.DefaultTransport
	if e.Registry.CAFile != "" {
		tlsCfg, err := (&kafkaclient.TLS{CAFile: e.Registry.CAFile}).ClientConfig(e.Name() + ".registry")
		if err != nil {
			return "", nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsCfg
		next = tr
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: next}
	if header != "" {
		client.Transport = authRoundTripper{header: header, next: next}
	}
	return regURL, client, nil
}

func basic(userInfo string) string {
	user, pass, _ := strings.Cut(userInfo, ":")
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

var errEmpty = errors.New("file is empty")

func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", errEmpty
	}
	return s, nil
}
