package pvesim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Certificate files of a node, relative to the /etc/pve tree.
const (
	rootCACert     = "pve-root-ca.pem"
	rootCAKey      = "priv/pve-root-ca.key"
	nodeCertName   = "pve-ssl.pem"
	nodeKeyName    = "pve-ssl.key"
	customCertName = "pveproxy-ssl.pem"
	customKeyName  = "pveproxy-ssl.key"
)

var nameOIDs = map[string]asn1.ObjectIdentifier{"CN": {2, 5, 4, 3}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11}}

// orderedName encodes a distinguished name in the given order, as openssl -subj does
// (Go's pkix.Name would reorder it).
func orderedName(parts [][2]string) []byte {
	var seq pkix.RDNSequence
	for _, part := range parts {
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: nameOIDs[part[0]], Value: part[1]}})
	}
	der, _ := asn1.Marshal(seq)
	return der
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
}

func writePEM(path, kind string, der []byte, perm os.FileMode) error {
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), perm)
}

// ensureClusterCA creates the cluster CA in tree (an /etc/pve backing directory) unless it
// exists, like gen_pveca_cert.
func ensureClusterCA(tree string) error {
	if fileExists(filepath.Join(tree, rootCACert)) && fileExists(filepath.Join(tree, rootCAKey)) {
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return fmt.Errorf("CA serial: %w", err)
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            orderedName([][2]string{{"CN", "Proxmox Virtual Environment"}, {"OU", fmt.Sprintf("%016x", serial.Uint64())}, {"O", "PVE Cluster Manager CA"}}),
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", err)
	}
	if err := writePEM(filepath.Join(tree, rootCAKey), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), 0o600); err != nil {
		return err
	}
	return writePEM(filepath.Join(tree, rootCACert), "CERTIFICATE", der, 0o640)
}

func loadCA(tree string) (*x509.Certificate, *rsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(tree, rootCACert))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(tree, rootCAKey))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA key: %w", err)
	}
	certBlock, _ := pem.Decode(certPEM)
	keyBlock, _ := pem.Decode(keyPEM)
	if certBlock == nil || keyBlock == nil {
		return nil, nil, errors.New("CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := x509.ParsePKCS1PrivateKey(keyBlock.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA key: %w", err)
	}
	return cert, key, nil
}

// genNodeCert writes nodes/<node>/pve-ssl.{key,pem} signed by the cluster CA, as
// gen_pve_ssl_cert does; an existing key is kept, as PVE does.
func genNodeCert(tree, node, ip string, force bool) error {
	dir := filepath.Join(tree, "nodes", node)
	certPath := filepath.Join(dir, nodeCertName)
	keyPath := filepath.Join(dir, nodeKeyName)
	if !force && fileExists(certPath) && fileExists(keyPath) {
		return nil
	}
	if err := ensureClusterCA(tree); err != nil {
		return err
	}
	caCert, caKey, err := loadCA(tree)
	if err != nil {
		return err
	}
	var key *rsa.PrivateKey
	if raw, err := os.ReadFile(keyPath); err == nil {
		if block, _ := pem.Decode(raw); block != nil {
			key, _ = x509.ParsePKCS1PrivateKey(block.Bytes)
		}
	}
	// Like gen_pve_ssl_key: an existing key is kept, even when the certificate is forced.
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return fmt.Errorf("generate node key: %w", err)
		}
	}
	serial, err := newSerial()
	if err != nil {
		return fmt.Errorf("node certificate serial: %w", err)
	}
	now := time.Now()
	fqdn := node + ".lab.test"
	template := &x509.Certificate{
		SerialNumber: serial,
		RawSubject:   orderedName([][2]string{{"OU", "PVE Cluster Node"}, {"O", "Proxmox Virtual Environment"}, {"CN", fqdn}}),
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", node, fqdn},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	if parsed := net.ParseIP(ip); parsed != nil {
		template.IPAddresses = append(template.IPAddresses, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, template, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("create node certificate: %w", err)
	}
	if err := writePEM(keyPath, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), 0o600); err != nil {
		return err
	}
	return writePEM(certPath, "CERTIFICATE", der, 0o640)
}

// servedCertFiles is the certificate pveproxy serves: pveproxy-ssl.pem if present, else
// pve-ssl.pem (docs/pve.md §5).
func servedCertFiles(nodeDir string) (certPath, keyPath string) {
	custom := filepath.Join(nodeDir, customCertName)
	if fileExists(custom) {
		return custom, filepath.Join(nodeDir, customKeyName)
	}
	return filepath.Join(nodeDir, nodeCertName), filepath.Join(nodeDir, nodeKeyName)
}

// Fingerprint is the SHA-256 fingerprint as OpenSSL prints it: upper-case hex with colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// readCert parses the first certificate of a PEM file.
func readCert(path string) (*x509.Certificate, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return cert, raw, nil
}
