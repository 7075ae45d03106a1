package bootstrap_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/pve/pvetest"
	"github.com/quorate/quorate/remote"
)

// facts parses the facts golden name after applying the replacements old -> new in pairs.
func facts(t *testing.T, name string, oldNew ...string) *pve.Facts {
	t.Helper()
	text := pvetest.Golden(t, name).Stdout
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(text, oldNew[i]) {
			t.Fatalf("golden %s has no %q to replace", name, oldNew[i])
		}
		text = strings.ReplaceAll(text, oldNew[i], oldNew[i+1])
	}
	f, err := pve.ParseFacts(text)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &f
}

// freshFacts is the lab's fresh node (pve/testdata/facts-pve1.txt) without its guests.
func freshFacts(t *testing.T, oldNew ...string) *pve.Facts {
	return facts(t, "facts-pve1.txt", append([]string{"vm=101\n", "", "vm=100\n", "", "ct=200\n", ""}, oldNew...)...)
}

func status(t *testing.T, golden string) *pve.ClusterStatus {
	t.Helper()
	st, err := pve.ParsePveshClusterStatus(pvetest.Golden(t, golden).Stdout)
	if err != nil {
		t.Fatalf("%s: %v", golden, err)
	}
	return &st
}

func TestClassify(t *testing.T) {
	standalone := status(t, "pvesh-status-standalone.json")
	// testcluster, version 5, seen from node1 (nodeid 1) with node3 offline.
	clustered := status(t, "pvesh-status-clustered.json")
	unreachable := &remote.Error{Host: "node2", Err: fmt.Errorf("%w: 198.51.100.12:22: connection refused", remote.ErrUnreachable)}

	leftovers := []string{"/etc/pve/corosync.conf", "/etc/corosync/authkey", "/etc/corosync/corosync.conf", "a running corosync"}
	type want struct {
		obs bootstrap.Observation // Detail left empty: see detail
		// detail are the texts Detail must hold; every leftover not listed must be absent.
		detail []string
	}
	tests := []struct {
		name    string
		cluster string
		seen    []bootstrap.Seen
		want    []want
	}{
		{
			name: "fresh", cluster: "testcluster",
			seen: []bootstrap.Seen{{Node: "pve1", Facts: freshFacts(t), Status: standalone}},
			want: []want{{obs: bootstrap.Observation{Node: "pve1", State: bootstrap.StateFresh}}},
		},
		{
			name: "member of this cluster", cluster: "testcluster",
			seen: []bootstrap.Seen{{Node: "node1", Facts: facts(t, "facts-member.txt"), Status: clustered}},
			want: []want{{obs: bootstrap.Observation{Node: "node1", State: bootstrap.StateMember, Cluster: "testcluster",
				NodeID: 1, ConfigVersion: 5, Quorate: true, Members: []string{"node1", "node3"}}}},
		},
		{
			name: "member of another cluster", cluster: "demo",
			seen: []bootstrap.Seen{{Node: "node1", Facts: facts(t, "facts-member.txt"), Status: clustered}},
			want: []want{{obs: bootstrap.Observation{Node: "node1", State: bootstrap.StateForeign, Cluster: "testcluster",
				NodeID: 1, ConfigVersion: 5, Quorate: true, Members: []string{"node1", "node3"}},
				detail: []string{"testcluster", "not demo"}}},
		},
		{
			name: "half-joined: /etc/pve/corosync.conf", cluster: "demo",
			seen: []bootstrap.Seen{{Node: "pve1", Status: standalone, Facts: freshFacts(t,
				"file=absent /etc/pve/corosync.conf", "file=present /etc/pve/corosync.conf")}},
			want: []want{{obs: bootstrap.Observation{Node: "pve1", State: bootstrap.StateHalfJoined}, detail: []string{"/etc/pve/corosync.conf"}}},
		},
		{
			name: "half-joined: authkey", cluster: "demo",
			seen: []bootstrap.Seen{{Node: "pve1", Status: standalone, Facts: freshFacts(t,
				"file=absent /etc/corosync/authkey", "file=present /etc/corosync/authkey")}},
			want: []want{{obs: bootstrap.Observation{Node: "pve1", State: bootstrap.StateHalfJoined}, detail: []string{"/etc/corosync/authkey"}}},
		},
		{
			name: "half-joined: /etc/corosync/corosync.conf", cluster: "demo",
			seen: []bootstrap.Seen{{Node: "pve1", Status: standalone, Facts: freshFacts(t,
				"file=absent /etc/corosync/corosync.conf", "file=present /etc/corosync/corosync.conf")}},
			want: []want{{obs: bootstrap.Observation{Node: "pve1", State: bootstrap.StateHalfJoined}, detail: []string{"/etc/corosync/corosync.conf"}}},
		},
		{
			name: "half-joined: corosync running", cluster: "demo",
			seen: []bootstrap.Seen{{Node: "pve1", Status: standalone, Facts: freshFacts(t, "corosync=stopped", "corosync=running")}},
			want: []want{{obs: bootstrap.Observation{Node: "pve1", State: bootstrap.StateHalfJoined}, detail: []string{"a running corosync"}}},
		},
		{
			// Leftovers win over guests: cleaning up comes first, and the guests are kept.
			name: "half-joined golden with a guest", cluster: "demo",
			seen: []bootstrap.Seen{{Node: "pve4", Status: standalone, Facts: facts(t, "facts-halfjoined.txt")}},
			want: []want{{obs: bootstrap.Observation{Node: "pve4", State: bootstrap.StateHalfJoined, Guests: []int{100}},
				detail: []string{"/etc/corosync/authkey", "/etc/corosync/corosync.conf", "a running corosync"}}},
		},
		{
			name: "has guests", cluster: "demo",
			seen: []bootstrap.Seen{{Node: "pve1", Status: standalone, Facts: facts(t, "facts-pve1.txt")}},
			want: []want{{obs: bootstrap.Observation{Node: "pve1", State: bootstrap.StateHasGuests, Guests: []int{100, 101, 200}},
				detail: []string{"100, 101, 200"}}},
		},
		{
			name: "unreachable", cluster: "demo",
			seen: []bootstrap.Seen{{Node: "node2", Err: unreachable}},
			want: []want{{obs: bootstrap.Observation{Node: "node2", State: bootstrap.StateUnknown}, detail: []string{"host unreachable", "connection refused"}}},
		},
		{
			// node1's cluster still lists node3, whose host is fresh: it was reinstalled.
			// node2 is fresh and listed by nobody: an ordinary joiner.
			name: "fresh node listed by a member is reinstalled", cluster: "testcluster",
			seen: []bootstrap.Seen{
				{Node: "node1", Facts: facts(t, "facts-member.txt"), Status: clustered},
				{Node: "node2", Facts: freshFacts(t), Status: standalone},
				{Node: "node3", Facts: freshFacts(t), Status: standalone},
			},
			want: []want{
				{obs: bootstrap.Observation{Node: "node1", State: bootstrap.StateMember, Cluster: "testcluster",
					NodeID: 1, ConfigVersion: 5, Quorate: true, Members: []string{"node1", "node3"}}},
				{obs: bootstrap.Observation{Node: "node2", State: bootstrap.StateFresh}},
				{obs: bootstrap.Observation{Node: "node3", State: bootstrap.StateReinstalled}, detail: []string{"node3", "testcluster", "reinstalled"}},
			},
		},
		{
			// Another cluster's memory of node3 says nothing about this one.
			name: "fresh node listed by another cluster is fresh", cluster: "demo",
			seen: []bootstrap.Seen{
				{Node: "node1", Facts: facts(t, "facts-member.txt"), Status: clustered},
				{Node: "node3", Facts: freshFacts(t), Status: standalone},
			},
			want: []want{
				{obs: bootstrap.Observation{Node: "node1", State: bootstrap.StateForeign, Cluster: "testcluster",
					NodeID: 1, ConfigVersion: 5, Quorate: true, Members: []string{"node1", "node3"}}, detail: []string{"testcluster"}},
				{obs: bootstrap.Observation{Node: "node3", State: bootstrap.StateFresh}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bootstrap.Classify(tt.cluster, tt.seen)
			if len(got) != len(tt.want) {
				t.Fatalf("Classify returned %d observations for %d nodes: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				detail := g.Detail
				g.Detail = ""
				if !equalObs(g, w.obs) {
					t.Errorf("%s:\n got  %+v\n want %+v", w.obs.Node, g, w.obs)
				}
				if len(w.detail) == 0 && detail != "" {
					t.Errorf("%s: detail %q, want none", w.obs.Node, detail)
				}
				for _, s := range w.detail {
					if !strings.Contains(detail, s) {
						t.Errorf("%s: detail %q does not say %q", w.obs.Node, detail, s)
					}
				}
				if g.State == bootstrap.StateHalfJoined {
					for _, l := range leftovers {
						if !slices.Contains(w.detail, l) && strings.Contains(detail, l) {
							t.Errorf("%s: detail %q names %s, which the node does not have", w.obs.Node, detail, l)
						}
					}
				}
			}
		})
	}
}

func equalObs(a, b bootstrap.Observation) bool {
	return a.Node == b.Node && a.State == b.State && a.Cluster == b.Cluster && a.NodeID == b.NodeID &&
		a.ConfigVersion == b.ConfigVersion && a.Quorate == b.Quorate && a.Detail == b.Detail &&
		slices.Equal(a.Members, b.Members) && slices.Equal(a.Guests, b.Guests)
}

// When pmxcfs cannot answer, Status falls back to corosync-quorumtool, which does not name
// the cluster. The node's own corosync.conf does: a node of another cluster must not be taken
// for a member of this one (a plan would then join nodes through it).
func TestClassifyUnnamedStatusIsNotAssumedThisCluster(t *testing.T) {
	f := facts(t, "facts-member.txt", "cluster_name: demo", "cluster_name: other")
	quorum := pvetest.Golden(t, "pvecm-status-quorate.txt").Stdout
	_, quorum, _ = strings.Cut(quorum, "\n\n") // corosync-quorumtool -s: no "Cluster information"
	st, err := pve.ParseQuorumStatus(quorum)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "" {
		t.Fatalf("the quorumtool answer names cluster %q; the test needs one that does not", st.Name)
	}
	got := bootstrap.Classify("demo", []bootstrap.Seen{{Node: "pve1", Facts: f, Status: &st}})
	if got[0].State == bootstrap.StateMember {
		t.Errorf("a node whose corosync.conf names cluster other is classified a member of demo: %+v", got[0])
	}
}

// A node whose status could not be read keeps the cause in its detail.
func TestClassifyKeepsTheStatusError(t *testing.T) {
	cause := fmt.Errorf("status: %w", pve.ErrCorosyncDown)
	got := bootstrap.Classify("demo", []bootstrap.Seen{{Node: "pve1", Facts: facts(t, "facts-member.txt"), StatusErr: cause}})
	// Its /etc/pve/corosync.conf names this cluster: a member whose corosync is down, which
	// must not be advised a clean-up as a half-joined node would.
	if got[0].State != bootstrap.StateMemberDown {
		t.Errorf("a member with corosync down is classified %s, want %s", got[0].State, bootstrap.StateMemberDown)
	}
	if p := bootstrap.MakePlan(clusterFile("demo", "pve1"), got); len(p.Blockers) != 1 || !strings.Contains(p.Blockers[0], "systemctl start corosync") {
		t.Errorf("blockers %q: want one saying to start corosync", p.Blockers)
	}
	if !strings.Contains(got[0].Detail, pve.ErrCorosyncDown.Error()) {
		t.Errorf("detail %q lost the cause %q", got[0].Detail, cause)
	}
}
