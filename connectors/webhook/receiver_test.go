package webhook_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/connectors/webhook"
)

// action is what the receiver does with one request.
type action int

const (
	accept      action = iota
	fail500            // 500
	unavailable        // 503 with Retry-After
	tooMany            // 429
	reject400          // 400: a "permanent" refusal, still retried
	hang               // no answer until the connector's timeout
	acceptHang         // takes the delivery, then no answer: the connector retries a delivery already taken
	hangUp             // closes the connection without an answer
)

var actionNames = [...]string{"accept", "500", "503", "429", "400", "timeout", "accept+timeout", "connection closed"}

// arrival is one delivery the receiver took (answered or about to answer 2xx).
type arrival struct {
	id, key string
	seq     int
	body    [sha256.Size]byte
}

// receiver is an HTTPS endpoint that verifies every request like a real
// receiver would, and answers as script says.
type receiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server

	mu       sync.Mutex
	script   func(n int) action // by request number, from 1
	requests int
	byAction map[action]int
	taken    []arrival      // in the order taken
	takenIDs map[string]int // delivery id -> times taken
	bodies   map[string][sha256.Size]byte
	problems []string
	closing  chan struct{}
}

func newReceiver(t *testing.T, secret []byte, script func(n int) action) *receiver {
	return newReceiverTLS(t, secret, script, nil)
}

// newReceiverTLS is newReceiver with the server's TLS settings (client
// certificates) from cfg.
func newReceiverTLS(t *testing.T, secret []byte, script func(n int) action, cfg *tls.Config) *receiver {
	r := &receiver{t: t, secret: secret, script: script, byAction: map[action]int{}, takenIDs: map[string]int{},
		bodies: map[string][sha256.Size]byte{}, closing: make(chan struct{})}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.TLS = cfg
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	r.srv.StartTLS()
	t.Cleanup(func() { close(r.closing); r.srv.Close() })
	return r
}

func (r *receiver) setScript(s func(n int) action) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = s
}

func (r *receiver) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) < 20 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return // the connector gave up on the request
	}
	r.check(req, body)
	r.mu.Lock()
	r.requests++
	a := r.script(r.requests)
	r.byAction[a]++
	if a == accept || a == acceptHang {
		r.take(req, body)
	}
	r.mu.Unlock()
	switch a {
	case accept:
		w.WriteHeader(http.StatusOK)
	case fail500:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case unavailable:
		w.Header().Set("Retry-After", "0")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	case tooMany:
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case reject400:
		http.Error(w, "schema not understood", http.StatusBadRequest)
	case hang, acceptHang:
		select {
		case <-req.Context().Done():
		case <-r.closing:
		}
	case hangUp:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}
}

// check verifies a request as a receiver following the package doc does.
func (r *receiver) check(req *http.Request, body []byte) {
	id := req.Header.Get("Exchange-Delivery-Id")
	if err := webhook.Verify(r.secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
		r.problem("delivery %s: signature: %v", id, err)
	}
	if k := req.Header.Get(webhook.IdempotencyKeyHeader); k == "" || k != id {
		r.problem("delivery %s: Idempotency-Key %q is not the delivery id", id, k)
	}
	for _, h := range []string{"Exchange-Agreement", "Exchange-Source", "Exchange-Event-Time", "Traceparent", "Exchange-Schema-Id"} {
		if req.Header.Get(h) == "" {
			r.problem("delivery %s: no %s header", id, h)
		}
	}
	if req.Header.Get("Publisher-Own") != "" || len(req.Header.Values(webhook.SignatureHeader)) != 1 {
		r.problem("delivery %s: a header that is not the exchange's was forwarded", id)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" || req.Method != http.MethodPost {
		r.problem("delivery %s: %s with Content-Type %q", id, req.Method, ct)
	}
}

// take records a delivery taken; a duplicate must have the same body.
// Called with r.mu held.
func (r *receiver) take(req *http.Request, body []byte) {
	var v struct {
		Person string `json:"person"`
		Seq    int    `json:"seq"`
		At     string `json:"at"`
		Dose   string `json:"dose"`
	}
	id := req.Header.Get(webhook.IdempotencyKeyHeader)
	if err := json.Unmarshal(body, &v); err != nil || v.Person == "" || v.At == "" || v.Dose != "second" {
		r.problems = append(r.problems, fmt.Sprintf("delivery %s: body %s is not the decoded record (%v)", id, body, err))
	}
	sum := sha256.Sum256(body)
	if prev, ok := r.bodies[id]; ok && prev != sum {
		r.problems = append(r.problems, fmt.Sprintf("delivery %s: posted twice with different bodies", id))
	}
	r.bodies[id] = sum
	r.takenIDs[id]++
	r.taken = append(r.taken, arrival{id: id, key: v.Person, seq: v.Seq, body: sum})
}

// snapshot returns the ids taken so far.
func (r *receiver) takenSet() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.takenIDs))
	for k, v := range r.takenIDs {
		out[k] = v
	}
	return out
}

func (r *receiver) counts() (requests int, byAction map[action]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[action]int{}
	for k, v := range r.byAction {
		out[k] = v
	}
	return r.requests, out
}
