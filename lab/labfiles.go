package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The files Up writes to Dir and Down removes.
var labFiles = []string{"cluster.yaml", "id_ed25519", "id_ed25519.pub", "known_hosts", "env"}

// clusterYAML is a cluster file in the shape of quorate's (issue 2) for the lab hosts.
func clusterYAML(s *state) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Lab %q, written by pvelab up; pvelab down removes it.\n", s.Name)
	fmt.Fprintf(&b, "# The root password is in %s (source it).\n", filepath.Join(s.Dir, "env"))
	fmt.Fprintf(&b, "cluster:\n  name: lab-%s\n  join: api\n  password_env: PVE_ROOT_PASSWORD\n", s.Name)
	fmt.Fprintf(&b, "ssh:\n  user: root\n  port: 22\n  identity_file: %s\n  known_hosts: %s\n",
		filepath.Join(s.Dir, "id_ed25519"), filepath.Join(s.Dir, "known_hosts"))
	b.WriteString("nodes:\n")
	var qnetd string
	for _, m := range s.Machines {
		switch m.Role {
		case RoleHost:
			fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    links: [%s]\n", m.Name, m.Address(), strings.Join(m.Addrs, ", "))
		case RoleQNetd:
			qnetd = m.Address()
		}
	}
	if qnetd != "" {
		fmt.Fprintf(&b, "qdevice:\n  address: %s\n", qnetd)
	}
	return b.String()
}

func writeLabFiles(s *state) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("lab %s: %w", s.Name, err)
	}
	keys := filepath.Join(labDir(s.Name), "keys")
	key, err1 := os.ReadFile(filepath.Join(keys, "id_ed25519"))
	pub, err2 := os.ReadFile(filepath.Join(keys, "id_ed25519.pub"))
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	files := []struct {
		name    string
		mode    os.FileMode
		content string
	}{
		{"id_ed25519", 0o600, string(key)},
		{"id_ed25519.pub", 0o644, string(pub)},
		{"known_hosts", 0o644, knownHosts(s)},
		{"env", 0o600, fmt.Sprintf("# lab %s: the hosts' root password, named by cluster.yaml\nexport PVE_ROOT_PASSWORD='%s'\n", s.Name, s.Password)},
		{"cluster.yaml", 0o644, clusterYAML(s)},
	}
	for _, f := range files {
		p := filepath.Join(s.Dir, f.name)
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			return fmt.Errorf("lab %s: %w", s.Name, err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func removeLabFiles(dir string) error {
	var errs []error
	for _, f := range labFiles {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
