package bootstrap_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
)

// changeView is a running cluster "demo" of the named nodes (node ids 1, 2, ... in this
// order, one vote each), all online, listed and reachable unless said otherwise.
type changeView struct {
	nodes    []string
	offline  []string // not in corosync's membership
	down     []string // and not reachable either (off, crashed): the rest of offline is reinstalled
	unlisted []string
	qdevice  string // configured QDevice host
	want     string // cluster.yaml's qdevice
}

func (c changeView) view() bootstrap.ClusterView {
	v := bootstrap.ClusterView{Name: "demo", Quorate: true, WantQDevice: c.want}
	for i, n := range c.nodes {
		vn := bootstrap.ViewNode{Name: n, NodeID: i + 1, Votes: 1, Addrs: []string{addrOf(n)}, Online: !slices.Contains(c.offline, n),
			Listed: !slices.Contains(c.unlisted, n)}
		vn.Reachable = vn.Listed && !slices.Contains(c.down, n)
		if v.Through == "" && vn.Reachable {
			v.Through = n
		}
		v.Nodes = append(v.Nodes, vn)
	}
	if c.qdevice != "" {
		algorithm, votes := pve.QDeviceAlgorithm(len(c.nodes))
		v.QDevice = &pve.QDeviceConf{Model: "net", Host: c.qdevice, Algorithm: algorithm, Votes: votes}
	}
	return v
}

// observedAs classifies each listed node: members of the view are members, the rest as given.
func (c changeView) observed(inv *inventory.Inventory, others map[string]bootstrap.NodeState) []bootstrap.Observation {
	var obs []bootstrap.Observation
	for _, n := range inv.Nodes {
		st, ok := others[n.Name]
		if !ok {
			st = bootstrap.StateFresh
			if slices.Contains(c.nodes, n.Name) && !slices.Contains(c.offline, n.Name) {
				st = bootstrap.StateMember
			}
		}
		obs = append(obs, bootstrap.Observation{Node: n.Name, State: st, Detail: string(st)})
	}
	return obs
}

// line is a step as a test compares it: what, the arithmetic, who verifies.
func line(s bootstrap.ChangeStep) string {
	out := fmt.Sprintf("%s | %d->%d q%d->%d | %s", s.Describe("demo"), s.VotesBefore, s.VotesAfter, s.QuorumBefore, s.QuorumAfter, strings.Join(s.Members, " "))
	if len(s.Unlisted) > 0 {
		out += " + " + strings.Join(s.Unlisted, " ")
	}
	return out
}

func lines(p bootstrap.ChangePlan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, line(s))
	}
	return out
}

