// Package registryhttp is the HTTP face of the schema registry: the
// Confluent-compatible REST handler the exchange mounts at /registry, and
// the client that reads a subject's latest version from any
// Confluent-compatible registry (what `exchange publish` and
// `exchange agreement validate --registry` use).
//
// It is apart from package schemas so that schemas stays free of net/http
// and the pure policy package may import it.
//
//	reg := schemas.NewRegistry(store, schemas.WithLogger(logger))
//	mux.Handle("/registry/", http.StripPrefix("/registry", registryhttp.Handler(reg, logger)))
//
//	v, err := registryhttp.FetchLatest(ctx, nil, "http://127.0.0.1:8080/registry", subject)
//
// Kafka clients then use the exchange as their registry unmodified:
// schema.registry.url=http://HOST:PORT/registry. Responses, status codes
// and error codes follow Confluent's (see Handler); errors carry
// Confluent's body {"error_code": ..., "message": ...}.
package registryhttp
