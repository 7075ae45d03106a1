package playbooks

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/pve"
)

// The checks of the cluster's state: who is reachable, whose status reads whole, quorum and
// its arithmetic, whether the members agree, and the services and files a member needs.

// checkReached stands in for preflight's ssh-access when preflight did not run.
func checkReached(r *liveCluster) []preflight.Finding {
	var out []preflight.Finding
	for _, m := range r.Members {
		switch {
		case !m.reached():
			out = append(out, fail(m.Name, "check that "+m.Name+" is up and that ssh root@"+m.Address+" works", "cannot log in to %s (%s): %s", m.Name, m.Address, errText(m.DialErr)))
		default:
			out = append(out, pass(m.Name, "logged in to %s", m.Name))
		}
	}
	return out
}

func checkClusterStatus(r *liveCluster) []preflight.Finding {
	var out []preflight.Finding
	for _, m := range r.Members {
		if !m.reached() {
			continue
		}
		var cut *pve.ParseError
		switch {
		case m.StatusErr != nil && errors.As(m.StatusErr, &cut):
			// Output cut short is never "no members": it is this node's answer lost.
			out = append(out, fail(m.Name, "run quorate doctor again; if it stays, look at `pvecm status` on "+m.Name+" and its corosync log",
				"the cluster status from %s is unreadable (%v): it is not taken as \"no members\"", m.Name, m.StatusErr))
		case m.StatusErr != nil:
			out = append(out, fail(m.Name, "look at `pvecm status` and `systemctl status corosync pve-cluster` on "+m.Name,
				"could not read %s's cluster status: %v", m.Name, m.StatusErr))
		case m.Status.State == pve.NotInCluster && m.Conf.NodeID != 0:
			out = append(out, fail(m.Name, "check /etc/pve/corosync.conf and corosync on "+m.Name+" (a reinstalled node must be removed with pvecm delnode and joined again)",
				"%s says it is in no cluster, yet %s's nodelist lists it", m.Name, r.ConfFrom))
		case m.Status.State == pve.NotInCluster:
			out = append(out, warn(m.Name, "remove "+m.Name+" from "+r.File+", or join it (quorate up)",
				"%s is in no cluster", m.Name))
		default:
			out = append(out, pass(m.Name, "%s read whole: %s, %s", m.Status.Source, m.Status.State, pluralize(len(m.Status.Members), "member")))
		}
	}
	return out
}

// onlineIDs are the node ids a status shows online, sorted.
func onlineIDs(st *pve.ClusterStatus) []int {
	var ids []int
	for _, mb := range st.Members {
		if mb.Online && mb.NodeID != 0 {
			ids = append(ids, mb.NodeID)
		}
	}
	sort.Ints(ids)
	return ids
}

// voteArithmetic is what a member's votequorum says, completed from the nodelist when the
// source (pvesh) gave no figures: votequorum's quorum is expected/2 + 1.
type voteArithmetic struct {
	total, expected, quorum int
	qdevice                 int // the QDevice's votes in total, 0 without one
}

func (r *liveCluster) arithmetic(st *pve.ClusterStatus) voteArithmetic {
	if st.VotesKnown && st.ExpectedVotes > 0 {
		a := voteArithmetic{total: st.TotalVotes, expected: st.ExpectedVotes, quorum: st.Quorum}
		if st.QDevice != nil && st.QDevice.Voting {
			a.qdevice = st.QDevice.Votes
		}
		return a
	}
	var a voteArithmetic
	online := onlineIDs(st)
	for _, cn := range r.ConfNodes {
		v := cn.Votes
		if v == 0 {
			v = 1 // corosync's default when quorum_votes is absent
		}
		a.expected += v
		if slices.Contains(online, cn.NodeID) {
			a.total += v
		}
	}
	a.quorum = a.expected/2 + 1
	return a
}

// missing are the nodelist's nodes a status does not show online.
func (r *liveCluster) missing(st *pve.ClusterStatus) []string {
	online := onlineIDs(st)
	var out []string
	for _, cn := range r.ConfNodes {
		if !slices.Contains(online, cn.NodeID) {
			out = append(out, cn.Name)
		}
	}
	return out
}