func wantPlan(t *testing.T, p bootstrap.ChangePlan, steps []string, blockers, notes []string) {
	t.Helper()
	if got := lines(p); !slices.Equal(got, steps) {
		t.Errorf("steps:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(steps, "\n  "))
	}
	if len(blockers) == 0 && len(p.Blockers) > 0 {
		t.Errorf("blockers %q, want none", p.Blockers)
	}
	for _, b := range blockers {
		if !strings.Contains(strings.Join(p.Blockers, "\n"), b) {
			t.Errorf("blockers %q lack %q", p.Blockers, b)
		}
	}
	for _, n := range notes {
		if !strings.Contains(strings.Join(p.Notes, "\n"), n) {
			t.Errorf("notes %q lack %q", p.Notes, n)
		}
	}
}

func TestPlanAdd(t *testing.T) {
	t.Run("hand-built cluster with an unlisted member", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3"}, unlisted: []string{"pve3"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve4", "pve5")
		p := bootstrap.PlanAdd(inv, c.view(), c.observed(inv, nil), []string{"pve4", "pve5"})
		wantPlan(t, p, []string{
			"join pve4 to demo through pve1 | 3->4 q2->3 | pve1 pve2 pve4 + pve3",
			"join pve5 to demo through pve1 | 4->5 q3->3 | pve1 pve2 pve4 pve5 + pve3",
		}, nil, []string{"pve3: a member of demo that cluster.yaml does not list", "not touched"})
		if p.Steps[0].Warning == "" || !strings.Contains(p.Steps[0].Warning, "even") {
			t.Errorf("4 nodes without a QDevice: warning %q", p.Steps[0].Warning)
		}
	})
	t.Run("QDevice removed first, not set up again for an odd count", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2"}, qdevice: "198.51.100.50", want: "198.51.100.50"}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		p := bootstrap.PlanAdd(inv, c.view(), c.observed(inv, nil), []string{"pve3"})
		wantPlan(t, p, []string{
			"remove the QDevice on 198.51.100.50 (pvecm qdevice remove on pve1) | 3->2 q2->2 | pve1 pve2",
			"join pve3 to demo through pve1 | 2->3 q2->2 | pve1 pve2 pve3",
		}, nil, []string{"not set up again: 3 nodes is an odd count", "lms"})
	})
	t.Run("QDevice set up for an even count", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3"}, want: "198.51.100.50"}
		inv := clusterFile("demo", "pve1", "pve2", "pve3", "pve4")
		p := bootstrap.PlanAdd(inv, c.view(), c.observed(inv, nil), []string{"pve4"})
		wantPlan(t, p, []string{
			"join pve4 to demo through pve1 | 3->4 q2->3 | pve1 pve2 pve3 pve4",
			"set up the QDevice on 198.51.100.50 (pvecm qdevice setup on pve1) | 4->5 q3->3 | pve1 pve2 pve3 pve4",
		}, nil, nil)
	})
	t.Run("members are skipped", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2"}}
		inv := clusterFile("demo", "pve1", "pve2")
		p := bootstrap.PlanAdd(inv, c.view(), c.observed(inv, nil), []string{"pve2"})
		wantPlan(t, p, nil, nil, nil)
		if !slices.Equal(p.Members, []string{"pve2"}) {
			t.Errorf("members %v", p.Members)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		none := changeView{}
		p := bootstrap.PlanAdd(inv, bootstrap.ClusterView{}, none.observed(inv, nil), []string{"pve2"})
		wantPlan(t, p, nil, []string{"no node of cluster.yaml is a member", "quorate up creates one"}, nil)

		c := changeView{nodes: []string{"pve1", "pve2"}, offline: []string{"pve2"}, down: []string{"pve2"}}
		p = bootstrap.PlanAdd(inv, c.view(), c.observed(inv, map[string]bootstrap.NodeState{"pve2": bootstrap.StateUnknown}), []string{"pve3"})
		if len(p.Blockers) == 0 || !strings.Contains(p.Blockers[0], "pve2: a member of demo that is offline") {
			t.Errorf("an offline member: blockers %q", p.Blockers)
		}
		c = changeView{nodes: []string{"pve1", "pve2"}}
		p = bootstrap.PlanAdd(inv, c.view(), c.observed(inv, map[string]bootstrap.NodeState{"pve3": bootstrap.StateReinstalled}), []string{"pve3"})
		wantPlan(t, p, nil, []string{"run quorate rebuild pve3"}, nil)
	})
}

