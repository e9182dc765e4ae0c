// TLS for the HTTP server: the certificate is read again when its files
// change, client certificates are verified against a CA when one is given.

package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// TLSFiles are the server's TLS files (http.tls).
type TLSFiles struct {
	CertFile string // PEM certificate chain; required
	KeyFile  string // PEM private key; required
	// ClientCA, when set, is a PEM bundle: clients may present a
	// certificate, which must chain to it (else the handshake fails), and
	// that certificate authenticates them.
	ClientCA string
}

// SetTLS makes Serve (and ServeMetrics) serve TLS with cfg; call it before
// Serve.
func (s *Server) SetTLS(cfg *tls.Config) { s.tls = cfg }

// TLSConfig is a TLS 1.2+ server configuration for f. The certificate and
// key are read now (an error names the file) and again on a handshake when
// either file's modification time changed (checked at most once a second),
// so a renewed certificate is served without a restart; a renewal that
// does not load keeps the previous certificate.
func TLSConfig(f TLSFiles) (*tls.Config, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("http.tls: cert_file and key_file are both required")
	}
	r := &certReloader{certFile: f.CertFile, keyFile: f.KeyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get}
	if f.ClientCA != "" {
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("http.tls.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http.tls.client_ca %s: no PEM certificate in it", f.ClientCA)
		}
		cfg.ClientCAs = pool
		// Bearer and Basic clients present no certificate; a certificate
		// that is presented must chain to the CA.
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// certReloader serves the certificate of two files, reloading on change.
type certReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	mtimes  [2]time.Time
	checked time.Time
}

func (r *certReloader) mtimes2() ([2]time.Time, error) {
	var m [2]time.Time
	for i, p := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(p)
		if err != nil {
			return m, fmt.Errorf("http.tls: %w", err)
		}
		m[i] = st.ModTime()
	}
	return m, nil
}

func (r *certReloader) load() error {
	m, err := r.mtimes2()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("http.tls: loading %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.mtimes = &cert, m
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= time.Second {
		r.checked = time.Now()
		if m, err := r.mtimes2(); err == nil && m != r.mtimes {
			// A half-written renewal fails to load; the next check retries.
			_ = r.load()
		}
	}
	return r.cert, nil
}
