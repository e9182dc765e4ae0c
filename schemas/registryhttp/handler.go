package registryhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/exchange-gov/exchange/schemas"
)

// Content types of the Confluent Schema Registry API. Responses use the
// first; requests may use any of them (or none).
const (
	ContentTypeV1      = "application/vnd.schemaregistry.v1+json"
	ContentTypeDefault = "application/vnd.schemaregistry+json"
	ContentTypeJSON    = "application/json"
)

// MaxRequestBytes bounds a request body; larger bodies get 413.
const MaxRequestBytes = 1 << 20

// Handler returns the Confluent-compatible REST API over reg. Mount it
// under a prefix with http.StripPrefix("/registry", registryhttp.Handler(reg, log));
// a client configured with schema.registry.url=http://HOST:PORT/registry
// then works unmodified. Subject names are taken from the escaped path, so
// names holding dots or %2F-escaped slashes work. log receives the
// requests that fail in the store (500); nil means slog.Default().
//
// Endpoints: GET /subjects, GET /subjects/{s}/versions,
// GET /subjects/{s}/versions/{v|latest}, GET /subjects/{s}/versions/{v}/schema,
// GET /subjects/{s}/versions/{v}/referencedby, POST /subjects/{s}/versions,
// POST /subjects/{s}, DELETE /subjects/{s}, DELETE /subjects/{s}/versions/{v},
// GET /schemas/ids/{id}, GET /schemas/ids/{id}/schema,
// GET /schemas/ids/{id}/versions, GET /schemas/ids/{id}/subjects,
// GET /schemas/types, POST /compatibility/subjects/{s}/versions[/{v}],
// GET|PUT|DELETE /config, GET|PUT|DELETE /config/{s}, GET /mode, GET /.
func Handler(reg *schemas.Registry, log *slog.Logger, opts ...Option) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &handler{reg: reg, log: log}
	for _, o := range opts {
		o(h)
	}
	r := h.guard
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, struct{}{}) })
	mux.HandleFunc("GET /subjects", r(OpRead, h.listSubjects))
	mux.HandleFunc("GET /subjects/{subject}/versions", r(OpRead, h.listVersions))
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", r(OpRead, h.getVersion))
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", r(OpRead, h.getVersionSchema))
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/referencedby", r(OpRead, h.referencedBy))
	mux.HandleFunc("POST /subjects/{subject}/versions", r(OpRegister, h.register))
	mux.HandleFunc("POST /subjects/{subject}", r(OpRead, h.lookup))
	mux.HandleFunc("DELETE /subjects/{subject}", r(OpDelete, h.deleteSubject))
	mux.HandleFunc("DELETE /subjects/{subject}/versions/{version}", r(OpDelete, h.deleteVersion))
	mux.HandleFunc("GET /schemas/ids/{id}", r(OpRead, h.schemaByID))
	mux.HandleFunc("GET /schemas/ids/{id}/schema", r(OpRead, h.rawSchemaByID))
	mux.HandleFunc("GET /schemas/ids/{id}/versions", r(OpRead, h.versionsByID))
	mux.HandleFunc("GET /schemas/ids/{id}/subjects", r(OpRead, h.subjectsByID))
	mux.HandleFunc("GET /schemas/types", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, []string{"AVRO"}) })
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", r(OpRead, h.compatibility))
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", r(OpRead, h.compatibility))
	mux.HandleFunc("GET /config", r(OpRead, h.getConfig))
	mux.HandleFunc("PUT /config", r(OpConfig, h.putConfig))
	mux.HandleFunc("DELETE /config", r(OpConfig, h.deleteConfig))
	mux.HandleFunc("GET /config/{subject}", r(OpRead, h.getConfig))
	mux.HandleFunc("PUT /config/{subject}", r(OpConfig, h.putConfig))
	mux.HandleFunc("DELETE /config/{subject}", r(OpConfig, h.deleteConfig))
	mux.HandleFunc("GET /mode", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"mode": "READWRITE"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		if allowed := allowedMethods(mux, req); allowed != "" {
			w.Header().Set("Allow", allowed)
			writeError(w, http.StatusMethodNotAllowed, 405, "HTTP 405 Method Not Allowed")
			return
		}
		writeError(w, http.StatusNotFound, 404, "HTTP 404 Not Found")
	})
	return mux
}

