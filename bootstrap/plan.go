package bootstrap

import (
	"fmt"
	"slices"
	"strings"

	"github.com/quorate/quorate/inventory"
)

// StepKind is what a step does.
type StepKind string

const (
	StepCreate StepKind = "create" // pvecm create on the first node
	StepJoin   StepKind = "join"   // pvecm add on a joiner, through a member
	// StepFinish ends a join that was cut short: pvecm updatecerts on the node, as the last
	// step of pvecm add would have run it.
	StepFinish StepKind = "finish"
)

// Step is one change to the cluster, with the quorum arithmetic before and after it.
type Step struct {
	Kind    StepKind `json:"kind"`
	Node    string   `json:"node"`
	Through string   `json:"through,omitempty"` // join: the member whose API the joiner uses
	// Votes are the expected votes of the cluster (0 before a create), and Quorum the votes
	// it needs: more than half of them (votequorum's rule).
	VotesBefore  int      `json:"votes_before"`
	VotesAfter   int      `json:"votes_after"`
	QuorumBefore int      `json:"quorum_before"`
	QuorumAfter  int      `json:"quorum_after"`
	Members      []string `json:"members_after"`
	// Warning says how fragile the cluster is after the step, when it is.
	Warning string `json:"warning,omitempty"`
}

// Describe is the step as one line of a plan.
func (s Step) Describe(cluster string) string {
	switch s.Kind {
	case StepCreate:
		return fmt.Sprintf("create cluster %s on %s", cluster, s.Node)
	case StepFinish:
		return fmt.Sprintf("finish the join of %s (pvecm updatecerts)", s.Node)
	default:
		return fmt.Sprintf("join %s to %s through %s", s.Node, cluster, s.Through)
	}
}

// Plan is the ordered steps that take the nodes from what was observed to the cluster the
// file describes. A plan with Blockers must not be run.
type Plan struct {
	Cluster string `json:"cluster"`
	// Members are the nodes already verified members of the cluster: skipped.
	Members  []string      `json:"members"`
	Steps    []Step        `json:"steps"`
	Blockers []string      `json:"blockers,omitempty"`
	Observed []Observation `json:"observed"`
}

// Quorum is the number of votes a cluster of votes expected votes needs: more than half.
func Quorum(votes int) int {
	if votes <= 0 {
		return 0
	}
	return votes/2 + 1
}

// MakePlan orders the work: create on the first node of the file unless some node already
// is a member of the cluster, then join every other node in file order, one at a time. Nodes
// in a state no join can fix are Blockers, each with what to do.
func MakePlan(inv *inventory.Inventory, observed []Observation) Plan {
	p := Plan{Cluster: inv.Cluster.Name, Members: []string{}, Steps: []Step{}, Observed: observed}
	byName := map[string]Observation{}
	for _, o := range observed {
		byName[o.Node] = o
	}
	votesOf := map[string]int{}
	for _, n := range inv.Nodes {
		votesOf[n.Name] = max(n.Votes, 1)
		if n.Votes == 0 {
			votesOf[n.Name] = 1
		}
	}
	for _, n := range inv.Nodes {
		o := byName[n.Name]
		switch o.State {
		case StateMember, StateUnfinished:
			p.Members = append(p.Members, n.Name)
		case StateFresh:
		case StateReinstalled:
			p.Blockers = append(p.Blockers, fmt.Sprintf("%s: %s; run quorate rebuild %s", n.Name, o.Detail, n.Name))
		case StateForeign:
			p.Blockers = append(p.Blockers, fmt.Sprintf("%s: %s; it must leave that cluster first (or fix cluster.name)", n.Name, o.Detail))
		case StateMemberDown:
			p.Blockers = append(p.Blockers, fmt.Sprintf("%s: a member of %s whose corosync is not running (%s); start it (systemctl start corosync pve-cluster) and run quorate up again", n.Name, p.Cluster, o.Detail))
		case StateHalfJoined:
			p.Blockers = append(p.Blockers, fmt.Sprintf("%s: %s; clean the node up (see docs/pve.md §7) before it can join", n.Name, o.Detail))
		case StateHasGuests:
			p.Blockers = append(p.Blockers, fmt.Sprintf("%s: %s; back them up and remove them, or restore them after the join", n.Name, o.Detail))
		default:
			p.Blockers = append(p.Blockers, fmt.Sprintf("%s: state unknown: %s", n.Name, o.Detail))
		}
	}
	// A member's view of the cluster lists nodes the file may not know: reported, not touched.
	for _, o := range observed {
		if o.State != StateMember && o.State != StateUnfinished {
			continue
		}
		for _, m := range o.Members {
			if !slices.ContainsFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name == m }) {
				p.Blockers = appendOnce(p.Blockers, fmt.Sprintf("%s: a member of cluster %s that cluster.yaml does not list; add it to the file (quorate leaves it alone)", m, p.Cluster))
			}
		}
	}
	members := slices.Clone(p.Members)
	votes := 0
	for _, m := range members {
		votes += votesOf[m]
	}
	through := ""
	if len(members) > 0 {
		through = members[0]
	}
	for _, n := range inv.Nodes {
		if byName[n.Name].State == StateUnfinished {
			p.Steps = append(p.Steps, Step{Kind: StepFinish, Node: n.Name, VotesBefore: votes, QuorumBefore: Quorum(votes),
				VotesAfter: votes, QuorumAfter: Quorum(votes), Members: slices.Clone(members)})
		}
	}
	for _, n := range inv.Nodes {
		if byName[n.Name].State != StateFresh {
			continue
		}
		step := Step{Kind: StepJoin, Node: n.Name, Through: through, VotesBefore: votes, QuorumBefore: Quorum(votes)}
		if len(members) == 0 {
			step.Kind, step.Through = StepCreate, ""
			through = n.Name
		}
		votes += votesOf[n.Name]
		members = append(members, n.Name)
		step.VotesAfter, step.QuorumAfter, step.Members = votes, Quorum(votes), slices.Clone(members)
		step.Warning = fragility(members, votesOf, inv.QDevice != nil)
		p.Steps = append(p.Steps, step)
	}
	return p
}

