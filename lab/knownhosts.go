package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// readHostKeys reads a host's public host keys from its /etc overlay's upper dir (the
// init generated them there); whiteouts and other non-regular files are skipped.
func readHostKeys(lab, host string) ([]string, error) {
	var keys []string
	for _, t := range []string{"ed25519", "rsa"} {
		p := filepath.Join(labDir(lab), "hosts", host, "ov", "etc", "upper", "ssh", "ssh_host_"+t+"_key.pub")
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			keys = append(keys, f[0]+" "+f[1])
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("lab %s: %s has no host keys", lab, host)
	}
	return keys, nil
}

// knownHosts renders the controller's known_hosts: every host's keys under its name,
// FQDN and addresses.
func knownHosts(s *state) string {
	var b strings.Builder
	for _, m := range s.Machines {
		names := append([]string{m.Name, m.FQDN()}, m.Addrs...)
		for _, k := range m.Keys {
			fmt.Fprintf(&b, "%s %s\n", strings.Join(names, ","), k)
		}
	}
	return b.String()
}

// refreshKnownHosts re-reads the host keys of the named hosts (all when only is nil)
// and writes known_hosts to the controller, the lab's keys dir and Dir.
func (l *Lab) refreshKnownHosts(ctx context.Context, s *state, only []string) error {
	for i := range s.Machines {
		m := &s.Machines[i]
		if m.Role == RoleController || (only != nil && !slices.Contains(only, m.Name)) {
			continue
		}
		keys, err := readHostKeys(s.Name, m.Name)
		if err != nil {
			return err
		}
		m.Keys = keys
	}
	if err := s.save(); err != nil {
		return err
	}
	kh := knownHosts(s)
	if err := os.WriteFile(filepath.Join(labDir(s.Name), "keys", "known_hosts"), []byte(kh), 0o644); err != nil {
		return err
	}
	r, err := l.Exec(ctx, ctlName, strings.NewReader(kh), "sh", "-c", "umask 077; mkdir -p /root/.ssh && cat > /root/.ssh/known_hosts")
	if err != nil || r.Code != 0 {
		return fmt.Errorf("lab %s: ctl known_hosts: %v %s", s.Name, err, r.Stderr)
	}
	if s.Dir != "" {
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(s.Dir, "known_hosts"), []byte(kh), 0o644)
	}
	return nil
}

// Trust makes the controller (and Dir/known_hosts) trust host's current host keys,
// e.g. after a reinstall, which on purpose leaves the old key in place.
func (l *Lab) Trust(ctx context.Context, host string) error {
	return l.update(func(s *state) error {
		if _, err := s.machine(host); err != nil {
			return err
		}
		return l.refreshKnownHosts(ctx, s, []string{host})
	})
}
