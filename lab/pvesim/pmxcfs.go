package pvesim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The pmxcfs stand-in: /etc/pve is a bind mount of a plain directory, the host's own
// (/var/lib/pve-cluster/local) or, once the node is in a cluster, the directory that all
// members of that cluster share (/var/lib/pvesim-lab/clusters/<id>). A background loop
// copies a newer /etc/pve/corosync.conf to /etc/corosync and keeps /etc/pve read-only while
// the clustered node is not quorate.

// ClusterID names the shared directory of the node's cluster, "" when standalone.
func (e *Env) ClusterID() string {
	raw, err := os.ReadFile(e.Path(clusterIDPath))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

// BackingDir is the directory behind /etc/pve.
func (e *Env) BackingDir() string {
	if replica := e.replicaBacking(); replica != "" {
		return replica // pmxcfs -l on a member (localmode.go)
	}
	if id := e.ClusterID(); id != "" {
		return e.Path(filepath.Join(sharedClustersDir, id))
	}
	return e.Path(localDBDir)
}

// pveTree is where commands read and write /etc/pve. Writes by the stand-in's own server
// side go to the backing directory after its own quorum check, so that a remount racing
// the check cannot fail them.
func (e *Env) pveTree() string { return e.Path(pveDir) }

// Quorate is check_cfs_quorum: what pmxcfs last reported.
func (e *Env) Quorate() bool {
	raw, err := os.ReadFile(e.Path(quorateStatePath))
	return err == nil && strings.TrimSpace(string(raw)) == "1"
}

func (e *Env) writeQuorate(quorate bool) error {
	value := "0"
	if quorate {
		value = "1"
	}
	return writeFileAtomic(e.Path(quorateStatePath), []byte(value+"\n"), 0o644)
}

var clusterIDUnsafe = regexp.MustCompile(`[^a-zA-Z0-9-]`)

// promoteToCluster turns the local database into a cluster database when it holds a
// corosync.conf but the node has no cluster yet (right after pvecm create).
func (e *Env) promoteToCluster() error {
	if e.ClusterID() != "" {
		return nil
	}
	local := e.Path(localDBDir)
	raw, err := os.ReadFile(filepath.Join(local, "corosync.conf"))
	if err != nil {
		return nil
	}
	conf, err := ParseCorosyncConf(string(raw))
	if err != nil {
		return fmt.Errorf("promote local database: %w", err)
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return fmt.Errorf("cluster id: %w", err)
	}
	name := clusterIDUnsafe.ReplaceAllString(conf.Section("totem").Get("cluster_name"), "")
	id := name + "-" + hex.EncodeToString(suffix)
	shared := e.Path(filepath.Join(sharedClustersDir, id))
	if err := copyTree(local, shared); err != nil {
		return fmt.Errorf("promote local database: %w", err)
	}
	if err := os.RemoveAll(local); err != nil {
		return fmt.Errorf("clear local database: %w", err)
	}
	return writeFileAtomic(e.Path(clusterIDPath), []byte(id+"\n"), 0o644)
}

// copyTree copies regular files, directories and symlinks.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			os.Remove(target)
			return os.Symlink(link, target)
		case info.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		}
	})
}

// ensureNodeFiles creates what gen_local_dirs and gen_pve_node_files create for node in
// tree: its directories, the local symlinks, the cluster CA and the node certificate.
func ensureNodeFiles(tree, node, ip, hostLocal string) error {
	nodeDir := filepath.Join(tree, "nodes", node)
	for _, dir := range []string{
		filepath.Join(nodeDir, "qemu-server"), filepath.Join(nodeDir, "lxc"),
		filepath.Join(nodeDir, "openvz"), filepath.Join(nodeDir, "priv"),
		filepath.Join(tree, "priv", "lock"), filepath.Join(tree, "firewall"), filepath.Join(tree, "ha"),
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	// pmxcfs shows local, qemu-server and lxc as per-node symlinks; a directory shared by all
	// members cannot, so they point through a per-host link in /run.
	for name, target := range map[string]string{
		"local":       hostLocal,
		"qemu-server": filepath.Join(hostLocal, "qemu-server"),
		"lxc":         filepath.Join(hostLocal, "lxc"),
		"openvz":      filepath.Join(hostLocal, "openvz"),
	} {
		link := filepath.Join(tree, name)
		if have, err := os.Readlink(link); err == nil && have == target {
			continue
		}
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("create %s symlink: %w", name, err)
		}
	}
	return genNodeCert(tree, node, ip, false)
}

