package preflight

import (
	"slices"
	"strings"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
)

// env is one run: the cluster file, the options, the nodes and what was gathered on them.
type env struct {
	inv     *inventory.Inventory
	opts    Options
	nodes   []*node
	token   string
	through *node // the node joiners join through; nil when the cluster file has no nodes
	// listed are the node names the nodelist of this cluster's members hold, with the member
	// that lists them: a fresh node listed there was reinstalled.
	listed map[string]string
}

// membershipKind is where a node stands towards clusters, from its own facts.
type membershipKind int

const (
	memUnknown    membershipKind = iota // no facts
	memFresh                            // in no cluster, nothing left of one
	memMember                           // in this cluster's nodelist
	memForeign                          // in another cluster
	memUnlisted                         // has this cluster's corosync.conf but is not in its nodelist
	memHalfJoined                       // leftovers of a cluster without a membership
)

type membership struct {
	kind    membershipKind
	cluster string   // the cluster it is in (memMember, memForeign, memUnlisted)
	nodeID  int      // its nodeid in that nodelist
	names   []string // the names of that nodelist
	// leftovers, for memHalfJoined: what is there ("/etc/corosync/authkey", "corosync running")
	leftovers []string
	confErr   error
}

// role is what the build will do with a node.
type role int

const (
	roleUnknown role = iota
	roleCreator      // the first node of a new cluster: pvecm create
	roleMember       // already in the cluster: nothing to do, joiners may go through it
	roleJoiner       // will run pvecm add
)

// classify decides every node's membership, the node joiners go through, and each node's
// role.
func (e *env) classify() {
	e.listed = map[string]string{}
	for _, n := range e.nodes {
		if n.facts != nil {
			n.member = membershipOf(n.facts, e.inv.Cluster.Name)
		}
		if n.member.kind == memMember {
			for _, name := range n.member.names {
				if _, ok := e.listed[name]; !ok {
					e.listed[name] = n.inv.Name
				}
			}
		}
	}
	e.through = nil
	for _, n := range e.nodes {
		if e.opts.JoinThrough != "" && n.inv.Name == e.opts.JoinThrough {
			e.through = n
		}
	}
	if e.through == nil {
		for _, n := range e.nodes {
			if n.member.kind == memMember {
				e.through = n
				break
			}
		}
	}
	if e.through == nil && len(e.nodes) > 0 {
		e.through = e.nodes[0]
	}
	for _, n := range e.nodes {
		switch {
		case n.member.kind == memMember:
			n.role = roleMember
		case n == e.through:
			n.role = roleCreator
		default:
			n.role = roleJoiner
		}
	}
}

// joiners reports whether any node will join.
func (e *env) joiners() bool {
	return slices.ContainsFunc(e.nodes, func(n *node) bool { return n.role == roleJoiner })
}

// membershipOf reads the node's standing from its corosync.conf files and corosync's state,
// the things pvecm add checks on a joiner (docs/pve.md §2.5a).
func membershipOf(f *pve.Facts, cluster string) membership {
	m := membership{kind: memFresh}
	if f.Files.PVECorosyncConf || f.PVECorosyncConf != "" {
		conf, err := pve.ParseCorosyncConf([]byte(f.PVECorosyncConf))
		if err != nil {
			m.kind, m.confErr = memForeign, err
			return m
		}
		m.cluster = conf.ClusterName()
		nodes, _ := conf.Nodes()
		for _, cn := range nodes {
			m.names = append(m.names, cn.Name)
			if cn.Name == f.NodeName {
				m.nodeID = cn.NodeID
			}
		}
		switch {
		case m.cluster != cluster:
			m.kind = memForeign
		case m.nodeID == 0:
			m.kind = memUnlisted
		default:
			m.kind = memMember
		}
		return m
	}
	if f.Files.CorosyncAuthkey {
		m.leftovers = append(m.leftovers, "/etc/corosync/authkey")
	}
	if f.Files.CorosyncConf || f.LocalCorosyncConf != "" {
		what := "/etc/corosync/corosync.conf"
		if conf, err := f.ClusterConf(); err == nil && conf != nil && conf.ClusterName() != "" {
			what += " (cluster " + conf.ClusterName() + ")"
		}
		m.leftovers = append(m.leftovers, what)
	}
	if f.CorosyncRunning || f.QuorumtoolAnswers {
		m.leftovers = append(m.leftovers, "corosync running")
	}
	if len(m.leftovers) > 0 {
		m.kind = memHalfJoined
	}
	return m
}

func joinList(s []string) string { return strings.Join(s, ", ") }

// andList is "a", "a and b", "a, b and c".
func andList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