// allowedMethods lists the methods another route accepts for req's path,
// so a wrong method gets 405 rather than the catch-all's 404.
func allowedMethods(mux *http.ServeMux, req *http.Request) string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == req.Method {
			continue
		}
		probe := req.Clone(req.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allowed = append(allowed, m)
		}
	}
	return strings.Join(allowed, ", ")
}

type handler struct {
	reg       *schemas.Registry
	log       *slog.Logger
	authorize Authorize
}

// maxID bounds version numbers and schema ids: Confluent's are Java ints.
const maxID = 1<<31 - 1

// errorBody is Confluent's error shape.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error_code":50001,"message":"cannot encode response"}`)
	}
	w.Header().Set("Content-Type", ContentTypeV1)
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, errorBody{ErrorCode: code, Message: msg})
}

// fail maps a registry error to Confluent's status, error_code and
// message. subject, version and id give the message its names.
func (h *handler) fail(w http.ResponseWriter, req *http.Request, err error, subject, version, id string) {
	switch {
	case errors.Is(err, schemas.ErrSubjectNotFound):
		writeError(w, 404, 40401, fmt.Sprintf("Subject '%s' not found.", subject))
	case errors.Is(err, schemas.ErrVersionNotFound):
		writeError(w, 404, 40402, fmt.Sprintf("Version %s not found.", version))
	case errors.Is(err, schemas.ErrSchemaNotFound):
		if id != "" {
			writeError(w, 404, 40403, fmt.Sprintf("Schema %s not found.", id))
		} else {
			writeError(w, 404, 40403, "Schema not found")
		}
	case errors.Is(err, schemas.ErrSubjectSoftDeleted):
		writeError(w, 404, 40404, fmt.Sprintf("Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject))
	case errors.Is(err, schemas.ErrSubjectNotSoftDeleted):
		writeError(w, 404, 40405, fmt.Sprintf("Subject '%s' was not deleted first before being permanently deleted", subject))
	case errors.Is(err, schemas.ErrVersionSoftDeleted):
		writeError(w, 404, 40406, fmt.Sprintf("Subject '%s' Version %s was soft deleted.Set permanent=true to delete permanently", subject, version))
	case errors.Is(err, schemas.ErrVersionNotSoftDeleted):
		writeError(w, 404, 40407, fmt.Sprintf("Subject '%s' Version %s was not deleted first before being permanently deleted", subject, version))
	case errors.Is(err, schemas.ErrConfigNotFound):
		writeError(w, 404, 40408, fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subject))
	case errors.Is(err, schemas.ErrIncompatible):
		var ie *schemas.IncompatibleError
		msgs := []string{err.Error()}
		if errors.As(err, &ie) {
			msgs = ie.Messages
		}
		writeError(w, 409, 409, fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q, details: [%s]", subject, strings.Join(msgs, "; ")))
	case errors.Is(err, schemas.ErrRefused):
		// 409 like an incompatible schema, so Confluent clients report it
		// the same way; 40901 tells the exchange's refusal apart.
		writeError(w, 409, ErrorCodeRefused, errorTextOf[*schemas.GuardError](err))
	case errors.Is(err, schemas.ErrInvalidSchema):
		writeError(w, 422, 42201, strings.TrimSpace("Invalid schema: "+strings.TrimPrefix(errorText(err), "invalid schema: ")))
	case errors.Is(err, schemas.ErrInvalidVersion):
		writeError(w, 422, 42202, fmt.Sprintf(`The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`, version))
	case errors.Is(err, schemas.ErrInvalidCompatibility):
		writeError(w, 422, 42203, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
	case errors.Is(err, schemas.ErrInvalidSubject):
		reason := err.Error()
		var ise *schemas.InvalidSubjectError
		if errors.As(err, &ise) {
			reason = ise.Reason
		}
		writeError(w, 422, 42208, "Invalid subject: "+reason)
	default:
		h.log.Error("schema registry request failed", "method", req.Method, "path", req.URL.Path, "subject", subject, "err", err)
		writeError(w, 500, 50001, "Error in the backend datastore")
	}
}

// ErrorCodeRefused is the error_code of a version refused because it
// would break an agreement in force (status 409, as Confluent's
// incompatible schema, whose error_code is 409).
const ErrorCodeRefused = 40901

// errorTextOf is the text of the first E in err's chain, err's own text
// when there is none.
func errorTextOf[E error](err error) string {
	var e E
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}

// errorText is the innermost *schemas.InvalidSchemaError's text when there
// is one (without the wrapping context, which repeats the subject).
func errorText(err error) string {
	var ise *schemas.InvalidSchemaError
	if errors.As(err, &ise) {
		return ise.Error()
	}
	return err.Error()
}

// parseVersion accepts "latest", -1 (latest) or 1..2^31-1.
func parseVersion(s string) (int, error) {
	if s == "latest" {
		return schemas.LatestVersion, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n == 0 || n < -1 || n > maxID {
		return 0, fmt.Errorf("%w: %q", schemas.ErrInvalidVersion, s)
	}
	return n, nil
}

func boolParam(req *http.Request, name string) bool {
	v, _ := strconv.ParseBool(req.URL.Query().Get(name))
	return v
}

// schemaRequest is the body of register, lookup and compatibility calls.
// Unknown fields (metadata, ruleSet, ...) are ignored, as Confluent does.
type schemaRequest struct {
	Schema     *string           `json:"schema"`
	SchemaType string            `json:"schemaType"`
	References []json.RawMessage `json:"references"`
}

// readBody enforces the content type and the size limit and decodes JSON
// into v. It writes the error response itself and returns false on error.
func readBody(w http.ResponseWriter, req *http.Request, v any) bool {
	if ct := req.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err != nil:
			writeError(w, http.StatusUnsupportedMediaType, 415, "HTTP 415 Unsupported Media Type")
			return false
		case mt == ContentTypeV1, mt == ContentTypeDefault, mt == ContentTypeJSON, mt == "application/octet-stream":
		default:
			writeError(w, http.StatusUnsupportedMediaType, 415, "HTTP 415 Unsupported Media Type: "+mt)
			return false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, 413, fmt.Sprintf("Request body larger than %d bytes", MaxRequestBytes))
			return false
		}
		writeError(w, http.StatusBadRequest, 400, "cannot read request body")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, 400, "Request body is not valid JSON: "+err.Error())
		return false
	}
	return true
}

