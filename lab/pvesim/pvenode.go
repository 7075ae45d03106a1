package pvesim

import (
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"path/filepath"
	"strings"
)

// Pvenode is `pvenode cert info [--output-format json]` (docs/pve.md §5).
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
	// openssl's order for PVE's node certificates: loopback IPs, names, then the node IP.
	var san, nodeIPs []string
	for _, ip := range cert.IPAddresses {
		switch {
		case ip.To4() == nil:
			san = append(san, expandIPv6(ip))
		case ip.IsLoopback():
			san = append(san, ip.String())
		default:
			nodeIPs = append(nodeIPs, ip.String())
		}
	}
	san = append(append(san, cert.DNSNames...), nodeIPs...)
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

var shortNames = map[string]string{"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.6": "C"}

// opensslName is X509_NAME_oneline's "/OU=.../O=.../CN=..." form, in the certificate's order.
func opensslName(name pkix.Name) string {
	var b strings.Builder
	for _, attr := range name.Names {
		short := shortNames[attr.Type.String()]
		if short == "" {
			short = attr.Type.String()
		}
		fmt.Fprintf(&b, "/%s=%v", short, attr.Value)
	}
	return b.String()
}

// expandIPv6 writes an IPv6 address as openssl does in a SAN: eight 4-digit groups.
func expandIPv6(ip net.IP) string {
	ip16 := ip.To16()
	groups := make([]string, 8)
	for i := range groups {
		groups[i] = fmt.Sprintf("%02X%02X", ip16[2*i], ip16[2*i+1])
	}
	return strings.Join(groups, ":")
}
