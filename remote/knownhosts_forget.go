package remote

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/skeema/knownhosts"
)

// ForgetHost removes from the known_hosts file every line that names addr ("host:port", as
// HostKeyChangedError.Addr), in plain or hashed form, as `ssh-keygen -R` does: the way to let
// a reinstalled host's new key be recorded once the user has accepted it. Markers
// (@cert-authority, @revoked) and wildcard patterns are kept. It returns how many lines went;
// the file is rewritten through a temporary file and a rename, keeping its mode.
func ForgetHost(file, addr string) (int, error) {
	host := knownhosts.Normalize(addr)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("known_hosts: %w", err)
	}
	info, err := os.Stat(file)
	if err != nil {
		return 0, fmt.Errorf("known_hosts: %w", err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	var kept strings.Builder
	removed := 0
	for _, line := range lines {
		if namesHost(line, host) {
			removed++
			continue
		}
		kept.WriteString(line)
	}
	if removed == 0 {
		return 0, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".known_hosts.quorate-*")
	if err != nil {
		return 0, fmt.Errorf("known_hosts: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(kept.String()); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("known_hosts: %w", err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("known_hosts: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("known_hosts: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return 0, fmt.Errorf("known_hosts: %w", err)
	}
	return removed, nil
}

// namesHost tells whether a known_hosts line is a plain entry for host (normalized).
func namesHost(line, host string) bool {
	f := strings.Fields(line)
	if len(f) < 3 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], "@") {
		return false
	}
	for _, pattern := range strings.Split(f[0], ",") {
		if pattern == host || hashedMatch(pattern, host) {
			return true
		}
	}
	return false
}

// hashedMatch checks a hashed entry "|1|salt|hash" (OpenSSH's HashKnownHosts): HMAC-SHA1 of
// the host with the salt as key.
func hashedMatch(pattern, host string) bool {
	rest, ok := strings.CutPrefix(pattern, "|1|")
	if !ok {
		return false
	}
	saltText, hashText, ok := strings.Cut(rest, "|")
	if !ok {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(saltText)
	want, err2 := base64.StdEncoding.DecodeString(hashText)
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return hmac.Equal(mac.Sum(nil), want)
}
