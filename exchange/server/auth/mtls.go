package auth

import (
	"crypto/x509"
	"fmt"
	"slices"
)

// CertMapping maps verified TLS client certificates to agencies. The TLS
// handshake already refused certificates of an unknown CA
// (http.tls.client_ca); this only names the agency.
type CertMapping struct {
	// Names maps a certificate name (subject CN, a DNS SAN or a URI SAN)
	// to an agency id. A certificate whose names are not listed is the
	// agency its CN names, when AgenciesByCN is true.
	Names map[string]string
	// AgenciesByCN lets a certificate's subject CN be the agency id itself.
	AgenciesByCN bool
}

// certNames are the names of a certificate, in the order they are
// matched: the subject CN, then the DNS SANs, then the URI SANs.
func certNames(c *x509.Certificate) []string {
	var names []string
	if c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	names = append(names, c.DNSNames...)
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	return names
}

// Principal is the agency of a verified client certificate: the first of
// its names in Names, else its CN (AgenciesByCN). The error is an *Error
// with status 403: the certificate is genuine, but names no agency.
func (m CertMapping) Principal(c *x509.Certificate) (*Principal, error) {
	names := certNames(c)
	for _, n := range names {
		if agency, ok := m.Names[n]; ok {
			return AgencyPrincipal(MethodMTLS, n, agency), nil
		}
	}
	if m.AgenciesByCN && c.Subject.CommonName != "" {
		return AgencyPrincipal(MethodMTLS, c.Subject.CommonName, c.Subject.CommonName), nil
	}
	return nil, Forbidden("agency", fmt.Sprintf("the client certificate (names %s) maps to no agency (auth.mtls.agencies)", quoteAll(slices.Clip(names))))
}

func quoteAll(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%q", n)
	}
	return out
}
