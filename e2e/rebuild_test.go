package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRebuildThenRemove: a 3-node cluster built by quorate up. rebuild refuses while pve2's
// old incarnation is online, and, once pve2 is reinstalled, while its new host key is not
// accepted (known_hosts unchanged); with --accept-new-host-key pve2 it takes pve2 back: a
// quorate 3-node cluster again, pve2 a member with its old node id, its old node directory
// saved locally, no stale key of it left in /etc/pve, root SSH between members by name as
// migration uses it. Then pve3 crashes and remove takes it out: a quorate 2-node cluster with
// the QDevice advice shown.
func TestRebuildThenRemove(t *testing.T) {
	needLab(t)
	t.Parallel()
	q := newQuorateLab(t, 3)
	hosts := hostNames(3)
	r := q.quorate(t, 3*time.Minute, "up", "--yes")
	r.wantCode(t, 0)
	q.wantCluster(t, hosts, hosts...)
	// A guest of pve2's, whose configuration only the node directory holds.
	q.consoleIn(t, "pve1", "name: vm100\n", "sh", "-c", "cat > /etc/pve/nodes/pve2/qemu-server/100.conf")

	t.Run("refused while the old incarnation is online", func(t *testing.T) {
		r := q.quorate(t, time.Minute, "rebuild", "--yes", "pve2")
		r.wantCode(t, 1)
		r.wantOut(t, "stderr", "nothing changed", "pve2 is online in the membership", "old incarnation still runs", "never two nodes with one name")
		q.wantCluster(t, hosts, hosts...)
	})

	oldRootKey := strings.Fields(q.console(t, "pve2", "cat", "/root/.ssh/id_rsa.pub").Stdout)[1]
	oldHostKey := strings.Fields(q.console(t, "pve2", "cat", "/etc/ssh/ssh_host_rsa_key.pub").Stdout)[1]
	knownHosts := filepath.Join(filepath.Dir(q.cluster), "known_hosts")
	oldFP := knownFingerprints(t, knownHosts, "198.51.100.12")
	q.fault(t, "pve2", "crash")
	q.fault(t, "pve2", "reinstall")
	// Until corosync's token times out, the members still count the old pve2 in.
	eventually(t, "pve2 out of the membership", time.Minute, func(_ context.Context) (bool, string) {
		v, ok, why := q.clusterView(t, "pve1")
		return ok && v.Nodes == 2, why
	})

	t.Run("refused while the new host key is not accepted", func(t *testing.T) {
		before, _ := os.ReadFile(knownHosts)
		r := q.quorate(t, time.Minute, "rebuild", "--yes", "pve2")
		r.wantCode(t, 1)
		r.wantOut(t, "stderr", "nothing changed", "pve2's SSH host key changed", "--accept-new-host-key pve2")
		if !strings.Contains(r.stderr, oldFP[0]) && !strings.Contains(r.stderr, oldFP[len(oldFP)-1]) {
			t.Errorf("stderr shows none of the old fingerprints %v", oldFP)
		}
		newFP := strings.Fields(q.console(t, "pve2", "ssh-keygen", "-lf", "/etc/ssh/ssh_host_ed25519_key.pub").Stdout)[1]
		r.wantOut(t, "stderr", newFP)
		if after, _ := os.ReadFile(knownHosts); string(after) != string(before) {
			t.Errorf("known_hosts changed although the new key was not accepted")
		}
		q.wantStandalone(t, "pve2")
	})

	if !t.Run("rebuild with the new key accepted", func(t *testing.T) {
		r := q.quorate(t, 5*time.Minute, "rebuild", "--yes", "--accept-new-host-key", "pve2", "pve2")
		r.wantCode(t, 0)
		r.wantOut(t, "stdout",
			"Plan for cluster "+q.name+": rebuild pve2", "pve2         reinstalled",
			"note: pve2's SSH host key: was ", "(accepted: --accept-new-host-key pve2)", "note: pve2's API certificate: the cluster knows ",
			"1. pvecm delnode pve2 on pve1", "votes 3 -> 2, quorum 2 -> 2, members: pve1 pve3",
			"3. join pve2 to "+q.name+" through pve1 with its old node id 2", "votes 2 -> 3",
			"4. pvecm updatecerts on pve2",
			"ok  pvecm delnode pve2", "ok  remove pve2's node directory and old keys", "ok  join pve2", "ok  pvecm updatecerts on pve2",
			"is saved in", "cluster "+q.name+" is quorate with 3 members, every one verified")
		q.wantCluster(t, hosts, hosts...)
		if id := strings.TrimSpace(q.console(t, "pve2", "sh", "-c", "corosync-quorumtool -s | sed -n 's/^Node ID: *//p'").Stdout); id != "2" && id != "0x00000002" {
			t.Errorf("pve2's node id is %q, want its old 2", id)
		}
	}) {
		t.FailNow()
	}

	t.Run("the old node directory is saved locally", func(t *testing.T) {
		saved, _ := filepath.Glob(filepath.Join(q.state, "quorate", "*.d", "saved", "pve2", "qemu-server", "100.conf"))
		if len(saved) != 1 {
			t.Fatalf("saved guest configurations %v, want one", saved)
		}
		if data, _ := os.ReadFile(saved[0]); string(data) != "name: vm100\n" {
			t.Errorf("%s holds %q", saved[0], data)
		}
		if r := q.console(t, "pve1", "test", "-e", "/etc/pve/nodes/pve2/qemu-server/100.conf"); r.Code == 0 {
			t.Error("the old guest configuration came back with the new pve2")
		}
	})

	t.Run("no stale key left in /etc/pve", func(t *testing.T) {
		for _, key := range []string{oldRootKey, oldHostKey} {
			if r := q.console(t, "pve1", "grep", "-rlF", "--", key, "/etc/pve"); r.Code == 0 {
				t.Errorf("an old key of pve2 is still in %s", strings.TrimSpace(r.Stdout))
			}
		}
		q.wantRootKeysIn(t, hosts)
	})

	t.Run("root SSH between members by name", func(t *testing.T) {
		addrs := map[string]string{"pve1": "198.51.100.11", "pve2": "198.51.100.12", "pve3": "198.51.100.13"}
		for _, pair := range [][2]string{{"pve1", "pve2"}, {"pve2", "pve1"}, {"pve3", "pve2"}, {"pve2", "pve3"}} {
			from, to := pair[0], pair[1]
			r := q.console(t, from, "ssh", "-o", "BatchMode=yes", "-o", "HostKeyAlias="+to, "-o", "UserKnownHostsFile=/etc/pve/nodes/"+to+"/ssh_known_hosts",
				"-o", "GlobalKnownHostsFile=none", "root@"+addrs[to], "hostname")
			if r.Code != 0 || strings.TrimSpace(r.Stdout) != to {
				t.Errorf("%s: ssh to %s as migration does: exit %d, %q %q", from, to, r.Code, r.Stdout, r.Stderr)
			}
		}
	})

	t.Run("rebuild again is refused: pve2 is an online member", func(t *testing.T) {
		r := q.quorate(t, time.Minute, "rebuild", "--yes", "pve2")
		r.wantCode(t, 1)
		r.wantOut(t, "stderr", "pve2 is online in the membership")
	})

	t.Run("remove a crashed node", func(t *testing.T) {
		q.fault(t, "pve3", "crash")
		eventually(t, "pve3 out of the membership", time.Minute, func(_ context.Context) (bool, string) {
			v, ok, why := q.clusterView(t, "pve1")
			return ok && v.Nodes == 2, why
		})
		r := q.quorate(t, 3*time.Minute, "remove", "--yes", "pve3")
		r.wantCode(t, 0)
		r.wantOut(t, "stdout",
			"Plan for cluster "+q.name+": remove pve3",
			"1. pvecm delnode pve3 on pve1", "votes 3 -> 2, quorum 2 -> 2, members: pve1 pve2",
			"advice: 2 nodes", "a QDevice on a third host", "quorate qdevice setup",
			"ok  pvecm delnode pve3", "ok  remove pve3's node directory",
			"cluster "+q.name+" is quorate with 2 members, every one verified")
		q.wantCluster(t, hosts[:2], hosts[:2]...)
		if r := q.console(t, "pve1", "test", "-e", "/etc/pve/nodes/pve3"); r.Code == 0 {
			t.Error("/etc/pve/nodes/pve3 is still there")
		}
	})
}

// wantRootKeysIn checks that every host's root key is in the cluster's authorized_keys.
func (q *quorateLab) wantRootKeysIn(t *testing.T, hosts []string) {
	t.Helper()
	keys := q.console(t, hosts[0], "cat", "/etc/pve/priv/authorized_keys").Stdout
	for _, h := range hosts {
		key := strings.Fields(q.console(t, h, "cat", "/root/.ssh/id_rsa.pub").Stdout)
		if len(key) < 2 || !strings.Contains(keys, key[1]) {
			t.Errorf("%s's root key is not in the cluster's authorized_keys", h)
		}
	}
}
