package kafkaclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go/sasl"
)

// ClientSecretEnv is the environment variable holding the OAuth client
// secret when kafka.sasl.client_secret_file is not set.
const ClientSecretEnv = "EXCHANGE_KAFKA_SASL_CLIENT_SECRET"

// oauthBearer is the OAUTHBEARER SASL mechanism (RFC 7628, KIP-255), which
// kafka-go v0.4 does not ship. token is asked for a token on every new
// connection (Start), so a rotated token file or a renewed
// client-credentials token is used from the next connection on.
type oauthBearer struct {
	token func(ctx context.Context) (string, error)
}

func (oauthBearer) Name() string { return OAuthBearer }

// Start returns the client's initial response: the GS2 header without an
// authorisation identity, then the auth key-value pair, each ended by 0x01.
func (m oauthBearer) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	tok, err := m.token(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("OAUTHBEARER: %w", err)
	}
	return &bearerSession{}, initialResponse(tok), nil
}

func initialResponse(token string) []byte {
	return []byte("n,,\x01auth=Bearer " + token + "\x01\x01")
}

// bearerSession is one OAUTHBEARER exchange. The broker answers a good
// token with an empty message. A refused token gets a JSON error
// challenge ({"status":"invalid_token",…}); RFC 7628 §3.2.3 has the client
// answer it with a single 0x01, after which the broker fails the exchange
// (SASL_AUTHENTICATION_FAILED, or closing the connection).
type bearerSession struct {
	refused string // the broker's error challenge, once received
}

func (s *bearerSession) Next(_ context.Context, challenge []byte) (bool, []byte, error) {
	switch {
	case s.refused != "":
		return false, nil, fmt.Errorf("OAUTHBEARER: the broker refused the token: %s", s.refused)
	case len(challenge) == 0:
		return true, nil, nil
	}
	s.refused = describeRefusal(challenge)
	return false, []byte{0x01}, nil
}

// describeRefusal names the status (and scope) of the broker's error
// challenge; it never holds the token.
func describeRefusal(challenge []byte) string {
	var e struct {
		Status string `json:"status"`
		Scope  string `json:"scope"`
	}
	if json.Unmarshal(challenge, &e) != nil || e.Status == "" {
		return fmt.Sprintf("an error challenge of %d bytes", len(challenge))
	}
	if e.Scope != "" {
		return e.Status + " (scope " + e.Scope + ")"
	}
	return e.Status
}

// tokenFromFile reads the token at every call: whoever renews it (a
// sidecar, a projected Kubernetes token) replaces the file.
func tokenFromFile(path string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("kafka.sasl.token_file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("kafka.sasl.token_file %s: empty", path)
		}
		return tok, nil
	}
}

// clientCredentials fetches tokens from an OAuth 2 token endpoint with the
// client-credentials grant (RFC 6749 §4.4) and caches each until shortly
// before it expires. Safe for concurrent use.
type clientCredentials struct {
	endpoint, clientID, scope string
	secret                    func() (string, error) // read at every fetch: rotation
	http                      *http.Client
	now                       func() time.Time

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// defaultTokenLifetime is assumed when the endpoint names no expires_in.
const defaultTokenLifetime = 5 * time.Minute

func (c *clientCredentials) get(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.now().Before(c.renewAt) {
		return c.token, nil
	}
	tok, lifetime, err := c.fetch(ctx)
	if err != nil {
		return "", err
	}
	// Renew a fifth of the lifetime before expiry, at most five minutes
	// before: a connection opened just before renewal still authenticates.
	c.token, c.renewAt = tok, c.now().Add(lifetime-min(lifetime/5, 5*time.Minute))
	return tok, nil
}

func (c *clientCredentials) fetch(ctx context.Context) (string, time.Duration, error) {
	secret, err := c.secret()
	if err != nil {
		return "", 0, err
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if c.scope != "" {
		form.Set("scope", c.scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("kafka.sasl.token_endpoint: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: both parts form-encoded, then HTTP Basic.
	req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(secret))
	resp, err := c.http.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("kafka.sasl.token_endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("kafka.sasl.token_endpoint: reading the answer: %w", err)
	}
	return parseTokenResponse(c.endpoint, c.clientID, resp.StatusCode, body)
}

// parseTokenResponse takes the access token and its lifetime out of a
// token endpoint's answer. Errors name the endpoint, the client and the
// OAuth error code, never the body (it may echo a secret).
func parseTokenResponse(endpoint, clientID string, status int, body []byte) (string, time.Duration, error) {
	var r struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
	}
	jsonErr := json.Unmarshal(bytes.TrimSpace(body), &r)
	if status != http.StatusOK {
		code := r.Error
		if code == "" {
			code = "no OAuth error code"
		}
		return "", 0, fmt.Errorf("kafka.sasl.token_endpoint %s: client %s: HTTP %d (%s)", endpoint, clientID, status, code)
	}
	if jsonErr != nil || r.AccessToken == "" {
		return "", 0, fmt.Errorf("kafka.sasl.token_endpoint %s: client %s: the answer holds no access_token", endpoint, clientID)
	}
	if r.TokenType != "" && !strings.EqualFold(r.TokenType, "bearer") {
		return "", 0, fmt.Errorf("kafka.sasl.token_endpoint %s: token_type %q, want Bearer", endpoint, r.TokenType)
	}
	lifetime := defaultTokenLifetime
	if r.ExpiresIn > 0 {
		lifetime = time.Duration(r.ExpiresIn) * time.Second
	}
	return r.AccessToken, lifetime, nil
}

// checkTokenEndpoint refuses an endpoint the client secret must not be
// sent to: anything but https, except http to the loopback interface.
func checkTokenEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("kafka.sasl.token_endpoint: %q is not an absolute URL", raw)
	}
	if u.User != nil {
		return errors.New("kafka.sasl.token_endpoint: credentials in the URL; use client_id and client_secret_file")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("kafka.sasl.token_endpoint: %s: use https (the client secret is sent to it)", u.Redacted())
}

// secretReader reads the client secret from file, else from
// getenv(ClientSecretEnv), at every call.
func secretReader(file string, getenv func(string) string) func() (string, error) {
	return func() (string, error) {
		if file == "" {
			if s := getenv(ClientSecretEnv); s != "" {
				return s, nil
			}
			return "", fmt.Errorf("kafka.sasl: no client secret: set client_secret_file or %s", ClientSecretEnv)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("kafka.sasl.client_secret_file: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("kafka.sasl.client_secret_file %s: empty", file)
		}
		return s, nil
	}
}

// bearerMechanism builds the OAUTHBEARER mechanism of s: a token file, or
// a client-credentials endpoint (its secret checked now, so a missing one
// fails at start, not at the first connection).
func (s *SASL) bearerMechanism(getenv func(string) string) (sasl.Mechanism, error) {
	if s.TokenFile != "" {
		if _, err := tokenFromFile(s.TokenFile)(context.Background()); err != nil {
			return nil, err
		}
		return oauthBearer{token: tokenFromFile(s.TokenFile)}, nil
	}
	secret := secretReader(s.ClientSecretFile, getenv)
	if _, err := secret(); err != nil {
		return nil, err
	}
	cc := &clientCredentials{endpoint: s.TokenEndpoint, clientID: s.ClientID, scope: s.Scope, secret: secret,
		http: &http.Client{Timeout: 10 * time.Second}, now: time.Now}
	return oauthBearer{token: cc.get}, nil
}
