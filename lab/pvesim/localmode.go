package pvesim

import (
	"fmt"
	"os"
	"path/filepath"
)

// pmxcfs -l on a member: real pmxcfs then serves the node's own copy of the cluster database
// (config.db) without corosync, so what is deleted there (pve-docs' "Separate a Node Without
// Reinstalling": rm /etc/pve/corosync.conf) is deleted on that node alone. The stand-in's
// members share one directory, so local mode works on a copy of it, the replica; the next
// normal start decides what the replica was for: without corosync.conf the node left its
// cluster and the replica becomes its standalone database (the other nodes' files included,
// as on a real separated node); with it, the node is still a member and the cluster's copy
// wins, as pmxcfs's sync does when it rejoins.

const localReplicaDir = "/var/lib/pve-cluster/local-mode"

// enterLocalMode makes the replica of a member's shared database, before pmxcfs -l mounts it.
func (e *Env) enterLocalMode() error {
	if e.ClusterID() == "" {
		return nil
	}
	replica := e.Path(localReplicaDir)
	if err := os.RemoveAll(replica); err != nil {
		return fmt.Errorf("local mode: %w", err)
	}
	shared := e.Path(filepath.Join(sharedClustersDir, e.ClusterID()))
	if err := copyTree(shared, replica); err != nil {
		return fmt.Errorf("local mode: copy the cluster database: %w", err)
	}
	return nil
}

// leaveLocalMode settles a replica left by pmxcfs -l, before a normal start.
func (e *Env) leaveLocalMode() error {
	replica := e.Path(localReplicaDir)
	if !dirExists(replica) {
		return nil
	}
	if fileExists(filepath.Join(replica, "corosync.conf")) {
		return os.RemoveAll(replica)
	}
	local := e.Path(localDBDir)
	if err := os.RemoveAll(local); err != nil {
		return fmt.Errorf("separate: %w", err)
	}
	if err := os.Rename(replica, local); err != nil {
		return fmt.Errorf("separate: %w", err)
	}
	if err := os.Remove(e.Path(clusterIDPath)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("separate: %w", err)
	}
	return nil
}

// replicaBacking is the directory behind /etc/pve in local mode on a member ("" otherwise).
func (e *Env) replicaBacking() string {
	if e.localMode() && dirExists(e.Path(localReplicaDir)) {
		return e.Path(localReplicaDir)
	}
	return ""
}
