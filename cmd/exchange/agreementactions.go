package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// The steward actions of `exchange agreement` (issue 13): thin clients of
// POST /api/v1/agreements…, authenticated with the steward's token.

const agreementActionsUsage = `
  exchange agreement propose [--server URL] [--token FILE] FILE
  exchange agreement approve [--server URL] [--token FILE] --content-hash HASH ID
  exchange agreement suspend|revoke [--server URL] [--token FILE] --reason TEXT ID
  exchange agreement resume [--server URL] [--token FILE] ID

propose sends the terms of one agreement (no status, approvals or history:
the lifecycle is made of steward actions). approve approves the terms with
HASH, the content_hash you reviewed (without --content-hash it prints the
agreement's current terms and hash). suspend, resume and revoke move an
agreement; suspend and revoke need a reason. Each needs a steward's token
(exchange dev writes them under ` + devDataDir + `/credentials/stewards/).
`

// actionTargets maps the transition subcommands to the status they ask for.
var actionTargets = map[string]string{"suspend": "suspended", "resume": "active", "revoke": "revoked"}

// agreementAction runs propose, approve, suspend, resume or revoke.
func agreementAction(ctx context.Context, stdout, stderr io.Writer, cmd string, args []string) error {
	fs := flag.NewFlagSet("agreement "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, "usage:"+agreementActionsUsage+"\nflags:\n"); fs.PrintDefaults() }
	server := fs.String("server", "http://127.0.0.1:8080", "the exchange's base URL")
	hash := fs.String("content-hash", "", "approve: the content_hash of the terms you reviewed")
	reason := fs.String("reason", "", "suspend, resume, revoke: why (recorded and sent to both parties)")
	var creds apiAuth
	fs.StringVar(&creds.tokenFile, "token", "", "a steward's bearer token `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{2}
	}
	hc, err := creds.orDev("", stderr).client()
	if err != nil {
		return err
	}
	c := apiClient{base: strings.TrimRight(*server, "/"), hc: hc}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	arg := fs.Arg(0)
	var path string
	var body []byte
	contentType := "application/json"
	switch cmd {
	case "propose":
		if body, err = os.ReadFile(arg); err != nil {
			return fmt.Errorf("reading the terms: %w", err)
		}
		path, contentType = "/api/v1/agreements", "application/yaml"
	case "approve":
		if *hash == "" {
			return showForApproval(ctx, stdout, stderr, c, arg)
		}
		path, body = "/api/v1/agreements/"+url.PathEscape(arg)+"/approve", mustJSON(map[string]string{"content_hash": *hash})
	default:
		path, body = "/api/v1/agreements/"+url.PathEscape(arg)+"/transitions", mustJSON(map[string]string{"to": actionTargets[cmd], "reason": *reason})
	}
	var v agreementView
	if err := c.call(ctx, http.MethodPost, path, contentType, body, &v); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "agreement %s: %s (terms %s, %d approval(s) this round)\n", v.ID, v.Status, v.ContentHash, len(v.Approvals))
	return nil
}

// agreementView is the part of the API's agreement the CLI prints.
type agreementView struct {
	ID          string `json:"id"`
	Provider    string `json:"provider"`
	Consumer    string `json:"consumer"`
	Status      string `json:"status"`
	ContentHash string `json:"content_hash"`
	Purpose     string `json:"purpose"`
	LegalBasis  string `json:"legal_basis"`
	Approvals   []struct {
		Agency  string `json:"agency"`
		Steward string `json:"steward"`
	} `json:"approvals"`
}

// showForApproval prints what approve would approve, and asks for the hash:
// an approval is of terms a steward reviewed, not of whatever is current.
func showForApproval(ctx context.Context, stdout, stderr io.Writer, c apiClient, id string) error {
	var v agreementView
	if err := c.call(ctx, http.MethodGet, "/api/v1/agreements/"+url.PathEscape(id), "", nil, &v); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "agreement %s: %s → %s, %s\npurpose: %s\nlegal basis: %s\ncontent hash: %s\n",
		v.ID, v.Provider, v.Consumer, v.Status, strings.TrimSpace(v.Purpose), v.LegalBasis, v.ContentHash)
	fmt.Fprintf(stderr, "review the terms (GET /api/v1/agreements/%s), then: exchange agreement approve --content-hash %s %s\n", id, v.ContentHash, id)
	return exitError{2}
}

func mustJSON(v map[string]string) []byte {
	b, _ := json.Marshal(v) // strings only: cannot fail
	return b
}

// apiClient calls the exchange's JSON API.
type apiClient struct {
	base string
	hc   *http.Client
}

// call sends body (nil: none) and decodes a 200 answer into out; any other
// status is an error carrying the server's message.
func (c apiClient) call(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}
