package bootstrap_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
)

func fresh(nodes ...string) []bootstrap.Observation {
	var obs []bootstrap.Observation
	for _, n := range nodes {
		obs = append(obs, bootstrap.Observation{Node: n, State: bootstrap.StateFresh})
	}
	return obs
}

func member(node string, members ...string) bootstrap.Observation {
	return bootstrap.Observation{Node: node, State: bootstrap.StateMember, Cluster: "demo", ConfigVersion: 2, Quorate: true, Members: members}
}

// wantStep is a step as the plan prints it: what, the arithmetic, and what its warning says.
type wantStep struct {
	describe                  string
	votesBefore, quorumBefore int
	votesAfter, quorumAfter   int
	members                   []string
	warning                   []string // texts the warning holds; nil: no warning
}

func TestMakePlan(t *testing.T) {
	withVotes := func(inv *inventory.Inventory, node string, votes int) *inventory.Inventory {
		for i := range inv.Nodes {
			if inv.Nodes[i].Name == node {
				inv.Nodes[i].Votes = votes
			}
		}
		return inv
	}
	withQDevice := func(inv *inventory.Inventory) *inventory.Inventory {
		inv.QDevice = &inventory.QDevice{Address: "198.51.100.50"}
		return inv
	}
	tests := []struct {
		name     string
		inv      *inventory.Inventory
		observed []bootstrap.Observation
		members  []string
		steps    []wantStep
		blockers []string // texts the one blocker holds, the first "NODE: "
	}{
		{
			name: "three fresh nodes", inv: clusterFile("demo", "pve1", "pve2", "pve3"), observed: fresh("pve1", "pve2", "pve3"),
			steps: []wantStep{
				{describe: "create cluster demo on pve1", votesAfter: 1, quorumAfter: 1, members: []string{"pve1"}, warning: []string{"single node"}},
				{describe: "join pve2 to demo through pve1", votesBefore: 1, quorumBefore: 1, votesAfter: 2, quorumAfter: 2,
					members: []string{"pve1", "pve2"}, warning: []string{"2 nodes", "quorum is 2 of 2 votes", "read-only"}},
				{describe: "join pve3 to demo through pve1", votesBefore: 2, quorumBefore: 2, votesAfter: 3, quorumAfter: 2,
					members: []string{"pve1", "pve2", "pve3"}},
			},
		},
		{
			name: "four fresh nodes: an even count", inv: clusterFile("demo", "pve1", "pve2", "pve3", "pve4"), observed: fresh("pve1", "pve2", "pve3", "pve4"),
			steps: []wantStep{
				{describe: "create cluster demo on pve1", votesAfter: 1, quorumAfter: 1, members: []string{"pve1"}, warning: []string{"single node"}},
				{describe: "join pve2 to demo through pve1", votesBefore: 1, quorumBefore: 1, votesAfter: 2, quorumAfter: 2,
					members: []string{"pve1", "pve2"}, warning: []string{"2 nodes"}},
				{describe: "join pve3 to demo through pve1", votesBefore: 2, quorumBefore: 2, votesAfter: 3, quorumAfter: 2,
					members: []string{"pve1", "pve2", "pve3"}},
				{describe: "join pve4 to demo through pve1", votesBefore: 3, quorumBefore: 2, votesAfter: 4, quorumAfter: 3,
					members: []string{"pve1", "pve2", "pve3", "pve4"}, warning: []string{"4 nodes", "even", "3 nodes"}},
			},
		},
		{
			name: "four fresh nodes and a QDevice", inv: withQDevice(clusterFile("demo", "pve1", "pve2", "pve3", "pve4")), observed: fresh("pve1", "pve2", "pve3", "pve4"),
			steps: []wantStep{
				{describe: "create cluster demo on pve1", votesAfter: 1, quorumAfter: 1, members: []string{"pve1"}, warning: []string{"single node"}},
				{describe: "join pve2 to demo through pve1", votesBefore: 1, quorumBefore: 1, votesAfter: 2, quorumAfter: 2, members: []string{"pve1", "pve2"}},
				{describe: "join pve3 to demo through pve1", votesBefore: 2, quorumBefore: 2, votesAfter: 3, quorumAfter: 2, members: []string{"pve1", "pve2", "pve3"}},
				{describe: "join pve4 to demo through pve1", votesBefore: 3, quorumBefore: 2, votesAfter: 4, quorumAfter: 3, members: []string{"pve1", "pve2", "pve3", "pve4"}},
			},
		},
		{
			name: "a partly built cluster: one join through the first member", inv: clusterFile("demo", "pve1", "pve2", "pve3"),
			observed: []bootstrap.Observation{member("pve1", "pve1", "pve2"), member("pve2", "pve1", "pve2"), fresh("pve3")[0]},
			members:  []string{"pve1", "pve2"},
			steps: []wantStep{
				{describe: "join pve3 to demo through pve1", votesBefore: 2, quorumBefore: 2, votesAfter: 3, quorumAfter: 2, members: []string{"pve1", "pve2", "pve3"}},
			},
		},
		{
			// The first member in file order is the one joins go through, wherever it is.
			name: "the member is not first in the file", inv: clusterFile("demo", "pve1", "pve2", "pve3"),
			observed: []bootstrap.Observation{fresh("pve1")[0], member("pve2", "pve2"), fresh("pve3")[0]},
			members:  []string{"pve2"},
			steps: []wantStep{
				{describe: "join pve1 to demo through pve2", votesBefore: 1, quorumBefore: 1, votesAfter: 2, quorumAfter: 2, members: []string{"pve2", "pve1"}, warning: []string{"2 nodes"}},
				{describe: "join pve3 to demo through pve2", votesBefore: 2, quorumBefore: 2, votesAfter: 3, quorumAfter: 2, members: []string{"pve2", "pve1", "pve3"}},
			},
		},
		{
			name: "every node a member: nothing to do", inv: clusterFile("demo", "pve1", "pve2"),
			observed: []bootstrap.Observation{member("pve1", "pve1", "pve2"), member("pve2", "pve1", "pve2")},
			members:  []string{"pve1", "pve2"},
		},
		{
			// Quorum counts votes, not nodes.
			name: "two votes on the first node", inv: withVotes(clusterFile("demo", "pve1", "pve2", "pve3"), "pve1", 2), observed: fresh("pve1", "pve2", "pve3"),
			steps: []wantStep{
				{describe: "create cluster demo on pve1", votesAfter: 2, quorumAfter: 2, members: []string{"pve1"}, warning: []string{"single node"}},
				{describe: "join pve2 to demo through pve1", votesBefore: 2, quorumBefore: 2, votesAfter: 3, quorumAfter: 2, members: []string{"pve1", "pve2"}, warning: []string{"2 nodes"}},
				// 2+1+1 votes, quorum 3: pve1 alone carries half of them.
				{describe: "join pve3 to demo through pve1", votesBefore: 3, quorumBefore: 2, votesAfter: 4, quorumAfter: 3, members: []string{"pve1", "pve2", "pve3"},
					warning: []string{"losing pve1 alone"}},
			},
		},
		{
			name: "reinstalled", inv: clusterFile("demo", "pve1", "pve2", "pve3"),
			observed: []bootstrap.Observation{member("pve1", "pve1", "pve2", "pve3"), member("pve2", "pve1", "pve2", "pve3"),
				{Node: "pve3", State: bootstrap.StateReinstalled, Detail: "the host is fresh but cluster demo still lists pve3: it was reinstalled"}},
			members:  []string{"pve1", "pve2"},
			blockers: []string{"pve3: ", "quorate rebuild pve3"},
		},
		{
			name: "member of another cluster", inv: clusterFile("demo", "pve1", "pve2"),
			observed: []bootstrap.Observation{fresh("pve1")[0],
				{Node: "pve2", State: bootstrap.StateForeign, Cluster: "lab", Members: []string{"pve2", "x"}, Detail: "member of cluster lab, not demo"}},
			steps:    []wantStep{{describe: "create cluster demo on pve1", votesAfter: 1, quorumAfter: 1, members: []string{"pve1"}, warning: []string{"single node"}}},
			blockers: []string{"pve2: member of cluster lab, not demo", "leave that cluster"},
		},
		{
			name: "half-joined", inv: clusterFile("demo", "pve1", "pve2"),
			observed: []bootstrap.Observation{member("pve1", "pve1"),
				{Node: "pve2", State: bootstrap.StateHalfJoined, Detail: "not in a cluster, but has /etc/corosync/authkey (left over from an earlier or failed join)"}},
			members:  []string{"pve1"},
			blockers: []string{"pve2: ", "/etc/corosync/authkey", "clean the node up"},
		},
		{
			name: "has guests", inv: clusterFile("demo", "pve1", "pve2"),
			observed: []bootstrap.Observation{member("pve1", "pve1"),
				{Node: "pve2", State: bootstrap.StateHasGuests, Guests: []int{100, 200}, Detail: "guests 100, 200 exist; PVE refuses to join a node with VMs or containers"}},
			members:  []string{"pve1"},
			blockers: []string{"pve2: ", "100, 200", "back them up"},
		},
		{
			name: "unreachable", inv: clusterFile("demo", "pve1", "pve2"),
			observed: []bootstrap.Observation{member("pve1", "pve1"),
				{Node: "pve2", State: bootstrap.StateUnknown, Detail: "host unreachable: 198.51.100.12:22: connection refused"}},
			members:  []string{"pve1"},
			blockers: []string{"pve2: ", "connection refused"},
		},
		{
			// pve9 is in the cluster but not in the file; both members list it: reported once.
			name: "a member the file does not list", inv: clusterFile("demo", "pve1", "pve2"),
			observed: []bootstrap.Observation{member("pve1", "pve1", "pve2", "pve9"), member("pve2", "pve1", "pve2", "pve9")},
			members:  []string{"pve1", "pve2"},
			blockers: []string{"pve9: ", "cluster.yaml does not list"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bootstrap.MakePlan(tt.inv, tt.observed)
			if p.Cluster != "demo" {
				t.Errorf("cluster %q", p.Cluster)
			}
			if !slices.Equal(p.Members, orEmpty(tt.members)) {
				t.Errorf("members %v, want %v", p.Members, tt.members)
			}
			if tt.blockers == nil && len(p.Blockers) > 0 {
				t.Errorf("blockers %q, want none", p.Blockers)
			}
			if tt.blockers != nil {
				if len(p.Blockers) != 1 {
					t.Errorf("blockers %q, want exactly one", p.Blockers)
				}
				for _, s := range tt.blockers {
					if !slices.ContainsFunc(p.Blockers, func(b string) bool { return strings.Contains(b, s) }) {
						t.Errorf("no blocker says %q: %q", s, p.Blockers)
					}
				}
				if len(p.Blockers) == 1 && !strings.HasPrefix(p.Blockers[0], tt.blockers[0]) {
					t.Errorf("blocker %q does not start with the node it is about (%q)", p.Blockers[0], tt.blockers[0])
				}
			}
			if tt.blockers != nil && len(tt.steps) == 0 {
				return // what the steps would be does not matter when the plan cannot run
			}
			if len(p.Steps) != len(tt.steps) {
				t.Fatalf("%d steps, want %d: %+v", len(p.Steps), len(tt.steps), p.Steps)
			}
			for i, w := range tt.steps {
				s := p.Steps[i]
				if got := s.Describe(p.Cluster); got != w.describe {
					t.Errorf("step %d: %q, want %q", i+1, got, w.describe)
				}
				if s.VotesBefore != w.votesBefore || s.QuorumBefore != w.quorumBefore || s.VotesAfter != w.votesAfter || s.QuorumAfter != w.quorumAfter {
					t.Errorf("%s: votes/quorum %d/%d -> %d/%d, want %d/%d -> %d/%d", w.describe,
						s.VotesBefore, s.QuorumBefore, s.VotesAfter, s.QuorumAfter, w.votesBefore, w.quorumBefore, w.votesAfter, w.quorumAfter)
				}
				if !slices.Equal(s.Members, w.members) {
					t.Errorf("%s: members after %v, want %v", w.describe, s.Members, w.members)
				}
				if w.warning == nil && s.Warning != "" {
					t.Errorf("%s: warning %q, want none", w.describe, s.Warning)
				}
				if w.warning != nil && s.Warning == "" {
					t.Errorf("%s: no warning, want one saying %q", w.describe, w.warning)
				}
				for _, text := range w.warning {
					if !strings.Contains(s.Warning, text) {
						t.Errorf("%s: warning %q does not say %q", w.describe, s.Warning, text)
					}
				}
			}
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestQuorum(t *testing.T) {
	for votes, want := range map[int]int{0: 0, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4} {
		if got := bootstrap.Quorum(votes); got != want {
			t.Errorf("Quorum(%d) = %d, want %d", votes, got, want)
		}
	}
}

// With two votes on pve1 and one on pve2, pve1 alone holds quorum (2 of 3): losing pve2
// leaves /etc/pve writable. The warning must not tell the user that both must stay up.
func TestMakePlanTwoNodeWarningCountsVotes(t *testing.T) {
	inv := clusterFile("demo", "pve1", "pve2")
	inv.Nodes[0].Votes = 2
	p := bootstrap.MakePlan(inv, fresh("pve1", "pve2"))
	if len(p.Steps) != 2 {
		t.Fatalf("steps %+v", p.Steps)
	}
	if w := p.Steps[1].Warning; strings.Contains(w, "both must stay up") || strings.Contains(w, "losing either one") {
		t.Errorf("warning %q: losing pve2 (1 vote) leaves pve1's 2 votes, which is quorum", w)
	}
}

func TestDrift(t *testing.T) {
	saved := []bootstrap.Observation{member("pve1", "pve1", "pve2"), member("pve2", "pve1", "pve2"), fresh("pve3")[0]}
	change := func(f func(obs []bootstrap.Observation) []bootstrap.Observation) []bootstrap.Observation {
		now := make([]bootstrap.Observation, len(saved))
		for i, o := range saved {
			o.Members = slices.Clone(o.Members)
			now[i] = o
		}
		return f(now)
	}
	tests := []struct {
		name string
		now  []bootstrap.Observation
		want map[string][]string // node -> texts its one diff holds
	}{
		{name: "identical", now: change(func(o []bootstrap.Observation) []bootstrap.Observation { return o })},
		{
			// Only the fields that change what the plan does count.
			name: "a new detail does not count",
			now: change(func(o []bootstrap.Observation) []bootstrap.Observation {
				o[2].Detail = "looked again"
				return o
			}),
		},
		{
			name: "a node changed state",
			now: change(func(o []bootstrap.Observation) []bootstrap.Observation {
				o[2] = member("pve3", "pve1", "pve2", "pve3")
				return o
			}),
			want: map[string][]string{"pve3": {"was fresh", "is member"}},
		},
		{
			name: "a config version changed",
			now: change(func(o []bootstrap.Observation) []bootstrap.Observation {
				o[0].ConfigVersion = 3
				return o
			}),
			want: map[string][]string{"pve1": {"version 3", "version 2"}},
		},
		{
			name: "the members changed",
			now: change(func(o []bootstrap.Observation) []bootstrap.Observation {
				o[1].Members = []string{"pve1", "pve2", "pve7"}
				return o
			}),
			want: map[string][]string{"pve2": {"[pve1 pve2 pve7]", "[pve1 pve2]"}},
		},
		{
			name: "a node left the file and another came",
			now: change(func(o []bootstrap.Observation) []bootstrap.Observation {
				return append(o[:2], fresh("pve4")...)
			}),
			want: map[string][]string{"pve3": {"not in cluster.yaml now"}, "pve4": {"not in the plan"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diffs := bootstrap.Drift(saved, tt.now)
			if len(tt.want) == 0 {
				if diffs != nil {
					t.Errorf("Drift = %q, want nil", diffs)
				}
				return
			}
			if len(diffs) != len(tt.want) {
				t.Errorf("Drift = %q, want one line for each of %v", diffs, tt.want)
			}
			for node, texts := range tt.want {
				i := slices.IndexFunc(diffs, func(d string) bool { return strings.HasPrefix(d, node+": ") })
				if i < 0 {
					t.Errorf("no difference names %s: %q", node, diffs)
					continue
				}
				for _, s := range texts {
					if !strings.Contains(diffs[i], s) {
						t.Errorf("%q does not say %q", diffs[i], s)
					}
				}
			}
		})
	}
}

// A join cut short after corosync took the node in leaves a member without its root key in
// the cluster's authorized_keys: the plan finishes that join (pvecm updatecerts) before it
// joins anything else.
func TestMakePlanFinishesAnUnfinishedJoin(t *testing.T) {
	seen := []bootstrap.Seen{
		{Node: "pve1", Facts: &pve.Facts{}, Status: &pve.ClusterStatus{State: pve.Quorate, Name: "demo", Members: []pve.Member{{Name: "pve1", Online: true}, {Name: "pve2", Online: true}}}},
		{Node: "pve2", Facts: &pve.Facts{}, RootKeyMissing: true, Status: &pve.ClusterStatus{State: pve.Quorate, Name: "demo", Members: []pve.Member{{Name: "pve1", Online: true}, {Name: "pve2", Online: true}}}},
		{Node: "pve3", Facts: &pve.Facts{}, Status: &pve.ClusterStatus{State: pve.NotInCluster}},
	}
	obs := bootstrap.Classify("demo", seen)
	if obs[1].State != bootstrap.StateUnfinished {
		t.Fatalf("pve2 is %s, want %s", obs[1].State, bootstrap.StateUnfinished)
	}
	p := bootstrap.MakePlan(clusterFile("demo", "pve1", "pve2", "pve3"), obs)
	if len(p.Blockers) != 0 || len(p.Steps) != 2 || p.Steps[0].Kind != bootstrap.StepFinish || p.Steps[0].Node != "pve2" ||
		p.Steps[1].Kind != bootstrap.StepJoin || p.Steps[1].Node != "pve3" || p.Steps[1].VotesBefore != 2 {
		t.Errorf("plan %+v: want finish pve2, then join pve3 (2 -> 3 votes)", p)
	}
}