// readSchema decodes a schemaRequest and checks what this registry
// supports (Avro, no references).
func (h *handler) readSchema(w http.ResponseWriter, req *http.Request) (string, bool) {
	var sr schemaRequest
	if !readBody(w, req, &sr) {
		return "", false
	}
	if sr.SchemaType != "" && !strings.EqualFold(sr.SchemaType, "AVRO") {
		writeError(w, 422, 42201, fmt.Sprintf("Invalid schema type %q: this registry accepts AVRO only", sr.SchemaType))
		return "", false
	}
	if len(sr.References) > 0 {
		writeError(w, 422, 42201, "Invalid schema: schema references are not supported")
		return "", false
	}
	if sr.Schema == nil || strings.TrimSpace(*sr.Schema) == "" {
		writeError(w, 422, 42201, "Invalid schema: empty schema")
		return "", false
	}
	return *sr.Schema, true
}

func (h *handler) listSubjects(w http.ResponseWriter, req *http.Request) {
	subjects, err := h.reg.ListSubjects(req.Context(), boolParam(req, "deleted"))
	if err != nil {
		h.fail(w, req, err, "", "", "")
		return
	}
	if prefix := req.URL.Query().Get("subjectPrefix"); prefix != "" {
		kept := subjects[:0]
		for _, s := range subjects {
			if strings.HasPrefix(s, prefix) {
				kept = append(kept, s)
			}
		}
		subjects = kept
	}
	writeJSON(w, http.StatusOK, subjects)
}

