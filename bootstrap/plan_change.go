package bootstrap

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
)

// The plans of add, rebuild, remove and qdevice: changes to a running cluster, each step with
// the quorum arithmetic before and after it, as MakePlan's for up. They start from what a
// member says of the cluster (ClusterView), not from cluster.yaml alone: the cluster may have
// been built by hand, and may hold members the file does not list.

// ClusterView is a running cluster as one member sees it, and what quorate can reach of it.
type ClusterView struct {
	Name string
	// Through is the member the changes run on and are asked through: listed, reachable,
	// online, quorate when any is; "" when there is none.
	Through string
	Quorate bool // as Through sees it
	Nodes   []ViewNode
	// QDevice is the QDevice of corosync.conf; nil when none is configured.
	QDevice *pve.QDeviceConf
	// WantQDevice is the qnetd host cluster.yaml names ("" when it has no qdevice section).
	WantQDevice string
	// Marks are the node ids rebuild marks recorded for nodes out of the nodelist: a rebuild
	// cut short after its delnode (pve/rebuildmark.go).
	Marks map[string]int
}

// ViewNode is one node of the cluster's nodelist.
type ViewNode struct {
	Name      string
	NodeID    int
	Votes     int
	Addrs     []string // ring addresses, in link order
	Online    bool     // in corosync's membership now
	Listed    bool     // cluster.yaml lists it
	Reachable bool     // quorate holds an SSH connection to it
}

func (v ClusterView) node(name string) (ViewNode, bool) {
	for _, n := range v.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return ViewNode{}, false
}

