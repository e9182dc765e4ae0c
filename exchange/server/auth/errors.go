package auth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Error is why a request has no principal: Status 401 (no or bad
// credentials) or 403 (good credentials, unusable identity). Message and
// Missing are safe to show: they never hold a secret or a token.
type Error struct {
	Status int
	// Missing names what the request lacks: "credentials", "valid
	// credentials", "role", "agency", "subject".
	Missing string
	Message string
	// Scheme is the scheme whose credentials were refused ("Bearer",
	// "Basic"), "" when none was sent; it shapes WWW-Authenticate.
	Scheme string
	// Cause is the underlying error, for the log only.
	Cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

func unauthorized(scheme, missing, msg string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Scheme: scheme, Missing: missing, Message: msg, Cause: cause}
}

// Forbidden is the error of a principal that lacks a right: missing names
// it ("role", "agency", or the right itself), msg says what was refused.
// Authorization answers with it (Error.Write) as authentication does.
func Forbidden(missing, msg string) *Error {
	return &Error{Status: http.StatusForbidden, Missing: missing, Message: msg}
}

// ErrorFormat is the body shape of an error answer.
type ErrorFormat int

const (
	// FormatAPI is {"error": message, "missing": what}, as /api/v1 answers.
	FormatAPI ErrorFormat = iota
	// FormatConfluent is {"error_code": code, "message": message}, what
	// Confluent registry clients expect under /registry: code 401, or
	// 40301 for 403 as Confluent's own authorizer answers.
	FormatConfluent
)

// realm names the exchange in WWW-Authenticate.
const realm = "exchange"

// Write answers the request with e: its status, a WWW-Authenticate
// challenge for each scheme the authenticator accepts (on 401), and a
// JSON body in format.
func (e *Error) Write(w http.ResponseWriter, schemes []string, format ErrorFormat) {
	if e.Status == http.StatusUnauthorized {
		for _, s := range schemes {
			c := s + ` realm="` + realm + `"`
			if s == e.Scheme && s == "Bearer" {
				// RFC 6750 §3: the token was sent and refused.
				c += `, error="invalid_token", error_description=` + strconv.Quote(headerSafe(e.Message))
			}
			w.Header().Add("WWW-Authenticate", c)
		}
	}
	var body any = map[string]string{"error": e.Message, "missing": e.Missing}
	if format == FormatConfluent {
		code := e.Status
		if code == http.StatusForbidden {
			code = 40301
		}
		body = struct {
			ErrorCode int    `json:"error_code"`
			Message   string `json:"message"`
		}{code, e.Message}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_, _ = w.Write(buf.Bytes())
}

// headerSafe keeps a message within what a quoted header value may hold.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}