func (h *handler) listVersions(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	vs, err := h.reg.Store().Versions(req.Context(), subject, boolParam(req, "deleted"))
	if err != nil {
		h.fail(w, req, err, subject, "", "")
		return
	}
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	writeJSON(w, http.StatusOK, out)
}

// versionBody is Confluent's subject-version shape; schemaType is omitted
// for Avro.
type versionBody struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

func (h *handler) version(w http.ResponseWriter, req *http.Request) (schemas.SchemaVersion, bool) {
	subject, vs := req.PathValue("subject"), req.PathValue("version")
	n, err := parseVersion(vs)
	if err != nil {
		h.fail(w, req, err, subject, vs, "")
		return schemas.SchemaVersion{}, false
	}
	sv, err := h.reg.Version(req.Context(), subject, n, boolParam(req, "deleted"))
	if err != nil {
		h.fail(w, req, err, subject, vs, "")
		return schemas.SchemaVersion{}, false
	}
	return sv, true
}

func (h *handler) getVersion(w http.ResponseWriter, req *http.Request) {
	if sv, ok := h.version(w, req); ok {
		writeJSON(w, http.StatusOK, versionBody{Subject: sv.Subject, Version: sv.Version, ID: sv.ID, Schema: sv.Text})
	}
}

func (h *handler) getVersionSchema(w http.ResponseWriter, req *http.Request) {
	if sv, ok := h.version(w, req); ok {
		w.Header().Set("Content-Type", ContentTypeV1)
		_, _ = io.WriteString(w, sv.Text)
	}
}

func (h *handler) referencedBy(w http.ResponseWriter, req *http.Request) {
	if _, ok := h.version(w, req); ok {
		writeJSON(w, http.StatusOK, []int{}) // references are not supported, so none
	}
}

func (h *handler) register(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	schema, ok := h.readSchema(w, req)
	if !ok {
		return
	}
	id, err := h.reg.Register(req.Context(), subject, schema)
	if err != nil {
		h.fail(w, req, err, subject, "", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"id": id})
}

func (h *handler) lookup(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	schema, ok := h.readSchema(w, req)
	if !ok {
		return
	}
	sv, err := h.reg.Lookup(req.Context(), subject, schema, boolParam(req, "deleted"))
	if err != nil {
		h.fail(w, req, err, subject, "", "")
		return
	}
	writeJSON(w, http.StatusOK, versionBody{Subject: sv.Subject, Version: sv.Version, ID: sv.ID, Schema: sv.Text})
}

func (h *handler) deleteSubject(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	deleted, err := h.reg.DeleteSubject(req.Context(), subject, boolParam(req, "permanent"))
	if err != nil {
		h.fail(w, req, err, subject, "", "")
		return
	}
	writeJSON(w, http.StatusOK, deleted)
}

