package pvesim

import (
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"path/filepath"
	"strings"
)

// Pvenode is `pvenode cert info [--output-format json]` (§5).
func (e *Env) Pvenode(args []string) int {
	if len(args) < 2 || args[0] != "cert" || args[1] != "info" {
		e.errf("pvesim: only 'pvenode cert info' is implemented\n")
		return exitDie
	}
	format := "text"
	for i := 2; i < len(args); i++ {
		arg := strings.TrimLeft(args[i], "-")
		if arg == "output-format" && i+1 < len(args) {
			format = args[i+1]
			i++
		} else if strings.HasPrefix(arg, "output-format=") {
			format = strings.TrimPrefix(arg, "output-format=")
		}
	}
	if err := e.checkPmxcfs(); err != nil {
		return e.die(exitDie, err)
	}
	node, err := e.NodeName()
	if err != nil {
		return e.die(exitDie, err)
	}
	files := []string{
		filepath.Join(e.pveTree(), rootCACert),
		filepath.Join(e.pveTree(), "nodes", node, nodeCertName),
		filepath.Join(e.pveTree(), "nodes", node, customCertName),
	}
	list := []any{}
	for _, file := range files {
		cert, raw, err := readCert(file)
		if err != nil {
			continue
		}
		list = append(list, certInfo(filepath.Base(file), cert, raw))
	}
	return e.printFormatted(list, format)
}

func certInfo(filename string, cert *x509.Certificate, pemData []byte) map[string]any {
	var san []string
	san = append(san, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		san = append(san, ip.String())
	}
	keyType, bits := "unknown", 0
	if key, ok := cert.PublicKey.(*rsa.PublicKey); ok {
		keyType, bits = "rsaEncryption", key.N.BitLen()
	}
	info := map[string]any{
		"filename":        filename,
		"fingerprint":     Fingerprint(cert.Raw),
		"subject":         opensslName(cert.Subject),
		"issuer":          opensslName(cert.Issuer),
		"notbefore":       cert.NotBefore.Unix(),
		"notafter":        cert.NotAfter.Unix(),
		"public-key-type": keyType,
		"public-key-bits": bits,
		"pem":             string(pemData),
	}
	if len(san) > 0 {
		info["san"] = san
	}
	return info
}

// opensslName is X509_NAME_oneline's "/CN=.../OU=.../O=..." form, in the order PVE creates.
func opensslName(name pkix.Name) string {
	var b strings.Builder
	if name.CommonName != "" {
		b.WriteString("/CN=" + name.CommonName)
	}
	for _, ou := range name.OrganizationalUnit {
		b.WriteString("/OU=" + ou)
	}
	for _, o := range name.Organization {
		b.WriteString("/O=" + o)
	}
	return b.String()
}