func TestPlanRebuild(t *testing.T) {
	reinstalled := map[string]bootstrap.NodeState{"pve2": bootstrap.StateReinstalled}
	t.Run("3 nodes", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3"}, offline: []string{"pve2"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		p := bootstrap.PlanRebuild(inv, c.view(), c.observed(inv, reinstalled), "pve2", bootstrap.ChangeOpts{})
		wantPlan(t, p, []string{
			"pvecm delnode pve2 on pve1 (its /etc/pve/nodes/pve2 saved here first) | 3->2 q2->2 | pve1 pve3",
			"remove pve2's node directory and old keys from /etc/pve, on pve1 | 2->2 q2->2 | pve1 pve3",
			"join pve2 to demo through pve1 with its old node id 2 | 2->3 q2->2 | pve1 pve2 pve3",
			"pvecm updatecerts on pve2 (the cluster learns its new keys) | 3->3 q2->2 | pve1 pve2 pve3",
		}, nil, nil)
		if got := p.Steps[1].Addrs; !slices.Equal(got, []string{"198.51.100.12"}) {
			t.Errorf("clean-up addresses %v", got)
		}
	})
	t.Run("the old incarnation online", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		p := bootstrap.PlanRebuild(inv, c.view(), c.observed(inv, nil), "pve2", bootstrap.ChangeOpts{})
		wantPlan(t, p, nil, []string{"pve2 is online in the membership of demo", "old incarnation still runs", "never two nodes with one name"}, nil)
	})
	t.Run("2 nodes without a QDevice need the expected votes set", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2"}, offline: []string{"pve2"}}
		inv := clusterFile("demo", "pve1", "pve2")
		c2 := c.view()
		c2.Quorate = false
		p := bootstrap.PlanRebuild(inv, c2, c.observed(inv, reinstalled), "pve2", bootstrap.ChangeOpts{})
		wantPlan(t, p, nil, []string{"1 of 2 votes, quorum 2", "--override-quorum"}, nil)
		p = bootstrap.PlanRebuild(inv, c2, c.observed(inv, reinstalled), "pve2", bootstrap.ChangeOpts{OverrideQuorum: true})
		wantPlan(t, p, []string{
			"pvecm expected 1 on pve1 (the missing votes are gone for good) | 2->1 q2->1 | pve1",
			"pvecm delnode pve2 on pve1 (its /etc/pve/nodes/pve2 saved here first) | 1->1 q1->1 | pve1",
			"remove pve2's node directory and old keys from /etc/pve, on pve1 | 1->1 q1->1 | pve1",
			"join pve2 to demo through pve1 with its old node id 2 | 1->2 q1->2 | pve1 pve2",
			"pvecm updatecerts on pve2 (the cluster learns its new keys) | 2->2 q2->2 | pve1 pve2",
		}, nil, nil)
	})
	t.Run("2 nodes with a QDevice", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2"}, offline: []string{"pve2"}, qdevice: "198.51.100.50"}
		inv := clusterFile("demo", "pve1", "pve2")
		p := bootstrap.PlanRebuild(inv, c.view(), c.observed(inv, reinstalled), "pve2", bootstrap.ChangeOpts{})
		wantPlan(t, p, []string{
			"pvecm delnode pve2 on pve1 (its /etc/pve/nodes/pve2 saved here first) | 3->2 q2->2 | pve1",
			"remove pve2's node directory and old keys from /etc/pve, on pve1 | 2->2 q2->2 | pve1",
			"remove the QDevice on 198.51.100.50 (pvecm qdevice remove on pve1) | 2->1 q2->1 | pve1",
			"join pve2 to demo through pve1 with its old node id 2 | 1->2 q1->2 | pve1 pve2",
			"pvecm updatecerts on pve2 (the cluster learns its new keys) | 2->2 q2->2 | pve1 pve2",
			"set up the QDevice on 198.51.100.50 (pvecm qdevice setup on pve1) | 2->3 q2->2 | pve1 pve2",
		}, nil, nil)
	})
	t.Run("the add --force path", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3"}, offline: []string{"pve2"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		p := bootstrap.PlanRebuild(inv, c.view(), c.observed(inv, reinstalled), "pve2", bootstrap.ChangeOpts{ForceJoin: true})
		wantPlan(t, p, []string{
			"remove pve2's node directory and old keys from /etc/pve, on pve1 | 3->3 q2->2 | pve1 pve3",
			"join pve2 to demo through pve1 with its old node id 2 (pvecm add --force, over its old entry) | 3->3 q2->2 | pve1 pve2 pve3",
			"pvecm updatecerts on pve2 (the cluster learns its new keys) | 3->3 q2->2 | pve1 pve2 pve3",
		}, nil, nil)
	})
	t.Run("resumed after the delnode, with the mark's node id", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve3"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		v := c.view()
		v.Marks = map[string]int{"pve2": 2}
		p := bootstrap.PlanRebuild(inv, v, c.observed(inv, nil), "pve2", bootstrap.ChangeOpts{})
		wantPlan(t, p, []string{
			"remove pve2's node directory and old keys from /etc/pve, on pve1 | 2->2 q2->2 | pve1 pve3",
			"join pve2 to demo through pve1 with its old node id 2 | 2->3 q2->2 | pve1 pve2 pve3",
			"pvecm updatecerts on pve2 (the cluster learns its new keys) | 3->3 q2->2 | pve1 pve2 pve3",
		}, nil, []string{"with its old node id 2, from the rebuild's mark"})
	})
	t.Run("not reinstalled", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3"}, offline: []string{"pve2"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		p := bootstrap.PlanRebuild(inv, c.view(), c.observed(inv, map[string]bootstrap.NodeState{"pve2": bootstrap.StateMemberDown}), "pve2", bootstrap.ChangeOpts{})
		wantPlan(t, p, nil, []string{"not a fresh reinstall"}, nil)
	})
}