func checkQuorum(r *liveCluster) []preflight.Finding {
	var out []preflight.Finding
	quorate := 0
	var offline []string
	var seenBy string
	for _, m := range r.Members {
		if !m.readable() {
			continue
		}
		a := r.arithmetic(m.Status)
		miss := r.missing(m.Status)
		sees := pluralize(a.total, "vote")
		if m.Status.State == pve.Quorate {
			quorate++
			if len(miss) > 0 && seenBy == "" {
				offline, seenBy = miss, m.Name
			}
			out = append(out, pass(m.Name, "quorate: %s of %d expected, quorum %d", sees, a.expected, a.quorum))
			continue
		}
		need := a.quorum - a.total
		msg := fmt.Sprintf("%s is not quorate: it has %s of %d expected and needs %d (quorum is half of %d, rounded down, plus one)",
			m.Name, sees, a.expected, a.quorum, a.expected)
		if len(miss) > 0 {
			msg += fmt.Sprintf("; it cannot see %s", andListOf(miss))
		}
		msg += fmt.Sprintf(". Until %s more %s back, /etc/pve is read-only on %s: no guest starts, no configuration changes",
			pluralize(need, "vote"), isAre(need), m.Name)
		fix := "bring " + orList(miss) + " back, or repair the network between them and " + m.Name + " (corosync-links below); check that the clocks agree (clock-offset)"
		if len(miss) == 0 {
			fix = "look for network instability between the nodes (corosync-links) and check their clocks (clock-offset)"
		}
		fix += "; `pvecm expected` forces quorum only when the others are truly down, never on both sides of a split"
		out = append(out, fail(m.Name, fix, "%s", msg))
	}
	out = append(out, r.quorumShape(quorate, offline, seenBy)...)
	return out
}

func isAre(n int) string {
	if n == 1 {
		return "comes"
	}
	return "come"
}

// orList is "a", "a or b", "a, b or c".
func orList(s []string) string {
	l := andListOf(s)
	if i := strings.LastIndex(l, " and "); i >= 0 {
		l = l[:i] + " or " + l[i+len(" and "):]
	}
	return l
}

// quorumShape is the cluster's arithmetic as a whole: how many nodes may fail, the shapes
// that lose quorum easily, the nodes the quorate members miss, and no quorate member at all.
func (r *liveCluster) quorumShape(quorate int, offline []string, seenBy string) []preflight.Finding {
	if len(r.ConfNodes) == 0 {
		return nil
	}
	readable := 0
	for _, m := range r.Members {
		if m.readable() {
			readable++
		}
	}
	nodes := len(r.ConfNodes)
	votes, qdev := r.nodeVotes(), 0
	q, hasQDevice := r.qdevice()
	if hasQDevice {
		qdev = pve.QDeviceVotes(q, votes)
	}
	expected := votes + qdev
	quorum := expected/2 + 1
	tolerate := 0
	for down := 1; down <= nodes; down++ {
		if expected-down < quorum { // each node one vote: the usual shape
			break
		}
		tolerate = down
	}
	shape := fmt.Sprintf("%d nodes", nodes)
	if hasQDevice {
		shape += fmt.Sprintf(" and a QDevice (%d)", qdev)
	}
	shape += fmt.Sprintf(": %d expected votes, quorum %d", expected, quorum)
	switch {
	case tolerate == 0 && !hasQDevice:
		shape += "; no node may fail without the cluster losing quorum"
	case hasQDevice:
		shape += fmt.Sprintf("; with the QDevice voting, %s may fail", pluralize(tolerate, "node"))
	default:
		shape += fmt.Sprintf("; %s may fail and the rest stay quorate", pluralize(tolerate, "node"))
	}
	var out []preflight.Finding
	switch {
	case readable > 0 && quorate == 0:
		out = append(out, fail("", "bring nodes back or repair the corosync network (see the members' quorum findings)", "no member is quorate (%s)", shape))
	case len(offline) > 0:
		left := tolerate - len(offline)
		more := "no further node may fail"
		if left > 0 {
			more = fmt.Sprintf("%s more may fail", pluralize(left, "node"))
		}
		out = append(out, warn("", "bring "+andListOf(offline)+" back (power, network, corosync on it)",
			"%s %s offline as %s sees it: the cluster is quorate, but %s (%s)", andListOf(offline), isAreNoun(len(offline)), seenBy, more, shape))
	case nodes == 2 && !hasQDevice:
		out = append(out, warn("", "add a QDevice (quorate qdevice) or a third node", "%s: two nodes hold 2 votes and need both: when either is down the other is not quorate", shape))
	case nodes%2 == 0 && !hasQDevice:
		out = append(out, warn("", "add or remove a node, or add a QDevice to break ties", "%s: an even count, so a split into halves leaves neither side quorate", shape))
	default:
		out = append(out, pass("", "%s", shape))
	}
	return out
}

