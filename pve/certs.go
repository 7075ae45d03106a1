package pve

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/quorate/quorate/remote"
)

// CertInfo is one certificate of `pvenode cert info --output-format json`.
type CertInfo struct {
	Filename    string
	Fingerprint string
	Subject     string
	Issuer      string
	NotAfter    int64 // Unix seconds
	SAN         []string
}

type certInfoJSON struct {
	Filename    jsonString   `json:"filename"`
	Fingerprint jsonString   `json:"fingerprint"`
	Subject     jsonString   `json:"subject"`
	Issuer      jsonString   `json:"issuer"`
	NotAfter    jsonInt      `json:"notafter"`
	SAN         []jsonString `json:"san"`
}

// ParseCertInfo reads `pvenode cert info --output-format json`.
func ParseCertInfo(out string) ([]CertInfo, error) {
	const format = "pvenode cert info"
	body, ok := jsonStart(out)
	if !ok {
		return nil, &ParseError{Format: format, Reason: "no JSON array in output"}
	}
	var raw []certInfoJSON
	if err := json.NewDecoder(strings.NewReader(body)).Decode(&raw); err != nil {
		return nil, &ParseError{Format: format, Reason: err.Error()}
	}
	certs := make([]CertInfo, 0, len(raw))
	for _, r := range raw {
		c := CertInfo{Filename: string(r.Filename), Fingerprint: string(r.Fingerprint), Subject: string(r.Subject), Issuer: string(r.Issuer), NotAfter: int64(r.NotAfter)}
		for _, s := range r.SAN {
			c.SAN = append(c.SAN, string(s))
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// ServedFingerprint picks the certificate pveproxy serves: pveproxy-ssl.pem when present (a
// custom or ACME certificate), else pve-ssl.pem (docs/pve.md §5). --fingerprint must match
// that one.
func ServedFingerprint(certs []CertInfo) (string, error) {
	for _, want := range []string{"pveproxy-ssl.pem", "pve-ssl.pem"} {
		for _, c := range certs {
			if path.Base(c.Filename) == want {
				fp, err := NormalizeFingerprint(c.Fingerprint)
				if err != nil {
					return "", fmt.Errorf("%s: %w", c.Filename, err)
				}
				return fp, nil
			}
		}
	}
	return "", fmt.Errorf("neither pveproxy-ssl.pem nor pve-ssl.pem in %d certificates", len(certs))
}

// ParseOpenSSLFingerprint reads `openssl x509 -noout -fingerprint -sha256`, which prints
// "sha256 Fingerprint=AA:..." (or "SHA256 Fingerprint=" depending on how the digest was named).
func ParseOpenSSLFingerprint(out string) (string, error) {
	for i, l := range splitLines(out) {
		_, fp, ok := strings.Cut(strings.TrimSpace(l), "Fingerprint=")
		if !ok {
			continue
		}
		norm, err := NormalizeFingerprint(fp)
		if err != nil {
			return "", &ParseError{Format: "openssl x509 -fingerprint", LineNo: i + 1, Line: l, Reason: err.Error()}
		}
		return norm, nil
	}
	return "", &ParseError{Format: "openssl x509 -fingerprint", Reason: "no Fingerprint= line"}
}

// opensslFingerprintScript hashes the certificate pveproxy serves, by the same preference.
const opensslFingerprintScript = `cd / && for f in /etc/pve/local/pveproxy-ssl.pem /etc/pve/local/pve-ssl.pem; do if [ -f "$f" ]; then exec openssl x509 -in "$f" -noout -fingerprint -sha256; fi; done; echo 'no pveproxy-ssl.pem or pve-ssl.pem in /etc/pve/local' >&2; exit 1`

// CertFingerprint returns the SHA-256 fingerprint of the certificate this node's pveproxy
// serves, in the form `pvecm add --fingerprint` takes. It asks pvenode first and falls back to
// openssl on the files. Joins regenerate the joiner's certificate: do not cache across one.
func (n *Node) CertFingerprint(ctx context.Context) (string, error) {
	res, err := n.run(ctx, remote.Command{Line: "cd / && pvenode cert info --output-format json"}, n.timeouts.Query)
	if err != nil {
		return "", n.wrap("certificate fingerprint", err)
	}
	var firstErr error
	if res.ExitCode == 0 {
		certs, perr := ParseCertInfo(string(res.Stdout))
		if perr == nil {
			fp, serr := ServedFingerprint(certs)
			if serr == nil {
				return fp, nil
			}
			perr = serr
		}
		firstErr = perr
	} else {
		firstErr = fmt.Errorf("pvenode exit status %d: %s", res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / "))
	}
	res, err = n.run(ctx, remote.Command{Line: opensslFingerprintScript}, n.timeouts.Query)
	if err != nil {
		return "", n.wrap("certificate fingerprint", err)
	}
	if res.ExitCode != 0 {
		return "", n.wrap("certificate fingerprint", fmt.Errorf("%v; openssl: exit status %d: %s", firstErr, res.ExitCode, strings.Join(lastLines(string(res.Stderr), 2), " / ")))
	}
	fp, err := ParseOpenSSLFingerprint(string(res.Stdout))
	return fp, n.wrap("certificate fingerprint", err)
}
