package pvesim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// SSH set-up of create and join (Setup.pm): root logs in to every member with the keys in
// the cluster-wide /etc/pve/priv/authorized_keys, which /root/.ssh/authorized_keys links to.
const (
	rootAuthorizedKeys       = "/root/.ssh/authorized_keys"
	rootAuthorizedKeysBackup = "/root/.ssh/authorized_keys.org"
	clusterAuthorizedKeys    = "/etc/pve/priv/authorized_keys"
	rootRSAPublicKey         = "/root/.ssh/id_rsa.pub"
	clusterKnownHosts        = "/etc/pve/priv/known_hosts"
	systemKnownHosts         = "/etc/ssh/ssh_known_hosts"
)

var permitRootLoginLine = regexp.MustCompile(`(?m)^#?PermitRootLogin.*$`)
var permitRootLoginYes = regexp.MustCompile(`(?m)^PermitRootLogin\s+yes\s*$`)

// setupSSHD is setup_sshd_config: PermitRootLogin yes, then reload sshd if that changed.
func (e *Env) setupSSHD(ctx context.Context) {
	path := e.Path("/etc/ssh/sshd_config")
	raw, err := os.ReadFile(path)
	if err != nil {
		return
	}
	conf := string(raw)
	if permitRootLoginYes.MatchString(conf) {
		return
	}
	if loc := permitRootLoginLine.FindStringIndex(conf); loc != nil {
		conf = conf[:loc[0]] + "PermitRootLogin yes" + conf[loc[1]:]
	} else {
		conf = strings.TrimSuffix(conf, "\n") + "\nPermitRootLogin yes\n"
	}
	if err := writeFileAtomic(path, []byte(conf), 0o644); err != nil {
		return
	}
	if !e.Sandboxed() {
		e.Systemctl(ctx, []string{"reload-or-restart", "sshd"})
	}
}

// setupSSHKeys is setup_ssh_keys: import root's authorized_keys into the cluster file and
// replace it by a symlink to that file.
func (e *Env) setupSSHKeys() {
	cluster := e.Path(clusterAuthorizedKeys)
	root := e.Path(rootAuthorizedKeys)
	os.MkdirAll(filepath.Dir(cluster), 0o700)
	importOK := false
	if !fileExists(cluster) {
		old, _ := os.ReadFile(root)
		if f, err := os.OpenFile(cluster, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o400); err == nil {
			f.Write(old)
			f.Close()
			importOK = true
		}
	}
	if !fileExists(cluster) {
		e.outf("can't create shared ssh key database '%s'\n", clusterAuthorizedKeys)
	}
	if info, err := os.Lstat(root); err == nil && info.Mode()&os.ModeSymlink == 0 {
		if err := os.Rename(root, e.Path(rootAuthorizedKeysBackup)); err != nil {
			e.outf("rename %s failed - %v\n", rootAuthorizedKeys, err)
		}
	}
	if info, err := os.Lstat(root); err != nil || info.Mode()&os.ModeSymlink == 0 {
		os.MkdirAll(filepath.Dir(root), 0o700)
		os.Symlink(cluster, root)
	}
	if info, err := os.Lstat(root); err != nil || info.Mode()&os.ModeSymlink == 0 {
		e.outf("can't create symlink for ssh keys '%s' -> '%s'\n", rootAuthorizedKeys, clusterAuthorizedKeys)
	} else if importOK {
		os.Remove(e.Path(rootAuthorizedKeysBackup))
	}
}

var sshKeyLine = regexp.MustCompile(`(^|\s)ssh-(rsa|dsa)\s+(\S+)\s+\S+$`)

// sshMergeKeys is ssh_merge_keys: the cluster file, plus a leftover backup, plus our own
// key, without duplicate RSA keys. tree is the /etc/pve to write to.
func (e *Env) sshMergeKeys(tree string) error {
	cluster := filepath.Join(tree, "priv", "authorized_keys")
	raw, _ := os.ReadFile(cluster)
	data := strings.TrimSuffix(string(raw), "\n")
	backup, err := os.ReadFile(e.Path(rootAuthorizedKeysBackup))
	foundBackup := err == nil
	if foundBackup {
		data += "\n" + strings.TrimSuffix(string(backup), "\n")
	}
	if pub, err := os.ReadFile(e.Path(rootRSAPublicKey)); err == nil {
		data += "\n" + strings.TrimSuffix(string(pub), "\n") + "\n"
	}
	seen := map[string]bool{}
	var merged strings.Builder
	lines := strings.Split(data, "\n")
	for len(lines) > 0 && lines[len(lines)-1] == "" { // Perl's split drops trailing empty fields
		lines = lines[:len(lines)-1]
	}
	for _, line := range lines {
		if m := sshKeyLine.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, "#") {
			if seen[m[3]] {
				continue
			}
			seen[m[3]] = true
		}
		merged.WriteString(line + "\n")
	}
	if err := writeFileAtomic(cluster, []byte(merged.String()), 0o600); err != nil {
		return fmt.Errorf("merge authorized SSH keys: %w", err)
	}
	if info, err := os.Lstat(e.Path(rootAuthorizedKeys)); foundBackup && err == nil && info.Mode()&os.ModeSymlink != 0 {
		os.Remove(e.Path(rootAuthorizedKeysBackup))
	}
	return nil
}

// hostRSAKey is the host's public RSA key: "ssh-rsa AAAA...".
func (e *Env) hostRSAKey() string {
	raw, err := os.ReadFile(e.Path("/etc/ssh/ssh_host_rsa_key.pub"))
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(raw))
	if len(fields) < 2 {
		return ""
	}
	return fields[0] + " " + fields[1]
}

// createNodeKnownHosts is ssh_create_node_known_hosts: /etc/pve/nodes/<node>/ssh_known_hosts.
func (e *Env) createNodeKnownHosts(tree, node string) error {
	key := e.hostRSAKey()
	if key == "" {
		return nil
	}
	return writeFileAtomic(filepath.Join(tree, "nodes", node, "ssh_known_hosts"), []byte(node+" "+key+"\n"), 0o640)
}

// mergeKnownHosts is ssh_merge_known_hosts(node, ip, 1) of create: the legacy cluster-wide
// known_hosts, which /etc/ssh/ssh_known_hosts then links to.
func (e *Env) mergeKnownHosts(node, ip string) error {
	key := e.hostRSAKey()
	if key == "" {
		return nil
	}
	path := e.Path(clusterKnownHosts)
	raw, _ := os.ReadFile(path)
	text := string(raw)
	for _, name := range []string{node, ip} {
		line := name + " " + key
		if !containsLine(text, line) {
			text += line + "\n"
		}
	}
	if err := writeFileAtomic(path, []byte(text), 0o600); err != nil {
		return err
	}
	system := e.Path(systemKnownHosts)
	if info, err := os.Lstat(system); err == nil && info.Mode()&os.ModeSymlink != 0 {
		return nil
	}
	os.Remove(system)
	return os.Symlink(clusterKnownHosts, system)
}

// unmergeKnownHosts is ssh_unmerge_known_hosts: a symlinked /etc/ssh/ssh_known_hosts becomes
// a plain copy again, before /etc/pve is replaced by the cluster's.
func (e *Env) unmergeKnownHosts() {
	system := e.Path(systemKnownHosts)
	info, err := os.Lstat(system)
	if err != nil || info.Mode()&os.ModeSymlink == 0 {
		return
	}
	data, _ := os.ReadFile(system)
	os.Remove(system)
	os.WriteFile(system, data, 0o644)
}
