package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// How client commands (publish, consume, agreement validate) authenticate
// to the exchange's HTTP API: every path but /healthz and /readyz needs a
// principal.

// tokenUsage is the --token flag's help.
const tokenUsage = "bearer token `FILE` for the exchange's HTTP API (the registry); default: in a directory where exchange dev runs, its token (" +
	devDataDir + "/" + devissuer.CredentialsDir + "/…)"

// apiAuth is how a client command authenticates: a bearer token file, or
// HTTP Basic user info (user:secret, as basic.auth.user.info carries it).
type apiAuth struct {
	tokenFile string
	userInfo  string
}

// devAPIAuth is exchange dev's token of agency when the current directory
// holds exchange dev's credentials (the default data directory), else the
// operator's token there ("" agency: no agency is the natural caller); ok
// is false when there are none.
func devAPIAuth(agency string) (apiAuth, bool) {
	dir := devCredentialsDir(devDataDir)
	var candidates []string
	if agency != "" {
		candidates = append(candidates, devissuer.AgencyToken(dir, agency))
	}
	candidates = append(candidates, filepath.Join(dir, devissuer.OperatorFile))
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return apiAuth{tokenFile: c}, true
		}
	}
	return apiAuth{}, false
}

// orDev is a, or when a names no credentials exchange dev's of agency,
// noted on stderr; with neither, requests go without credentials and the
// server's 401 says what is missing.
func (a apiAuth) orDev(agency string, stderr io.Writer) apiAuth {
	if a.tokenFile != "" || a.userInfo != "" {
		return a
	}
	d, ok := devAPIAuth(agency)
	if ok {
		fmt.Fprintf(stderr, "calling the exchange with %s (exchange dev's credentials; --token FILE to choose)\n", d.tokenFile)
	}
	return d
}

// client is an HTTP client that sends a's credentials with every request;
// nil (http.DefaultClient) when a has none.
func (a apiAuth) client() (*http.Client, error) {
	var header string
	switch {
	case a.tokenFile != "":
		tok, err := os.ReadFile(a.tokenFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--token %s: no such file", a.tokenFile)
		}
		if err != nil {
			return nil, fmt.Errorf("--token: %w", err)
		}
		t := strings.TrimSpace(string(tok))
		if t == "" || strings.ContainsAny(t, " \r\n\t") {
			return nil, fmt.Errorf("--token %s: the file does not hold one token", a.tokenFile)
		}
		header = "Bearer " + t
	case a.userInfo != "":
		header = "Basic " + base64.StdEncoding.EncodeToString([]byte(a.userInfo))
	default:
		return nil, nil
	}
	return registryhttp.AuthClient(header), nil
}

// withProperties fills a from a client properties file's registry user info
// (basic.auth.user.info) when a names no credentials of its own: the one
// file then serves Kafka and the registry, as it does for Confluent clients.
func (a apiAuth) withProperties(file string) (apiAuth, error) {
	if file == "" || a.tokenFile != "" || a.userInfo != "" {
		return a, nil
	}
	info, err := kafkaclient.RegistryUserInfo(file)
	if err != nil {
		return a, fmt.Errorf("--credentials: %w", err)
	}
	a.userInfo = info
	return a, nil
}
