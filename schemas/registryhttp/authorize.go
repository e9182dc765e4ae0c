package registryhttp

import "net/http"

// Op is what a registry request does, as an Authorize function sees it.
type Op string

// The registry operations.
const (
	// OpRead reads: schemas, subjects, versions, config, lookups and
	// compatibility checks (which change nothing).
	OpRead Op = "read"
	// OpRegister registers a schema version under a subject.
	OpRegister Op = "register"
	// OpConfig changes a compatibility config (PUT or DELETE /config…).
	OpConfig Op = "config"
	// OpDelete deletes a subject or a version.
	OpDelete Op = "delete"
)

// Authorize decides whether req may do op on subject ("" for the global
// config). A non-nil error refuses with 403, error_code 40301 and the
// error's text as message: it must name the missing right, never a
// secret.
type Authorize func(req *http.Request, op Op, subject string) error

// Option configures Handler.
type Option func(*handler)

// WithAuthorize checks every request with f before serving it; without it
// every request is served (the caller authorizes, or nobody needs to).
func WithAuthorize(f Authorize) Option { return func(h *handler) { h.authorize = f } }

// ErrorCodeForbidden is the error_code of a refused request, as
// Confluent's own authorizer answers.
const ErrorCodeForbidden = 40301

// guard serves next only when h.authorize allows op on the request's
// subject.
func (h *handler) guard(op Op, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if h.authorize != nil {
			if err := h.authorize(req, op, req.PathValue("subject")); err != nil {
				writeError(w, http.StatusForbidden, ErrorCodeForbidden, err.Error())
				return
			}
		}
		next(w, req)
	}
}