// fragility warns about a cluster that loses quorum too easily (docs/pve.md §3.6), counting
// votes, not nodes: with 2+1 votes the node with 2 is quorate alone.
func fragility(members []string, votesOf map[string]int, qdevice bool) string {
	votes := 0
	for _, m := range members {
		votes += votesOf[m]
	}
	quorum := Quorum(votes)
	var critical []string // nodes whose loss alone ends quorum
	for _, m := range members {
		if votes-votesOf[m] < quorum {
			critical = append(critical, m)
		}
	}
	n := len(members)
	switch {
	case n == 1:
		return "a single node: no redundancy until more nodes join"
	case qdevice:
		return ""
	case len(critical) == n:
		return fmt.Sprintf("%d nodes: quorum is %d of %d votes, so every node must stay up; losing any one makes /etc/pve read-only (a QDevice gives another vote)",
			n, quorum, votes)
	case len(critical) > 0:
		return fmt.Sprintf("%d nodes: quorum is %d of %d votes; losing %s alone makes /etc/pve read-only", n, quorum, votes, strings.Join(critical, " or "))
	case votes%2 == 0:
		return fmt.Sprintf("%d nodes, %d votes: an even count tolerates no more lost votes (%d) than %d nodes would; a split into halves leaves neither side quorate",
			n, votes, votes-quorum, n-1)
	}
	return ""
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Drift compares what a saved plan observed with what is observed now and describes every
// difference that changes what the plan would do; nil when there is none.
func Drift(saved, now []Observation) []string {
	var diffs []string
	current := map[string]Observation{}
	for _, o := range now {
		current[o.Node] = o
	}
	for _, was := range saved {
		is, ok := current[was.Node]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: in the plan, not in cluster.yaml now", was.Node))
		case is.State != was.State:
			diffs = append(diffs, fmt.Sprintf("%s: was %s, is %s", was.Node, was.State, is.State))
		case is.Cluster != was.Cluster || is.ConfigVersion != was.ConfigVersion ||
			strings.Join(is.Members, ",") != strings.Join(was.Members, ","):
			diffs = append(diffs, fmt.Sprintf("%s: cluster %s version %d members [%s], the plan saw %s version %d members [%s]",
				was.Node, is.Cluster, is.ConfigVersion, strings.Join(is.Members, " "), was.Cluster, was.ConfigVersion, strings.Join(was.Members, " ")))
		}
		delete(current, was.Node)
	}
	for name := range current {
		diffs = append(diffs, fmt.Sprintf("%s: in cluster.yaml now, not in the plan", name))
	}
	slices.Sort(diffs)
	return diffs
}