// syncCorosyncConf is dcdb_sync_corosync_conf: copy /etc/pve/corosync.conf to
// /etc/corosync/corosync.conf when it is newer. It reports whether it wrote.
func (e *Env) syncCorosyncConf() (bool, error) {
	clusterRaw, err := os.ReadFile(filepath.Join(e.BackingDir(), "corosync.conf"))
	if err != nil {
		return false, nil
	}
	clusterConf, err := ParseCorosyncConf(string(clusterRaw))
	if err != nil {
		return false, fmt.Errorf("parse cluster corosync.conf: %w", err)
	}
	localRaw, err := os.ReadFile(e.Path(localCorosyncConf))
	if err == nil {
		localConf, perr := ParseCorosyncConf(string(localRaw))
		if perr == nil {
			if localConf.ConfigVersion() > clusterConf.ConfigVersion() {
				return false, errors.New("local corosync.conf is newer")
			}
			if localConf.ConfigVersion() == clusterConf.ConfigVersion() {
				return false, nil
			}
		}
	}
	if err := writeFileAtomic(e.Path(localCorosyncConf), clusterRaw, 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// prepareClusterFS is what a starting pmxcfs does before it serves: check the node name,
// pick and mount the database, create the node's files and sync corosync.conf.
func (e *Env) prepareClusterFS(ctx context.Context) error {
	node, err := e.NodeName()
	if err != nil {
		return err
	}
	ip, err := e.NodeIP()
	if err != nil {
		return fmt.Errorf("Unable to resolve node name '%s' to a non-loopback IP address - missing entry in '/etc/hosts' or DNS?", node)
	}
	tracef("prepare: resolved %s", ip)
	if err := e.promoteToCluster(); err != nil {
		return err
	}
	backing := e.BackingDir()
	if err := os.MkdirAll(backing, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", backing, err)
	}
	hostLocal := e.Path(hostLocalLink)
	if err := ensureNodeFiles(backing, node, ip, hostLocal); err != nil {
		return err
	}
	os.MkdirAll(filepath.Dir(hostLocal), 0o755)
	os.Remove(hostLocal)
	if err := os.Symlink(filepath.Join(e.Path(pveDir), "nodes", node), hostLocal); err != nil {
		return fmt.Errorf("create %s: %w", hostLocalLink, err)
	}
	tracef("prepare: node files ready")
	if _, err := e.syncCorosyncConf(); err != nil {
		fmt.Fprintf(e.Stderr, "pmxcfs: %v\n", err)
	}
	if err := e.mountPVE(backing); err != nil {
		return err
	}
	tracef("prepare: mounted")
	clustered := e.ClusterID() != ""
	if e.Sandboxed() {
		if !clustered {
			return e.writeQuorate(true)
		}
		if !fileExists(e.Path(quorateStatePath)) {
			return e.writeQuorate(false)
		}
		return nil
	}
	quorate := !clustered || e.localMode() || e.corosyncQuorate(ctx)
	if err := e.setPVEReadOnly(!quorate); err != nil {
		return err
	}
	return e.writeQuorate(quorate)
}

// corosyncQuorate asks the real corosync.
func (e *Env) corosyncQuorate(ctx context.Context) bool {
	code, _ := e.runQuiet(ctx, "corosync-quorumtool", "-s")
	return code == 0
}
