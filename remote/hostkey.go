package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// Fingerprint is the OpenSSH SHA256 fingerprint of key, "SHA256:...".
func Fingerprint(key ssh.PublicKey) string { return ssh.FingerprintSHA256(key) }

// HostKeyUnknownError reports a host whose key is not in known_hosts. It matches
// ErrHostKeyUnknown with errors.Is. Its text leaves out Host (see Error) and how to accept
// the key with quorate: that advice depends on the command, which gives it.
type HostKeyUnknownError struct {
	Host           string // the host (or jump host) as given
	Addr           string // host:port, as looked up in known_hosts
	KeyType        string // e.g. ssh-ed25519
	Fingerprint    string // SHA256:...
	KnownHostsFile string // where an accepted key would be recorded
	Refused        string // why OnNewHostKey refused it, when it did
}

func (e *HostKeyUnknownError) Error() string {
	host, port, _ := net.SplitHostPort(e.Addr)
	if e.Refused != "" {
		return fmt.Sprintf("host key unknown: %s presents %s key %s, not accepted: %s",
			e.Addr, e.KeyType, e.Fingerprint, e.Refused)
	}
	return fmt.Sprintf("host key unknown: %s presents %s key %s, which is not in %s; "+
		"check it against the host's console (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub) before accepting it, "+
		"or add it yourself with \"ssh-keyscan -p %s -t %s %s >> %s\"",
		e.Addr, e.KeyType, e.Fingerprint, e.KnownHostsFile,
		keyFileSuffix(e.KeyType), port, e.KeyType, host, e.KnownHostsFile)
}

func (e *HostKeyUnknownError) Is(target error) bool { return target == ErrHostKeyUnknown }

// HostKeyChangedError carries what a user needs to act on a changed host key. It matches
// ErrHostKeyChanged with errors.Is. Its text leaves out Host (see Error).
type HostKeyChangedError struct {
	Host           string
	Addr           string // host:port, as looked up in known_hosts
	KeyType        string // type of the key presented now
	OldFingerprint string // SHA256:... on record
	NewFingerprint string // SHA256:... presented now
	KnownHostsFile string
	Line           int // line in KnownHostsFile holding the old key
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("host key changed: %s now presents %s key %s, but %s:%d records %s. "+
		"A reinstalled node is the usual cause: if that is what happened, remove line %d of %s "+
		"(ssh-keygen -R %s -f %s) and connect again; otherwise someone may be intercepting the connection",
		e.Addr, e.KeyType, e.NewFingerprint, e.KnownHostsFile, e.Line, e.OldFingerprint,
		e.Line, e.KnownHostsFile, Quote(knownhosts.Normalize(e.Addr)), e.KnownHostsFile)
}

func (e *HostKeyChangedError) Is(target error) bool { return target == ErrHostKeyChanged }

func keyFileSuffix(keyType string) string {
	switch {
	case strings.Contains(keyType, "ed25519"):
		return "ed25519"
	case strings.Contains(keyType, "ecdsa"):
		return "ecdsa"
	case strings.Contains(keyType, "rsa"):
		return "rsa"
	}
	return "*"
}

// hostKeys verifies host keys against known_hosts for one Dial and remembers what to record.
type hostKeys struct {
	db      *knownhosts.HostKeyDB
	files   []string
	accept  bool
	onNew   func(host string, key ssh.PublicKey) error
	mu      sync.Mutex
	pending []string // known_hosts lines to append once authenticated
}

func newHostKeys(files []string, cfg Config) (*hostKeys, error) {
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
	}
	db, err := knownhosts.NewDB(existing...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	return &hostKeys{db: db, files: files, accept: cfg.AcceptNewHostKeys, onNew: cfg.OnNewHostKey}, nil
}

// algorithms puts the algorithms on record for addr first, so that the key negotiated is the
// one known_hosts can vouch for, and keeps the rest so a host with only other key types is
// reported as changed rather than as an opaque negotiation failure.
func (h *hostKeys) algorithms(addr string) []string {
	known := h.db.HostKeyAlgorithms(addr)
	if len(known) == 0 {
		// Unknown host: ask for the key type an admin is most likely to check on the
		// console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), as OpenSSH does.
		known = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521}
	}
	out := slices.Clone(known)
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// callback verifies the key of ep; seen receives the key presented, verified or not.
func (h *hostKeys) callback(ep endpoint, seen *ssh.PublicKey) ssh.HostKeyCallback {
	check := h.db.HostKeyCallback()
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		*seen = key
		addr := ep.addr()
		err := check(addr, remote, key)
		if err == nil {
			return nil
		}
		var keyErr *xknownhosts.KeyError
		var revoked *xknownhosts.RevokedError
		switch {
		case errors.As(err, &revoked):
			return fmt.Errorf("%s: host key %s is marked @revoked in %s:%d", ep.name, Fingerprint(key),
				revoked.Revoked.Filename, revoked.Revoked.Line)
		case !errors.As(err, &keyErr):
			return fmt.Errorf("%s: checking host key: %w", ep.name, err)
		case len(keyErr.Want) > 0:
			old := keyErr.Want[0]
			for _, w := range keyErr.Want {
				if w.Key.Type() == key.Type() {
					old = w
					break
				}
			}
			return &HostKeyChangedError{
				Host: ep.name, Addr: addr, KeyType: key.Type(),
				OldFingerprint: Fingerprint(old.Key), NewFingerprint: Fingerprint(key),
				KnownHostsFile: old.Filename, Line: old.Line,
			}
		}
		unknown := &HostKeyUnknownError{Host: ep.name, Addr: addr, KeyType: key.Type(),
			Fingerprint: Fingerprint(key), KnownHostsFile: h.files[0]}
		if !h.accept {
			return unknown
		}
		if h.onNew != nil {
			if err := h.onNew(knownhosts.Normalize(addr), key); err != nil {
				unknown.Refused = err.Error()
				return unknown
			}
		}
		h.mu.Lock()
		h.pending = append(h.pending, knownhosts.Line([]string{knownhosts.Normalize(addr)}, key))
		h.mu.Unlock()
		return nil
	}
}

// recordMu serialises record across the Dials of a process: concurrent Dials through one
// new jump host all saw its key, and it must be written once.
var recordMu sync.Mutex

// record appends the accepted keys to the first known_hosts file, leaving out lines the file
// already holds (another Dial of this run may have recorded the same key meanwhile).
func (h *hostKeys) record() error {
	h.mu.Lock()
	pending := h.pending
	h.pending = nil
	h.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	recordMu.Lock()
	defer recordMu.Unlock()
	file := h.files[0]
	present := map[string]bool{}
	if data, err := os.ReadFile(file); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			present[strings.TrimSpace(l)] = true
		}
	}
	var lines []string
	for _, l := range pending {
		if !present[l] {
			present[l] = true
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	// A file whose last line lacks its newline would swallow the new entry.
	if st, err := f.Stat(); err == nil && st.Size() > 0 && !endsWithNewline(file, st.Size()) {
		lines[0] = "\n" + lines[0]
	}
	for _, l := range lines {
		if _, err := f.Write([]byte(l + "\n")); err != nil {
			f.Close()
			return fmt.Errorf("known_hosts: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	return nil
}

func endsWithNewline(file string, size int64) bool {
	f, err := os.Open(file)
	if err != nil {
		return true
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return true
	}
	return b[0] == '\n'
}