func TestPlanRemove(t *testing.T) {
	t.Run("a crashed node of 3", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3"}, offline: []string{"pve3"}, down: []string{"pve3"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		p := bootstrap.PlanRemove(inv, c.view(), c.observed(inv, map[string]bootstrap.NodeState{"pve3": bootstrap.StateUnknown}), "pve3", bootstrap.ChangeOpts{}, nil)
		wantPlan(t, p, []string{
			"pvecm delnode pve3 on pve1 (its /etc/pve/nodes/pve3 saved here first) | 3->2 q2->2 | pve1 pve2",
			"remove pve3's node directory and old keys from /etc/pve, on pve1 | 2->2 q2->2 | pve1 pve2",
		}, nil, []string{"advice: 2 nodes", "QDevice", "quorate qdevice setup", "remove pve3 from cluster.yaml"})
		if !strings.Contains(p.Steps[0].Warning, "every node must stay up") {
			t.Errorf("2 nodes left: warning %q", p.Steps[0].Warning)
		}
	})
	t.Run("an online node", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		p := bootstrap.PlanRemove(inv, c.view(), c.observed(inv, nil), "pve3", bootstrap.ChangeOpts{}, nil)
		wantPlan(t, p, nil, []string{"pve3 is online", "power it off for good", "--separate"}, nil)
		p = bootstrap.PlanRemove(inv, c.view(), c.observed(inv, nil), "pve3", bootstrap.ChangeOpts{Separate: true}, nil)
		wantPlan(t, p, []string{
			"separate pve3 from the cluster on its own side (pve-docs' procedure; its guests stay) | 3->3 q2->2 | pve1 pve2",
			"pvecm delnode pve3 on pve1 (its /etc/pve/nodes/pve3 saved here first) | 3->2 q2->2 | pve1 pve2",
			"remove pve3's node directory and old keys from /etc/pve, on pve1 | 2->2 q2->2 | pve1 pve2",
		}, nil, nil)
	})
	t.Run("4 nodes with a QDevice down to 3", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2", "pve3", "pve4"}, offline: []string{"pve4"}, down: []string{"pve4"}, qdevice: "198.51.100.50", want: "198.51.100.50"}
		inv := clusterFile("demo", "pve1", "pve2", "pve3", "pve4")
		p := bootstrap.PlanRemove(inv, c.view(), c.observed(inv, map[string]bootstrap.NodeState{"pve4": bootstrap.StateUnknown}), "pve4", bootstrap.ChangeOpts{}, nil)
		wantPlan(t, p, []string{
			"pvecm delnode pve4 on pve1 (its /etc/pve/nodes/pve4 saved here first) | 5->4 q3->3 | pve1 pve2 pve3",
			"remove pve4's node directory and old keys from /etc/pve, on pve1 | 4->4 q3->3 | pve1 pve2 pve3",
			"remove the QDevice on 198.51.100.50 (pvecm qdevice remove on pve1) | 4->3 q3->2 | pve1 pve2 pve3",
		}, nil, []string{"not set up again: 3 nodes"})
	})
	t.Run("already gone", func(t *testing.T) {
		c := changeView{nodes: []string{"pve1", "pve2"}}
		inv := clusterFile("demo", "pve1", "pve2", "pve3")
		p := bootstrap.PlanRemove(inv, c.view(), c.observed(inv, nil), "pve3", bootstrap.ChangeOpts{}, &pve.StaleNode{})
		wantPlan(t, p, nil, nil, []string{"nothing to remove"})
		p = bootstrap.PlanRemove(inv, c.view(), c.observed(inv, nil), "pve3", bootstrap.ChangeOpts{}, &pve.StaleNode{Dir: true})
		wantPlan(t, p, []string{"remove pve3's node directory and old keys from /etc/pve, on pve1 | 2->2 q2->2 | pve1 pve2"}, nil, []string{"still holds its node directory"})
	})
}