// ChangePlan is the ordered steps of one add, rebuild, remove or qdevice run. A plan with
// Blockers must not be run; Notes are what the user should know either way.
type ChangePlan struct {
	Command  string        `json:"command"` // "add pve4 pve5", "rebuild pve2", ...
	Cluster  string        `json:"cluster"`
	Members  []string      `json:"members"` // named nodes that are already what was asked: skipped
	Steps    []ChangeStep  `json:"steps"`
	Blockers []string      `json:"blockers,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
	Observed []Observation `json:"observed"`
}

// ChangeOpts are the permissions a user can give a change plan.
type ChangeOpts struct {
	// OverrideQuorum lets a plan set the expected votes (pvecm expected) of members that lost
	// quorum because the node concerned is gone for good, instead of refusing.
	OverrideQuorum bool
	// Separate lets remove take an online node out: separated on its own side first.
	Separate bool
	// ForceJoin re-adds a rebuilt node over its old nodelist entry (pvecm add --force with the
	// old node id) instead of pvecm delnode first.
	ForceJoin bool
	// QDeviceForce lets qdevice setup run on an odd node count (pvecm's --force: lms).
	QDeviceForce bool
}

// planner is a plan being made: the cluster as it will be after the steps so far.
type planner struct {
	inv     *inventory.Inventory
	view    ClusterView
	plan    ChangePlan
	nodes   []string // the nodelist
	votes   map[string]int
	online  map[string]bool
	qdevice *pve.QDeviceConf
	// expectedOverride is the expected votes set by an expected step, until the nodelist
	// changes (corosync recomputes them from it then).
	expectedOverride int
}

func newPlanner(command string, inv *inventory.Inventory, view ClusterView, observed []Observation) *planner {
	p := &planner{inv: inv, view: view, votes: map[string]int{}, online: map[string]bool{},
		plan: ChangePlan{Command: command, Cluster: view.Name, Members: []string{}, Steps: []ChangeStep{}, Observed: observed}}
	if p.plan.Cluster == "" {
		p.plan.Cluster = inv.Cluster.Name
	}
	for _, n := range view.Nodes {
		p.nodes = append(p.nodes, n.Name)
		p.votes[n.Name] = n.Votes
		p.online[n.Name] = n.Online
	}
	if view.QDevice != nil {
		q := *view.QDevice
		p.qdevice = &q
	}
	return p
}

func (p *planner) block(format string, args ...any) {
	p.plan.Blockers = append(p.plan.Blockers, fmt.Sprintf(format, args...))
}
func (p *planner) note(format string, args ...any) {
	p.plan.Notes = append(p.plan.Notes, fmt.Sprintf(format, args...))
}

func (p *planner) nodeVotes() int {
	total := 0
	for _, n := range p.nodes {
		total += p.votes[n]
	}
	return total
}

func (p *planner) qdeviceVotes() int {
	if p.qdevice == nil {
		return 0
	}
	return pve.QDeviceVotes(*p.qdevice, p.nodeVotes())
}

// expected is the cluster's expected votes: its nodes' and its QDevice's.
func (p *planner) expected() int {
	if p.expectedOverride > 0 {
		return p.expectedOverride
	}
	return p.nodeVotes() + p.qdeviceVotes()
}

// onlineVotes are the votes present: online nodes', and the QDevice's while a node votes for it.
func (p *planner) onlineVotes() int {
	total := 0
	for _, n := range p.nodes {
		if p.online[n] {
			total += p.votes[n]
		}
	}
	if total > 0 {
		total += p.qdeviceVotes()
	}
	return total
}

// askable are the online nodes quorate verifies from (listed and reachable), and unlisted the
// online ones it cannot ask (cluster.yaml does not list them): expected online, not touched.
func (p *planner) askable() (askable, unlisted []string) {
	for _, n := range p.nodes {
		if !p.online[n] {
			continue
		}
		vn, known := p.view.node(n)
		switch {
		case !known || (vn.Listed && vn.Reachable):
			askable = append(askable, n) // a node joined by this plan
		case !vn.Listed:
			unlisted = append(unlisted, n)
		}
	}
	slices.Sort(askable)
	slices.Sort(unlisted)
	return askable, unlisted
}

// add appends step with its arithmetic: the cluster before it, the step's effect, after it.
func (p *planner) add(step ChangeStep) {
	step.VotesBefore = p.expected()
	step.QuorumBefore = Quorum(step.VotesBefore)
	switch step.Kind {
	case StepJoin:
		p.nodes = append(p.nodes, step.Node)
		p.votes[step.Node], p.online[step.Node] = p.fileVotes(step.Node), true
		p.expectedOverride = 0
	case StepDelNode:
		p.nodes = slices.DeleteFunc(p.nodes, func(n string) bool { return n == step.Node })
		delete(p.online, step.Node)
		p.expectedOverride = 0
	case StepSeparate:
		p.online[step.Node] = false
	case StepQDeviceRemove:
		p.qdevice = nil
	case StepQDeviceSetup:
		algorithm, votes := pve.QDeviceAlgorithm(len(p.nodes))
		p.qdevice = &pve.QDeviceConf{Model: "net", Host: step.QDevice, Algorithm: algorithm, Votes: votes}
	case StepExpected:
		p.expectedOverride = step.Expected
	}
	step.VotesAfter = p.expected()
	step.QuorumAfter = Quorum(step.VotesAfter)
	step.Members, step.Unlisted = p.askable()
	if step.Kind != StepSeparate && step.Kind != StepExpected {
		step.Warning = fragility(p.nodes, p.votes, p.qdevice != nil)
	}
	if online := p.onlineVotes(); online < step.QuorumAfter {
		p.block("step %d (%s) would leave the cluster without quorum: %d of %d votes present, quorum %d",
			len(p.plan.Steps)+1, step.Describe(p.plan.Cluster), online, step.VotesAfter, step.QuorumAfter)
	}
	p.plan.Steps = append(p.plan.Steps, step)
}

// fileVotes is what a joining node will have: cluster.yaml's votes, else pvecm's 1.
func (p *planner) fileVotes(name string) int {
	for _, n := range p.inv.Nodes {
		if n.Name == name && n.Votes > 0 {
			return n.Votes
		}
	}
	return 1
}

// needAllOnline refuses while a nodelist member other than except is offline, or listed but
// not reachable: every step is verified from every member, and pvecm's qdevice commands need
// them all online. Members cluster.yaml does not list are noted.
func (p *planner) needAllOnline(except string) {
	for _, n := range p.view.Nodes {
		if n.Name == except {
			continue
		}
		switch {
		case !n.Online:
			p.block("%s: a member of %s that is offline; every other member must be online (bring it back, or take it out with quorate remove %s)", n.Name, p.plan.Cluster, n.Name)
		case !n.Listed:
			p.note("%s: a member of %s that cluster.yaml does not list: counted and expected online, not touched (add it to the file to have it verified too)", n.Name, p.plan.Cluster)
		case !n.Reachable:
			p.block("%s: an online member quorate cannot reach; every member must be reachable to verify each step", n.Name)
		}
	}
}

// needThrough refuses without a member to work through.
func (p *planner) needThrough() bool {
	if p.view.Through == "" {
		p.block("no member of cluster %s is reachable and online: nothing can change it", p.plan.Cluster)
		return false
	}
	return true
}

// regainQuorum adds an expected step when the members present lack quorum, which only the
// user can allow: the votes missing must be gone for good. False: refused.
func (p *planner) regainQuorum(opts ChangeOpts, why string) bool {
	present, quorum := p.onlineVotes(), Quorum(p.expected())
	if present >= quorum {
		return true
	}
	if !opts.OverrideQuorum {
		p.block("the members present have %d of %d votes, quorum %d: %s needs quorum; if the missing votes are gone for good, --override-quorum lets quorate set the expected votes to %d (pvecm expected) first",
			present, p.expected(), quorum, why, present)
		return false
	}
	p.add(ChangeStep{Step: Step{Kind: StepExpected, Node: p.view.Through}, Change: Change{Expected: present}})
	return true
}

// qdeviceBefore removes a configured QDevice before the membership changes (docs/pve.md §3.4:
// "a QDevice should be removed before nodes are added or removed").
func (p *planner) qdeviceBefore() {
	if p.qdevice != nil {
		p.add(ChangeStep{Step: Step{Kind: StepQDeviceRemove, Node: p.view.Through}, Change: Change{QDevice: p.qdevice.Host}})
	}
}

// qdeviceAfter sets the QDevice up again for an even node count, when one was configured or
// cluster.yaml asks for one; for an odd count it says why not.
func (p *planner) qdeviceAfter(hadHost string) {
	host := hadHost
	if host == "" {
		host = p.view.WantQDevice
	}
	n := len(p.nodes)
	switch {
	case p.qdevice != nil:
	case host == "":
		if n == 2 {
			p.note("advice: 2 nodes: quorum is 2 of 2 votes, so losing either node makes /etc/pve read-only; a QDevice on a third host gives the vote that keeps the other quorate (add a qdevice section to cluster.yaml, then quorate qdevice setup)")
		}
	case n%2 == 1:
		p.note("the QDevice (%s) is not set up again: %d nodes is an odd count, where PVE would use the lms algorithm, which it does not officially support (docs/pve.md §3.6); it comes back with an even count", host, n)
	default:
		p.add(ChangeStep{Step: Step{Kind: StepQDeviceSetup, Node: p.view.Through}, Change: Change{QDevice: host}})
	}
}

// PlanAdd joins the named nodes of cluster.yaml to the running cluster, one at a time; a
// QDevice is removed first and set up again for an even count. It never creates a cluster.
func PlanAdd(inv *inventory.Inventory, view ClusterView, observed []Observation, joiners []string) ChangePlan {
	p := newPlanner("add "+strings.Join(joiners, " "), inv, view, observed)
	state := map[string]Observation{}
	for _, o := range observed {
		state[o.Node] = o
	}
	if !slices.ContainsFunc(observed, func(o Observation) bool { return o.State == StateMember }) {
		p.block("no node of cluster.yaml is a member of cluster %s: quorate add joins nodes to a running cluster (quorate up creates one)", p.plan.Cluster)
		return p.plan
	}
	var join, finish []string
	for _, name := range joiners {
		o := state[name]
		if _, inList := view.node(name); inList && o.State == StateMember {
			p.plan.Members = append(p.plan.Members, name)
			continue
		}
		switch o.State {
		case StateFresh:
			join = append(join, name)
		case StateUnfinished:
			finish = append(finish, name)
		case StateReinstalled:
			p.block("%s: %s; run quorate rebuild %s", name, o.Detail, name)
		case StateUnknown:
			p.block("%s: cannot be reached: %s", name, o.Detail)
		default:
			p.block("%s: %s (%s): only a fresh node can join", name, o.State, o.Detail)
		}
	}
	if !p.needThrough() {
		return p.plan
	}
	p.needAllOnline("")
	if !view.Quorate {
		p.block("cluster %s is not quorate as %s sees it: a join needs quorum", p.plan.Cluster, view.Through)
	}
	for _, name := range finish {
		// A join cut short before pvecm merged its root key: updatecerts finishes it.
		p.note("%s: its join was cut short (%s): pvecm updatecerts finishes it", name, state[name].Detail)
		p.add(ChangeStep{Step: Step{Kind: StepUpdateCerts, Node: name}})
	}
	if len(join) == 0 {
		return p.plan
	}
	had := ""
	if p.qdevice != nil {
		had = p.qdevice.Host
	}
	p.qdeviceBefore()
	for _, name := range join {
		p.add(ChangeStep{Step: Step{Kind: StepJoin, Node: name, Through: view.Through}})
	}
	p.qdeviceAfter(had)
	return p.plan
}

// PlanRebuild takes a reinstalled node (same name and address, still in the nodelist) back
// into the cluster: delnode, clean-up, join with the old node id, updatecerts; a QDevice is
// removed and set up again. It refuses while the node is online: never two nodes with one name.
func PlanRebuild(inv *inventory.Inventory, view ClusterView, observed []Observation, name string, opts ChangeOpts) ChangePlan {
	p := newPlanner("rebuild "+name, inv, view, observed)
	var host Observation
	for _, o := range observed {
		if o.Node == name {
			host = o
		}
	}
	old, inList := view.node(name)
	switch {
	case inList && old.Online:
		p.block("%s is online in the membership of %s: its old incarnation still runs; power it off for good before rebuilding (never two nodes with one name; a node stopped moments ago stays in the membership until corosync's token times out, a few seconds)", name, p.plan.Cluster)
		return p.plan
	case host.State == StateUnknown:
		p.block("%s: cannot be reached: %s", name, host.Detail)
		return p.plan
	case inList && host.State != StateReinstalled:
		p.block("%s: %s, not a fresh reinstall (%s): rebuild is for a node reinstalled with the same name and address", name, host.State, host.Detail)
		return p.plan
	case !inList && host.State != StateFresh:
		p.block("%s is not in the nodelist of %s and is %s, not fresh: nothing to rebuild (quorate add joins a fresh node)", name, p.plan.Cluster, host.State)
		return p.plan
	}
	if !p.needThrough() {
		return p.plan
	}
	p.needAllOnline(name)
	had := ""
	if p.qdevice != nil {
		had = p.qdevice.Host
	}
	join := ChangeStep{Step: Step{Kind: StepJoin, Node: name, Through: view.Through}, Change: Change{NodeID: old.NodeID}}
	cleanup := ChangeStep{Step: Step{Kind: StepCleanup, Node: name, Through: view.Through}, Change: Change{Addrs: nodeAddrs(inv, name, old)}}
	if !inList {
		join.NodeID = view.Marks[name]
		if join.NodeID > 0 {
			p.note("%s is no longer in the nodelist (an earlier rebuild's delnode ran): this run cleans up and joins it with its old node id %d, from the rebuild's mark", name, join.NodeID)
		} else {
			p.note("%s is no longer in the nodelist: this run cleans up and joins it", name)
		}
		p.add(cleanup)
		p.qdeviceBefore()
		p.add(join)
		p.add(ChangeStep{Step: Step{Kind: StepUpdateCerts, Node: name}})
		p.qdeviceAfter(had)
		return p.plan
	}
	if !p.regainQuorum(opts, "pvecm delnode") {
		return p.plan
	}
	if opts.ForceJoin {
		p.add(cleanup)
		join.Force = true
		p.addRejoin(join)
		if p.qdevice != nil {
			p.qdeviceBefore()
		}
	} else {
		// The delnode records the old node id first, for a rerun after it (its NodeID).
		p.add(ChangeStep{Step: Step{Kind: StepDelNode, Node: name, Through: view.Through}, Change: Change{SaveDir: true, NodeID: old.NodeID}})
		p.add(cleanup)
		p.qdeviceBefore()
		p.add(join)
	}
	p.add(ChangeStep{Step: Step{Kind: StepUpdateCerts, Node: name}})
	p.qdeviceAfter(had)
	return p.plan
}

// addRejoin is the --force join over the node's own entry: the nodelist does not change, the
// node comes online.
func (p *planner) addRejoin(step ChangeStep) {
	step.VotesBefore = p.expected()
	step.QuorumBefore = Quorum(step.VotesBefore)
	p.online[step.Node] = true
	p.expectedOverride = 0
	step.VotesAfter = p.expected()
	step.QuorumAfter = Quorum(step.VotesAfter)
	step.Members, step.Unlisted = p.askable()
	step.Warning = fragility(p.nodes, p.votes, p.qdevice != nil)
	p.plan.Steps = append(p.plan.Steps, step)
}

// PlanRemove takes a node out of the cluster for good: delnode on a member and the clean-up of
// /etc/pve, the QDevice re-evaluated for the new count. An online node is refused unless
// opts.Separate asks for it to be separated first. stale is what /etc/pve still holds of a
// node that is no longer in the nodelist.
func PlanRemove(inv *inventory.Inventory, view ClusterView, observed []Observation, name string, opts ChangeOpts, stale *pve.StaleNode) ChangePlan {
	p := newPlanner("remove "+name, inv, view, observed)
	node, inList := view.node(name)
	if !p.needThrough() {
		return p.plan
	}
	cleanup := ChangeStep{Step: Step{Kind: StepCleanup, Node: name, Through: view.Through}, Change: Change{Addrs: nodeAddrs(inv, name, node)}}
	if !inList {
		if stale != nil && !stale.Clean() {
			p.note("%s is no longer in the nodelist of %s, but /etc/pve still holds %s", name, p.plan.Cluster, stale)
			p.add(cleanup)
		} else {
			p.plan.Members = append(p.plan.Members, name)
			p.note("%s is not in the nodelist of %s and nothing of it is left in /etc/pve: nothing to remove", name, p.plan.Cluster)
		}
		return p.plan
	}
	if name == view.Through {
		p.block("%s is the only member quorate can work through; a node cannot delete itself", name)
		return p.plan
	}
	p.needAllOnline(name)
	had := ""
	if p.qdevice != nil {
		had = p.qdevice.Host
	}
	if node.Online {
		if !opts.Separate {
			p.block("%s is online in the membership of %s: PVE's procedure powers a node off before pvecm delnode; power it off for good, or pass --separate to have quorate separate it cleanly first (pve-docs' \"Separate a Node Without Reinstalling\")", name, p.plan.Cluster)
			return p.plan
		}
		if !node.Reachable {
			p.block("%s is online but quorate cannot reach it to separate it", name)
			return p.plan
		}
		p.qdeviceBefore()
		p.addSeparate(ChangeStep{Step: Step{Kind: StepSeparate, Node: name}})
	}
	if !p.regainQuorum(opts, "pvecm delnode") {
		return p.plan
	}
	p.add(ChangeStep{Step: Step{Kind: StepDelNode, Node: name, Through: view.Through}, Change: Change{SaveDir: true}})
	p.add(cleanup)
	p.qdeviceBefore()
	p.qdeviceAfter(had)
	if len(p.nodes) > 0 {
		p.note("after the removal, %s has %d node(s) and %d expected votes, quorum %d", p.plan.Cluster, len(p.nodes), p.expected(), Quorum(p.expected()))
	}
	if slices.ContainsFunc(inv.Nodes, func(n inventory.Node) bool { return n.Name == name }) {
		p.note("remove %s from cluster.yaml once it is out, so that quorate up and status no longer look for it", name)
	}
	return p.plan
}

// addSeparate is a separation: a quorum loss it causes is what regainQuorum then answers, so
// it is not a blocker of its own.
func (p *planner) addSeparate(step ChangeStep) {
	step.VotesBefore = p.expected()
	step.QuorumBefore = Quorum(step.VotesBefore)
	p.online[step.Node] = false
	step.VotesAfter, step.QuorumAfter = step.VotesBefore, step.QuorumBefore
	step.Members, step.Unlisted = p.askable()
	p.plan.Steps = append(p.plan.Steps, step)
}

// PlanQDeviceSetup sets up a QDevice on host for the cluster: even node counts, above all 2;
// an odd count only with opts.QDeviceForce (lms).
func PlanQDeviceSetup(inv *inventory.Inventory, view ClusterView, observed []Observation, host string, opts ChangeOpts) ChangePlan {
	p := newPlanner("qdevice setup "+host, inv, view, observed)
	if !p.needThrough() {
		return p.plan
	}
	p.needAllOnline("")
	if q := p.qdevice; q != nil {
		if q.Host == host {
			p.plan.Members = append(p.plan.Members, host)
			p.note("the QDevice on %s is configured already: verifying it", host)
		} else {
			p.block("a QDevice on %s is configured: remove it first (quorate qdevice remove)", q.Host)
		}
		return p.plan
	}
	if n := len(p.nodes); n%2 == 1 {
		if !opts.QDeviceForce {
			p.block("%d nodes is an odd count: a QDevice there gets %d votes with the lms algorithm, so a single surviving node with the QDevice stays quorate, and PVE does not officially support it (docs/pve.md §3.6); an odd count already breaks ties, so --force only if you mean it", n, max(p.nodeVotes()-1, 0))
			return p.plan
		}
		p.note("%d nodes is an odd count: the QDevice uses the lms algorithm (pvecm qdevice setup --force) and gets %d votes", n, max(p.nodeVotes()-1, 0))
	}
	p.add(ChangeStep{Step: Step{Kind: StepQDeviceSetup, Node: view.Through}, Change: Change{QDevice: host, QDeviceForce: len(p.nodes)%2 == 1}})
	return p.plan
}

// PlanQDeviceRemove removes the cluster's QDevice.
func PlanQDeviceRemove(inv *inventory.Inventory, view ClusterView, observed []Observation) ChangePlan {
	p := newPlanner("qdevice remove", inv, view, observed)
	if !p.needThrough() {
		return p.plan
	}
	p.needAllOnline("")
	if p.qdevice == nil {
		p.note("no QDevice is configured: nothing to remove")
		return p.plan
	}
	p.add(ChangeStep{Step: Step{Kind: StepQDeviceRemove, Node: view.Through}, Change: Change{QDevice: p.qdevice.Host}})
	return p.plan
}

// nodeAddrs are a node's addresses as the legacy known_hosts may name it: its ring addresses
// and cluster.yaml's links and address.
func nodeAddrs(inv *inventory.Inventory, name string, vn ViewNode) []string {
	var addrs []string
	add := func(a string) {
		if _, err := netip.ParseAddr(a); err == nil && !slices.Contains(addrs, a) { // an address, not a name
			addrs = append(addrs, a)
		}
	}
	for _, a := range vn.Addrs {
		add(a)
	}
	for _, n := range inv.Nodes {
		if n.Name == name {
			for _, l := range n.Links {
				add(l)
			}
			add(n.Address)
		}
	}
	return addrs
}
