// Package catalogapi serves the catalog of datasets and the access
// requests agencies file against it (issue 13):
//
//	GET  /api/v1/catalog                             every dataset of the plan in force
//	GET  /api/v1/catalog/{dataset}                   one dataset
//	POST /api/v1/catalog/{dataset}/requests          a consumer steward files a request
//	GET  /api/v1/catalog/requests                    requests the caller may see
//	GET  /api/v1/catalog/requests/{id}               one request
//	POST /api/v1/catalog/requests/{id}/decision      a provider steward accepts or rejects
//
// The catalog describes datasets from their contracts (owner, description,
// field classifications, quality rules, freshness SLA) and the latest
// schema of their ingress subject: policy, never a record value. Any
// authenticated principal reads it.
//
// A request names the fields wanted, the purpose and the legal basis; the
// requesting steward's agency is the consumer. Accepting it proposes an
// agreement through a Proposer (package exchange/stewardship in the
// assembled exchange; StoreProposer records the document directly): the
// requested fields only, each with the default transform of its
// classification (DefaultTransform: sensitive fields pseudonymised, or
// redacted where the schema type cannot be), which then goes through
// approval like any other agreement. Filing and deciding each send a notice
// to both agencies on notices.<agency>.
//
// Usage:
//
//	h := catalogapi.New(catalogapi.Config{Plan: holder.Load, Agencies: agencies, Requests: db,
//		Documents: db, Proposer: catalogapi.StoreProposer{Docs: db}, Notify: notifier.Send})
//	h.Mount(srv) // srv: anything with Handle(pattern, http.Handler)
package catalogapi