func TestPlanQDevice(t *testing.T) {
	inv := clusterFile("demo", "pve1", "pve2", "pve3")
	c := changeView{nodes: []string{"pve1", "pve2"}}
	p := bootstrap.PlanQDeviceSetup(inv, c.view(), c.observed(inv, nil), "198.51.100.50", bootstrap.ChangeOpts{})
	wantPlan(t, p, []string{"set up the QDevice on 198.51.100.50 (pvecm qdevice setup on pve1) | 2->3 q2->2 | pve1 pve2"}, nil, nil)
	if p.Steps[0].Warning != "" {
		t.Errorf("2 nodes with a QDevice: warning %q", p.Steps[0].Warning)
	}

	odd := changeView{nodes: []string{"pve1", "pve2", "pve3"}}
	p = bootstrap.PlanQDeviceSetup(inv, odd.view(), odd.observed(inv, nil), "198.51.100.50", bootstrap.ChangeOpts{})
	wantPlan(t, p, nil, []string{"odd count", "lms", "--force"}, nil)
	p = bootstrap.PlanQDeviceSetup(inv, odd.view(), odd.observed(inv, nil), "198.51.100.50", bootstrap.ChangeOpts{QDeviceForce: true})
	wantPlan(t, p, []string{"set up the QDevice on 198.51.100.50 (pvecm qdevice setup on pve1), --force: algorithm lms | 3->5 q2->3 | pve1 pve2 pve3"}, nil, []string{"gets 2 votes"})

	with := changeView{nodes: []string{"pve1", "pve2"}, qdevice: "198.51.100.50"}
	p = bootstrap.PlanQDeviceSetup(inv, with.view(), with.observed(inv, nil), "198.51.100.50", bootstrap.ChangeOpts{})
	wantPlan(t, p, nil, nil, []string{"configured already"})
	p = bootstrap.PlanQDeviceSetup(inv, with.view(), with.observed(inv, nil), "198.51.100.60", bootstrap.ChangeOpts{})
	wantPlan(t, p, nil, []string{"remove it first"}, nil)

	p = bootstrap.PlanQDeviceRemove(inv, with.view(), with.observed(inv, nil))
	wantPlan(t, p, []string{"remove the QDevice on 198.51.100.50 (pvecm qdevice remove on pve1) | 3->2 q2->2 | pve1 pve2"}, nil, nil)
	p = bootstrap.PlanQDeviceRemove(inv, c.view(), c.observed(inv, nil))
	wantPlan(t, p, nil, nil, []string{"nothing to remove"})

	down := changeView{nodes: []string{"pve1", "pve2"}, offline: []string{"pve2"}, down: []string{"pve2"}, qdevice: "198.51.100.50"}
	p = bootstrap.PlanQDeviceRemove(inv, down.view(), down.observed(inv, map[string]bootstrap.NodeState{"pve2": bootstrap.StateUnknown}))
	wantPlan(t, p, []string{"remove the QDevice on 198.51.100.50 (pvecm qdevice remove on pve1) | 3->2 q2->2 | pve1"}, []string{"pve2: a member of demo that is offline"}, nil)
}
