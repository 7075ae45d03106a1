package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/lab"
)

// TestQDevice: two nodes and a QDevice on the lab's qnetd host (real corosync-qnetd). With the
// QDevice, the survivor of a crash stays quorate (real corosync votes). add of a third node
// removes the QDevice first and does not set it up again for the odd count, and the plan says
// so; adding a fourth sets it up again, verified; qdevice remove returns to the nodes' votes.
func TestQDevice(t *testing.T) {
	needLab(t)
	t.Parallel()
	q := newQuorateLabWith(t, lab.Options{Hosts: 4, QNetd: true})
	two := clusterFileWithout(t, q.cluster, "pve3", "pve4")
	r := q.quorateWith(t, 3*time.Minute, two, "up", "--yes")
	r.wantCode(t, 0)

	if !t.Run("setup on two nodes", func(t *testing.T) {
		r := q.quorateWith(t, 5*time.Minute, two, "qdevice", "setup", "--yes")
		r.wantCode(t, 0)
		r.wantOut(t, "stdout",
			"Plan for cluster "+q.name+": qdevice setup 198.51.100.50",
			"1. set up the QDevice on 198.51.100.50 (pvecm qdevice setup on pve1)", "votes 2 -> 3, quorum 2 -> 2, members: pve1 pve2",
			"ok  set up the QDevice", "is quorate with 2 members, every one verified")
		q.wantVotes(t, []string{"pve1", "pve2"}, 2, 3, true)
		// The SSH trust for the setup is gone again.
		if keys := q.console(t, "qnetd", "cat", "/root/.ssh/authorized_keys").Stdout; strings.Count(keys, "\n") != 1 {
			t.Errorf("qnetd's authorized_keys kept more than the controller's key:\n%s", keys)
		}
		if r := q.console(t, "pve1", "ssh-keygen", "-F", "198.51.100.50", "-f", "/root/.ssh/known_hosts"); r.Code == 0 {
			t.Errorf("pve1 still knows the qnetd host's key:\n%s", r.Stdout)
		}
	}) {
		t.FailNow()
	}

	t.Run("the survivor of a crash stays quorate", func(t *testing.T) {
		q.fault(t, "pve2", "crash")
		eventually(t, "pve1 alone with the QDevice's vote", time.Minute, func(_ context.Context) (bool, string) {
			v, ok, why := q.clusterView(t, "pve1")
			return ok && v.Nodes == 1 && v.Quorate && v.Total == 2 && v.Expected == 3, why + strings.TrimSpace(
				q.console(t, "pve1", "corosync-quorumtool", "-s").Stdout)
		})
		if r := q.console(t, "pve1", "sh", "-c", "echo x > /etc/pve/quorate-e2e-probe && rm /etc/pve/quorate-e2e-probe"); r.Code != 0 {
			t.Errorf("/etc/pve is not writable on the survivor: %s", r.Stderr)
		}
		q.fault(t, "pve2", "restart")
		eventually(t, "pve2 back with its vote", 2*time.Minute, func(_ context.Context) (bool, string) {
			v, ok, why := q.clusterView(t, "pve2")
			return ok && v.Nodes == 2 && v.Quorate && v.Total == 3, why
		})
	})

	t.Run("add a third node: the QDevice goes, not set up again", func(t *testing.T) {
		r := q.quorate(t, 4*time.Minute, "add", "--yes", "pve3")
		r.wantCode(t, 0)
		r.wantOut(t, "stdout",
			"1. remove the QDevice on 198.51.100.50 (pvecm qdevice remove on pve1)", "votes 3 -> 2, quorum 2 -> 2",
			"2. join pve3 to "+q.name+" through pve1", "votes 2 -> 3, quorum 2 -> 2",
			"is not set up again: 3 nodes is an odd count", "lms",
			"ok  remove the QDevice", "ok  join pve3", "is quorate with 3 members, every one verified")
		if strings.Contains(r.stdout, "set up the QDevice") {
			t.Errorf("the plan sets the QDevice up for 3 nodes")
		}
		q.wantCluster(t, hostNames(3), hostNames(3)...)
		q.wantVotes(t, hostNames(3), 3, 3, false)
	})

	t.Run("add a fourth node: the QDevice comes back", func(t *testing.T) {
		r := q.quorate(t, 6*time.Minute, "add", "--yes", "pve4")
		r.wantCode(t, 0)
		r.wantOut(t, "stdout",
			"1. join pve4 to "+q.name+" through pve1", "votes 3 -> 4, quorum 2 -> 3",
			"2. set up the QDevice on 198.51.100.50 (pvecm qdevice setup on pve1)", "votes 4 -> 5, quorum 3 -> 3",
			"ok  join pve4", "ok  set up the QDevice", "is quorate with 4 members, every one verified")
		q.wantVotes(t, hostNames(4), 4, 5, true)
	})

	t.Run("qdevice remove returns to the nodes' votes", func(t *testing.T) {
		r := q.quorate(t, 3*time.Minute, "qdevice", "remove", "--yes")
		r.wantCode(t, 0)
		r.wantOut(t, "stdout", "1. remove the QDevice on 198.51.100.50", "votes 5 -> 4, quorum 3 -> 3", "ok  remove the QDevice", "is quorate with 4 members")
		q.wantVotes(t, hostNames(4), 4, 4, false)
		again := q.quorate(t, 2*time.Minute, "qdevice", "remove", "--yes")
		again.wantCode(t, 0)
		again.wantOut(t, "stdout", "no QDevice is configured: nothing to remove")
	})
}

// wantVotes checks every host's corosync: nodes members online, total and expected votes, and
// the QDevice registered and voting (flags A,V) or absent.
func (q *quorateLab) wantVotes(t *testing.T, hosts []string, nodes, votes int, qdevice bool) {
	t.Helper()
	for _, h := range hosts {
		v, ok, why := q.clusterView(t, h)
		if !ok || !v.Quorate || v.Nodes != nodes || v.Total != votes || v.Expected != votes {
			t.Errorf("%s: %+v (%s); want quorate, %d nodes, %d of %d votes", h, v, why, nodes, votes, votes)
		}
		status := q.console(t, h, "pvecm", "status").Stdout
		has := strings.Contains(status, "Qdevice") && strings.Contains(status, "A,V,")
		if has != qdevice {
			t.Errorf("%s: QDevice voting %v, want %v:\n%s", h, has, qdevice, status)
		}
	}
}
