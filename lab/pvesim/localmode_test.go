package pvesim

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSeparateInLocalMode: the docs' separation on one member (pmxcfs -l, rm
// /etc/pve/corosync.conf, a normal start) leaves that node standalone and the cluster's own
// database untouched; local mode without the rm leaves the node a member.
func TestSeparateInLocalMode(t *testing.T) {
	shared := t.TempDir()
	m := newMember(t, shared)
	id := m.env("").ClusterID()
	sharedConf := filepath.Join(shared, "clusters", id, "corosync.conf")
	if _, err := os.Stat(sharedConf); err != nil {
		t.Fatalf("the cluster's database has no corosync.conf: %v", err)
	}

	// Local mode and back, nothing deleted: still a member of the same cluster.
	if code, _, stderr := m.run("", "pmxcfs", "-l"); code != 0 {
		t.Fatalf("pmxcfs -l: %d %s", code, stderr)
	}
	os.Remove(filepath.Join(m.root, "run/pvesim/pmxcfs-local-mode")) // as killall ends the local-mode pmxcfs
	if code, _, stderr := m.run("", "pmxcfs"); code != 0 || m.env("").ClusterID() != id {
		t.Fatalf("normal start after local mode: %d %s, cluster %q (want %q)", code, stderr, m.env("").ClusterID(), id)
	}

	// The separation: the rm in local mode is the node's alone.
	if code, _, stderr := m.run("", "pmxcfs", "-l"); code != 0 {
		t.Fatalf("pmxcfs -l: %d %s", code, stderr)
	}
	if err := os.Remove(filepath.Join(m.root, "etc/pve/corosync.conf")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sharedConf); err != nil {
		t.Errorf("rm /etc/pve/corosync.conf in local mode reached the cluster's database: %v", err)
	}
	os.Remove(filepath.Join(m.root, "run/pvesim/pmxcfs-local-mode"))
	if code, _, stderr := m.run("", "pmxcfs"); code != 0 {
		t.Fatalf("normal start after the separation: %d %s", code, stderr)
	}
	if got := m.env("").ClusterID(); got != "" {
		t.Errorf("separated node still in cluster %q", got)
	}
	if _, err := os.Stat(filepath.Join(m.root, "etc/pve/corosync.conf")); err == nil {
		t.Error("separated node's /etc/pve has a corosync.conf")
	}
	if _, err := os.Stat(filepath.Join(m.root, "etc/pve/nodes/pve1")); err != nil {
		t.Errorf("separated node lost its own files: %v", err)
	}
	if _, err := os.Stat(sharedConf); err != nil {
		t.Errorf("the cluster's database lost its corosync.conf: %v", err)
	}
}
