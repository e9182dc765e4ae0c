package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// The surfaces of a running exchange, as the dev banner and the --help of
// dev and serve list them: a person who starts the exchange learns from
// its own output where everything is (README "A five-minute tour").

// devSecretKeyName is exchange dev's pseudonym key in its data directory
// (beside devLedgerFile and devSigningKeyFile).
const devSecretKeyName = "secret.key"

// httpSurfaces lists the HTTP surfaces under base (http://host:port): the
// index at /, then app.Surfaces with a usable example each, then health
// and metrics.
func httpSurfaces(base string) string {
	var b strings.Builder
	row := func(name, value string) { fmt.Fprintf(&b, "  %-18s %s\n", name, value) }
	row("Index", base+"/   (every surface below, as JSON; HTML in a browser)")
	examples := map[string]string{
		"/registry":            "Schema registry",
		"/api/v1/audit":        "Audit API",
		"/api/v1/lineage":      "Lineage API",
		"/api/v1/openapi.json": "OpenAPI",
	}
	queries := map[string]string{
		"/api/v1/audit":   "?dataset=health.immunisations&decision=quarantined",
		"/api/v1/lineage": "?delivery_id=ID",
	}
	for _, s := range app.Surfaces {
		name, ok := examples[s.Path]
		if !ok {
			name = s.Path
		}
		row(name, base+s.Path+queries[s.Path])
	}
	row("Health / metrics", base+"/healthz  /readyz  /metrics")
	return b.String()
}

// devLedger lists where exchange dev keeps the ledger and its keys: the
// URL and public key `exchange audit verify` takes.
func devLedger(dataDir string) string {
	var b strings.Builder
	row := func(name, value string) { fmt.Fprintf(&b, "  %-18s %s\n", name, value) }
	row("Ledger (SQLite)", "sqlite:"+filepath.ToSlash(filepath.Join(dataDir, devLedgerFile))+"   (--database of exchange audit verify|query|export)")
	row("Ledger public key", filepath.Join(dataDir, devSigningKeyFile+".pub")+"   (--public-key of exchange audit verify)")
	row("Dev keys", dataDir+string(filepath.Separator)+"   ("+devSecretKeyName+": pseudonym key; "+devSigningKeyFile+": ledger signing key; dev only)")
	row("HTTP tokens", devCredentialsDir(dataDir)+string(filepath.Separator)+"   (agencies/<agency>.token, stewards/<steward>.token, auditor.token, operator.token; every path but /healthz and /readyz needs one)")
	return b.String()
}

// devCurl is the banner's example of a call with a dev token.
func devCurl(dataDir, base string) string {
	token := filepath.ToSlash(filepath.Join(devCredentialsDir(dataDir), devissuer.AuditorFile))
	return fmt.Sprintf(`curl -H "Authorization: Bearer $(cat %s)" %s/api/v1/audit`, token, base)
}

// devIngestCurl is the banner's example of HTTP ingest: the dataset's
// sample records posted as its owner's dev token.
func devIngestCurl(dataDir, base, contracts, dataset, owner string) string {
	token := filepath.ToSlash(devissuer.AgencyToken(devCredentialsDir(dataDir), owner))
	file := filepath.ToSlash(filepath.Join(contracts, "records", dataset+".jsonl"))
	return fmt.Sprintf(`sed '1s/^/[/; $!s/$/,/; $s/$/]/' %s | curl -H "Authorization: Bearer $(cat %s)" -H "Content-Type: application/json" --data-binary @- %s/api/v1/datasets/%s/records`,
		file, token, base, dataset)
}

// devHelp follows the flags in `exchange dev --help`.
func devHelp() string {
	return "\nWhat it serves (with the default addresses):\n" +
		"  Kafka (embedded)   127.0.0.1:9092\n" +
		httpSurfaces("http://127.0.0.1:8080") + devLedger(devDataDir) +
		"\nIn another terminal:\n" +
		"  exchange publish --dataset health.immunisations --file deploy/examples/records/health.immunisations.jsonl --stamp-now administered_at\n" +
		"  exchange consume --agreement health-to-social-2026-001 --from-beginning\n" +
		"  exchange audit verify\n" +
		"  " + devCurl(devDataDir, "http://127.0.0.1:8080") + "\n" +
		"Records that flow are summarised on this terminal every --activity-interval.\n"
}

// serveHelp follows the flags in `exchange serve --help`.
func serveHelp() string {
	return "\nWhat it serves on http.addr (HOST):\n" + httpSurfaces("http://HOST") +
		"\nEvery path but /healthz and /readyz needs credentials: a bearer token of\n" +
		"auth.oidc, a Basic user of auth.basic.users_file, or a client certificate of\n" +
		"http.tls.client_ca; /metrics its own token (http.metrics_token_file) or\n" +
		"address (http.metrics_addr). Without any, serve refuses to start (--insecure).\n" +
		"\nThe ledger is in database.url (give it to exchange audit verify --database);\n" +
		"its checkpoints are signed with secrets.signing_key_file, whose public key is\n" +
		"that file + .pub (exchange audit verify --public-key).\n" +
		"Records that flow are summarised in the log every --activity-interval.\n"
}

// usageWith makes fs's --help print its flags, then more.
func usageWith(fs *flag.FlagSet, more func() string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [flags]\n\n", fs.Name())
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), more())
	}
}