func isAreNoun(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// checkMembership looks for split-brain signs: members that disagree about who is in the
// cluster, about the configuration version or the nodelist, or about the cluster's name.
func checkMembership(r *liveCluster) []preflight.Finding {
	var out []preflight.Finding
	// Whom each readable member sees.
	views := map[string][]string{} // key: the online set; value: who sees it
	var keys []string
	for _, m := range r.Members {
		if !m.readable() {
			continue
		}
		var names []string
		for _, id := range onlineIDs(m.Status) {
			names = append(names, r.nameOf(id))
		}
		k := strings.Join(names, " ")
		if _, ok := views[k]; !ok {
			keys = append(keys, k)
		}
		views[k] = append(views[k], m.Name)
	}
	if len(views) > 1 {
		var parts []string
		for _, k := range keys {
			who := views[k]
			verb := "sees"
			if len(who) > 1 {
				verb = "see"
			}
			parts = append(parts, fmt.Sprintf("%s %s %s", andListOf(who), verb, andListOf(strings.Fields(k))))
		}
		out = append(out, fail("", "find the break in the corosync network between the groups (corosync-links shows which links are down); never force quorum (pvecm expected) on both sides",
			"the members disagree about who is in the cluster: %s: a split brain in the making", strings.Join(parts, "; ")))
	}
	out = append(out, r.versionAgreement()...)
	// Nodelists and cluster names that differ between members' own corosync.conf.
	ref, refFrom := r.nodelistKey(r.ConfNodes), r.ConfFrom
	for _, m := range r.Members {
		if m.Facts == nil || m.Facts.LocalCorosyncConf == "" || r.Conf == nil || m.Conf.NodeID == 0 {
			continue
		}
		conf, err := pve.ParseCorosyncConf([]byte(m.Facts.LocalCorosyncConf))
		if err != nil {
			out = append(out, fail(m.Name, "compare /etc/corosync/corosync.conf on "+m.Name+" with /etc/pve/corosync.conf", "%s's /etc/corosync/corosync.conf does not parse: %v", m.Name, err))
			continue
		}
		if name := conf.ClusterName(); name != r.Cluster {
			out = append(out, fail(m.Name, "copy /etc/pve/corosync.conf over /etc/corosync/corosync.conf on "+m.Name+" and restart corosync there",
				"%s's corosync runs cluster %q, the others %q", m.Name, name, r.Cluster))
			continue
		}
		nodes, _ := conf.Nodes()
		if k := r.nodelistKey(nodes); k != ref {
			out = append(out, fail(m.Name, "copy /etc/pve/corosync.conf over /etc/corosync/corosync.conf on "+m.Name+" and run corosync-cfgtool -R there",
				"%s's /etc/corosync/corosync.conf lists other nodes than %s's /etc/pve/corosync.conf: %s, against %s", m.Name, refFrom, k, ref))
		}
	}
	for _, m := range r.Members {
		if m.Conf.NodeID == 0 && m.InFile && r.Conf != nil {
			out = append(out, warn(m.Name, "remove "+m.Name+" from "+r.File+", or join it (quorate up)",
				"%s is in %s but not in cluster %s's nodelist", m.Name, r.File, r.Cluster))
		}
	}
	if !slices.ContainsFunc(out, func(f preflight.Finding) bool { return f.Severity != preflight.Pass }) && len(views) == 1 {
		v := 0
		if r.Conf != nil {
			v, _ = r.Conf.ConfigVersion()
		}
		out = append(out, pass("", "every member sees %s and runs config version %d", andListOf(strings.Fields(keys[0])), v))
	}
	return out
}

// nodelistKey is a nodelist as one comparable text: "pve1/1/198.51.100.11 ...".
func (r *liveCluster) nodelistKey(nodes []pve.ConfNode) string {
	var parts []string
	for _, n := range nodes {
		var links []string
		for _, l := range sortedKeys(n.Links) {
			links = append(links, n.Links[l])
		}
		parts = append(parts, fmt.Sprintf("%s/%d/%s", n.Name, n.NodeID, strings.Join(links, ",")))
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[int]string) []int {
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// versionAgreement compares, on every member, the config version corosync runs with and the
// one in its /etc/corosync/corosync.conf with the cluster's (/etc/pve/corosync.conf): a
// member off the cluster's on either has a configuration of its own, and a file that differs
// from what corosync runs was edited without a reload (or the reload failed).
func (r *liveCluster) versionAgreement() []preflight.Finding {
	if r.Conf == nil {
		return nil
	}
	cluster, _ := r.Conf.ConfigVersion()
	type state struct {
		name          string
		runtime, file int // 0: unknown
	}
	var states []state
	onCluster := map[string]bool{}
	for _, m := range r.Members {
		if m.Conf.NodeID == 0 || !m.reached() {
			continue
		}
		st := state{name: m.Name}
		if m.Health != nil {
			st.runtime = m.Health.RuntimeConfigVersion
		}
		if m.Facts != nil && m.Facts.LocalCorosyncConf != "" {
			if conf, err := pve.ParseCorosyncConf([]byte(m.Facts.LocalCorosyncConf)); err == nil {
				st.file, _ = conf.ConfigVersion()
			}
		}
		if (st.runtime == 0 || st.runtime == cluster) && (st.file == 0 || st.file == cluster) {
			if st.runtime != 0 || st.file != 0 {
				onCluster[m.Name] = true
			}
			continue
		}
		states = append(states, st)
	}
	var peers []string
	for _, m := range r.Members {
		if onCluster[m.Name] {
			peers = append(peers, m.Name)
		}
	}
	others := "no other member runs it"
	if len(peers) > 0 {
		others = andListOf(peers) + " " + map[bool]string{true: "runs", false: "run"}[len(peers) == 1] + " it"
	}
	var out []preflight.Finding
	for _, st := range states {
		var parts []string
		switch {
		case st.runtime != 0 && st.file != 0 && st.runtime != st.file:
			parts = append(parts, fmt.Sprintf("corosync runs config version %d, its /etc/corosync/corosync.conf has %d (edited, not reloaded?)", st.runtime, st.file))
		case st.runtime != 0:
			parts = append(parts, fmt.Sprintf("corosync runs config version %d", st.runtime))
		default:
			parts = append(parts, fmt.Sprintf("/etc/corosync/corosync.conf has config version %d", st.file))
		}
		local := max(st.runtime, st.file)
		out = append(out, fail(st.name, "make /etc/pve/corosync.conf the one source: on "+st.name+" copy it over /etc/corosync/corosync.conf and run corosync-cfgtool -R (to keep "+st.name+"'s change, make it in /etc/pve/corosync.conf with a higher config_version instead)",
			"%s: %s, the cluster's /etc/pve/corosync.conf has %d (%s): a split-brain sign; %s",
			st.name, strings.Join(parts, "; "), cluster, others, versionConsequence(local, cluster)))
	}
	return out
}

// versionConsequence: pmxcfs copies a newer /etc/pve/corosync.conf to /etc/corosync and
// refuses to when the local one is newer (docs/pve.md §1.3).
func versionConsequence(local, cluster int) string {
	if local > cluster {
		return "pmxcfs does not copy the cluster's file over a newer local one, so this member keeps its own configuration through every change made in /etc/pve"
	}
	return "this member has not taken the cluster's last change (pmxcfs copies a newer /etc/pve/corosync.conf and reloads corosync: is pve-cluster running?)"
}

func checkServices(r *liveCluster) []preflight.Finding {
	var out []preflight.Finding
	for _, m := range r.Members {
		if !m.reached() {
			continue
		}
		if m.Health == nil {
			out = append(out, warn(m.Name, "run `systemctl is-active corosync pve-cluster` on "+m.Name, "could not read %s's services: %v", m.Name, m.HealthErr))
			continue
		}
		if len(m.Health.Services) == 0 {
			out = append(out, warn(m.Name, "", "%s has no systemctl to ask", m.Name))
			continue
		}
		var bad []string
		for _, unit := range []string{"corosync", "pve-cluster"} {
			if st := m.Health.Services[unit]; st != "active" {
				bad = append(bad, fmt.Sprintf("%s is %s", unit, orUnknown(st)))
			}
		}
		if len(bad) > 0 {
			out = append(out, fail(m.Name, "on "+m.Name+": systemctl restart corosync pve-cluster; journalctl -b -u corosync -u pve-cluster says why they stopped",
				"on %s %s", m.Name, strings.Join(bad, ", ")))
			continue
		}
		out = append(out, pass(m.Name, "corosync and pve-cluster are active"))
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func checkWritable(r *liveCluster) []preflight.Finding {
	var out []preflight.Finding
	for _, m := range r.Members {
		if !m.WritableRead {
			continue
		}
		switch {
		case m.Writable == nil:
			out = append(out, pass(m.Name, "/etc/pve takes a write"))
		case errors.Is(m.Writable, pve.ErrPmxcfsReadOnly):
			fix := "restore quorum on " + m.Name + " (see quorum)"
			if m.readable() && m.Status.State == pve.Quorate {
				fix = "on " + m.Name + ": systemctl restart pve-cluster (pmxcfs is behind corosync)"
			}
			out = append(out, fail(m.Name, fix, "/etc/pve is read-only on %s: %v", m.Name, m.Writable))
		default:
			out = append(out, warn(m.Name, "try `touch /etc/pve/x && rm /etc/pve/x` on "+m.Name, "could not test /etc/pve on %s: %v", m.Name, m.Writable))
		}
	}
	return out
}

// checkQDevice reads, when corosync.conf configures a QDevice, the flags every member's
// votequorum shows for it: A (alive: corosync-qdevice runs and talks to corosync), V (its vote
// counts for this member's partition, which needs the qnetd server), NMW or MW.
func checkQDevice(r *liveCluster) []preflight.Finding {
	q, ok := r.qdevice()
	if !ok {
		return nil
	}
	host := q.Host
	var out []preflight.Finding
	for _, m := range r.Members {
		if !m.readable() {
			continue
		}
		local, _ := m.Status.Local()
		flags := strings.Split(local.QDevice, ",")
		daemon := ""
		if m.QDeviceRead && m.QDeviceErr == nil && m.QDeviceRunning && m.QDevice != nil {
			daemon = fmt.Sprintf("; corosync-qdevice: %s to %s", orUnknown(m.QDevice.State), orUnknown(m.QDevice.QNetdHost))
		}
		switch {
		case m.QDeviceRead && m.QDeviceErr == nil && !m.QDeviceRunning:
			out = append(out, fail(m.Name, "on "+m.Name+": systemctl enable --now corosync-qdevice; journalctl -u corosync-qdevice says why it stopped",
				"corosync-qdevice does not run on %s, though corosync.conf configures a QDevice at %s", m.Name, host))
		case m.QDevice != nil && m.QDeviceRunning && !m.QDevice.Connected():
			out = append(out, fail(m.Name, "check that "+host+" answers on TCP 5403 from "+m.Name+" (corosync-qnetd running there, no firewall between)",
				"%s's corosync-qdevice is not connected to the qnetd server %s (state %s): the QDevice's vote is lost for %s", m.Name, orUnknown(m.QDevice.QNetdHost), orUnknown(m.QDevice.State), m.Name))
		case m.Status.QDevice == nil && local.QDevice == "":
			out = append(out, fail(m.Name, "on "+m.Name+": systemctl status corosync-qdevice (and that "+host+" answers on TCP 5403)",
				"%s's votequorum shows no QDevice, though corosync.conf configures one at %s", m.Name, host))
		case !slices.Contains(flags, "A"):
			out = append(out, fail(m.Name, "on "+m.Name+": systemctl restart corosync-qdevice; journalctl -u corosync-qdevice says why it stopped",
				"the QDevice is not alive on %s (flags %s): corosync-qdevice does not run or does not talk to corosync%s", m.Name, local.QDevice, daemon))
		case !slices.Contains(flags, "V"):
			out = append(out, warn(m.Name, "check that "+host+" answers on TCP 5403 from "+m.Name+" (corosync-qnetd running, no firewall between)",
				"the QDevice does not vote for %s (flags %s): the qnetd server %s is unreachable, or gave its vote to the other side%s", m.Name, local.QDevice, host, daemon))
		default:
			out = append(out, pass(m.Name, "QDevice %s alive and voting (flags %s%s)", host, local.QDevice, daemon))
		}
		if m.QDeviceErr != nil {
			out = append(out, warn(m.Name, "run `pvesh get /cluster/config/qdevice` on "+m.Name, "could not ask %s's corosync-qdevice: %v", m.Name, m.QDeviceErr))
		}
	}
	return out
}