func (h *handler) deleteVersion(w http.ResponseWriter, req *http.Request) {
	subject, vs := req.PathValue("subject"), req.PathValue("version")
	n, err := parseVersion(vs)
	if err != nil {
		h.fail(w, req, err, subject, vs, "")
		return
	}
	v, err := h.reg.DeleteVersion(req.Context(), subject, n, boolParam(req, "permanent"))
	if err != nil {
		h.fail(w, req, err, subject, vs, "")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) schemaID(w http.ResponseWriter, req *http.Request) (*schemas.Schema, bool) {
	ids := req.PathValue("id")
	id, err := strconv.Atoi(ids)
	if err != nil || id < 1 || id > maxID {
		h.fail(w, req, schemas.ErrSchemaNotFound, "", "", ids)
		return nil, false
	}
	s, err := h.reg.SchemaByID(req.Context(), id)
	if err != nil {
		h.fail(w, req, err, "", "", ids)
		return nil, false
	}
	return s, true
}

func (h *handler) schemaByID(w http.ResponseWriter, req *http.Request) {
	if s, ok := h.schemaID(w, req); ok {
		writeJSON(w, http.StatusOK, map[string]string{"schema": s.Text})
	}
}

func (h *handler) rawSchemaByID(w http.ResponseWriter, req *http.Request) {
	if s, ok := h.schemaID(w, req); ok {
		w.Header().Set("Content-Type", ContentTypeV1)
		_, _ = io.WriteString(w, s.Text)
	}
}

// subjectVersionBody is one entry of GET /schemas/ids/{id}/versions.
type subjectVersionBody struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func (h *handler) usesOf(w http.ResponseWriter, req *http.Request) ([]schemas.SubjectVersion, bool) {
	s, ok := h.schemaID(w, req)
	if !ok {
		return nil, false
	}
	vs, err := h.reg.VersionsBySchemaID(req.Context(), s.ID, boolParam(req, "deleted"))
	if err != nil {
		h.fail(w, req, err, "", "", req.PathValue("id"))
		return nil, false
	}
	return vs, true
}

func (h *handler) versionsByID(w http.ResponseWriter, req *http.Request) {
	vs, ok := h.usesOf(w, req)
	if !ok {
		return
	}
	out := make([]subjectVersionBody, len(vs))
	for i, v := range vs {
		out[i] = subjectVersionBody{Subject: v.Subject, Version: v.Version}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) subjectsByID(w http.ResponseWriter, req *http.Request) {
	vs, ok := h.usesOf(w, req)
	if !ok {
		return
	}
	out := []string{}
	for _, v := range vs {
		if len(out) == 0 || out[len(out)-1] != v.Subject {
			out = append(out, v.Subject)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) compatibility(w http.ResponseWriter, req *http.Request) {
	subject, vs := req.PathValue("subject"), req.PathValue("version")
	version := schemas.AllVersions
	if vs != "" {
		n, err := parseVersion(vs)
		if err != nil {
			h.fail(w, req, err, subject, vs, "")
			return
		}
		version = n
	}
	schema, ok := h.readSchema(w, req)
	if !ok {
		return
	}
	res, err := h.reg.CheckCompatibility(req.Context(), subject, version, schema)
	if err != nil {
		h.fail(w, req, err, subject, vs, "")
		return
	}
	body := map[string]any{"is_compatible": res.Compatible}
	if boolParam(req, "verbose") {
		msgs := res.Messages
		if msgs == nil {
			msgs = []string{}
		}
		body["messages"] = msgs
	}
	writeJSON(w, http.StatusOK, body)
}

func (h *handler) getConfig(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	var level schemas.Compatibility
	var err error
	if subject == "" || boolParam(req, "defaultToGlobal") {
		level, err = h.reg.Config(req.Context(), subject)
	} else {
		level, err = h.reg.SubjectConfig(req.Context(), subject)
	}
	if err != nil {
		h.fail(w, req, err, subject, "", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"compatibilityLevel": string(level)})
}

func (h *handler) putConfig(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if !readBody(w, req, &body) {
		return
	}
	level, err := schemas.ParseCompatibility(body.Compatibility)
	if err == nil {
		err = h.reg.SetConfig(req.Context(), subject, level)
	}
	if err != nil {
		h.fail(w, req, err, subject, "", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"compatibility": string(level)})
}

func (h *handler) deleteConfig(w http.ResponseWriter, req *http.Request) {
	subject := req.PathValue("subject")
	prev, err := h.reg.DeleteConfig(req.Context(), subject)
	if errors.Is(err, schemas.ErrConfigNotFound) && subject == "" {
		// Deleting the unset global level: report the default in force.
		prev, err = h.reg.Config(req.Context(), "")
	}
	if err != nil {
		h.fail(w, req, err, subject, "", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"compatibilityLevel": string(prev)})
}
