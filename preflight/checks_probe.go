package preflight

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/quorate/quorate/inventory"
)

// lossWarnPct is the loss above which a path that passes is still a warning: corosync
// tolerates some, but a link that loses one datagram in five is not a stable one.
const lossWarnPct = 20

// blamed groups the failed paths among paths by the node they are blamed on; like are the
// paths each is compared with (see blame).
func (e *env) blamed(paths, like []Path, failed func(Path) bool) map[string][]Path {
	out := map[string][]Path{}
	for _, p := range paths {
		if failed(p) {
			who := e.blame(p, failed, like)
			out[who] = append(out[who], p)
		}
	}
	return out
}

func checkCorosyncUDP(e *env) []Finding {
	var out []Finding
	for _, l := range e.linkNumbers() {
		paths := e.udpPaths(l)
		bad := func(p Path) bool { return p.Result != "ok" || p.LossPct >= lossWarnPct }
		byNode := e.blamed(paths, paths, bad)
		for _, n := range e.nodes {
			if !n.reached() {
				continue
			}
			if mine := byNode[n.inv.Name]; len(mine) > 0 {
				out = append(out, e.udpFinding(n, l, mine))
				continue
			}
			if f, ok := e.udpPass(n, l, paths, bad); ok {
				out = append(out, f)
			}
		}
	}
	return out
}

// udpFinding is the finding for the failed paths of link l blamed on n.
func (e *env) udpFinding(n *node, l int, mine []Path) Finding {
	name := n.inv.Name
	var in, outs, lossy, unknown []string
	sev := Warning
	for _, p := range mine {
		switch {
		case p.Result == "blocked" && p.To == name:
			in = append(in, p.From)
			sev = Error
		case p.Result == "blocked":
			outs = append(outs, fmt.Sprintf("%s (%s:%d)", p.To, p.Address, p.Port))
			sev = Error
		case p.Result == "ok":
			lossy = append(lossy, fmt.Sprintf("%s to %s %.0f%%", p.From, p.To, p.LossPct))
		default:
			unknown = append(unknown, fmt.Sprintf("%s to %s: %s", p.From, p.To, p.Detail))
		}
	}
	port := e.opts.PortBase + l
	addr, _ := n.linkAddr(l)
	var parts []string
	if len(in) > 0 {
		parts = append(parts, fmt.Sprintf("UDP to %s %s:%d does not arrive from %s", name, addr, port, andList(in)))
	}
	if len(outs) > 0 {
		parts = append(parts, fmt.Sprintf("UDP from %s does not reach %s", name, andList(outs)))
	}
	if len(lossy) > 0 {
		parts = append(parts, "probes lost: "+andList(lossy))
	}
	if len(unknown) > 0 {
		parts = append(parts, "not decided: "+strings.Join(unknown, "; "))
	}
	msg := fmt.Sprintf("link%d: %s", l, strings.Join(parts, "; "))
	fix := fmt.Sprintf("let UDP %d-%d pass between %s's link addresses and the other nodes' (its firewall, and any filter between them)", e.opts.PortBase, e.opts.PortBase+7, name)
	if r := ruleFor(n, "udp", port, "input"); r != nil && len(in) > 0 {
		msg += "; likely cause on " + name + ": " + r.String()
		fix = "on " + name + ", remove or narrow that rule (" + r.Tool + " " + r.Table + " chain " + r.Chain + ")"
	} else if r := ruleFor(n, "udp", port, "output"); r != nil && len(outs) > 0 {
		msg += "; likely cause on " + name + ": " + r.String()
		fix = "on " + name + ", remove or narrow that rule (" + r.Tool + " " + r.Table + " chain " + r.Chain + ")"
	}
	if sev == Warning && len(unknown) > 0 && len(lossy) == 0 {
		fix = "make the probes possible on " + name + " (see its other findings; perl is part of every PVE install)"
	}
	return Finding{Node: name, Severity: sev, Message: msg, Fix: fix, Paths: mine}
}

// udpPass describes n's paths on link l that passed; ok is false when n has none there.
func (e *env) udpPass(n *node, l int, paths []Path, bad func(Path) bool) (Finding, bool) {
	name := n.inv.Name
	var peers, elsewhere []string
	worst := 0.0
	for _, p := range paths {
		if p.From != name {
			continue
		}
		back := findPath(paths, p.To, name)
		if bad(p) || (back != nil && bad(*back)) {
			elsewhere = appendUnique(elsewhere, p.To)
			continue
		}
		peers = append(peers, p.To)
		worst = max(worst, p.LossPct)
		if back != nil {
			worst = max(worst, back.LossPct)
		}
	}
	if len(peers) == 0 && len(elsewhere) == 0 {
		return Finding{}, false
	}
	msg := fmt.Sprintf("link%d: UDP %d passes both ways with %s", l, e.opts.PortBase+l, orDash(andList(peers)))
	if len(peers) > 0 {
		msg += fmt.Sprintf(" (loss %.0f%%)", worst)
	}
	if len(elsewhere) > 0 {
		msg += "; with " + andList(elsewhere) + ": see " + andList(elsewhere)
	}
	if b, ok := n.agent.bindOn(l); ok && b.mode == "raw" {
		msg += "; arrivals on " + name + " seen by a raw socket: corosync holds the port"
	}
	return passf(name, "%s", msg), true
}

func (a *agentResult) bindOn(l int) (agentBind, bool) {
	if a == nil {
		return agentBind{}, false
	}
	b, ok := a.binds[l]
	return b, ok
}

func findPath(paths []Path, from, to string) *Path {
	for i := range paths {
		if paths[i].From == from && paths[i].To == to {
			return &paths[i]
		}
	}
	return nil
}

func appendUnique(s []string, v string) []string {
	if contains(s, v) {
		return s
	}
	return append(s, v)
}

// checkAPIPort: each joiner must reach the node it joins through on TCP 8006 (the API join)
// or 22 (join: ssh), which is an error; TCP 22 between all nodes is a warning, since PVE
// uses it between members (docs/pve.md §6.1).
func checkAPIPort(e *env) []Finding {
	joinPort := 8006
	if e.inv.Cluster.Join == inventory.JoinSSH {
		joinPort = 22
	}
	all := e.tcpPaths()
	isJoin := func(p Path) bool {
		s := e.byName(p.From)
		return p.Port == joinPort && s.role == roleJoiner && e.through != nil && p.To == e.through.inv.Name
	}
	var join, ssh, samePort []Path
	for _, p := range all {
		switch {
		case isJoin(p):
			join = append(join, p)
		case p.Port == 22:
			ssh = append(ssh, p)
		}
		if p.Port == joinPort {
			samePort = append(samePort, p)
		}
	}
	failed := func(p Path) bool { return p.Result != "ok" }
	// A joiner's connect is compared with every connect to that port (the agents try all
	// nodes'), so that one joiner's own filter is told from the target's.
	joinBad, sshBad := e.blamed(join, samePort, failed), e.blamed(ssh, ssh, failed)
	var out []Finding
	for _, n := range e.nodes {
		if !n.reached() {
			continue
		}
		name := n.inv.Name
		var fs []Finding
		for _, p := range joinBad[name] {
			fs = append(fs, e.tcpFinding(n, p, Error, true))
		}
		for _, p := range sshBad[name] {
			fs = append(fs, e.tcpFinding(n, p, Warning, false))
		}
		if len(fs) > 0 {
			out = append(out, fs...)
			continue
		}
		out = append(out, passf(name, "%s", e.tcpPassText(n, join, ssh, joinPort)))
	}
	return out
}

func (e *env) tcpFinding(n *node, p Path, sev Severity, join bool) Finding {
	name := n.inv.Name
	what := fmt.Sprintf("TCP %d from %s to %s (%s)", p.Port, p.From, p.To, p.Address)
	if join {
		what += ", the node " + p.From + " joins through,"
	}
	var msg, fix string
	switch p.Result {
	case "refused":
		msg = what + " is refused: nothing listens there"
		fix = "start pveproxy on " + p.To + " (systemctl restart pveproxy)"
		if p.Port == 22 {
			fix = "start sshd on " + p.To + " and let it listen on " + p.Address
		}
	case "blocked":
		msg = what + " is blocked (" + p.Detail + ")"
		fix = fmt.Sprintf("let TCP %d from %s reach %s:%d (the firewalls of both, and any filter between them)", p.Port, p.From, p.To, p.Port)
	case "unknown":
		msg = what + " was not decided: " + p.Detail
		fix = "make the probes possible on " + name + " (see its other findings)"
		sev = Warning
	default:
		msg = what + " fails: " + p.Detail
		fix = "check the routes between " + p.From + " and " + p.To
	}
	if !join && p.Port == 22 && sev == Warning && p.Result != "unknown" {
		msg += ": PVE uses ssh between nodes (migration, replication, pvecm add --use_ssh)"
	}
	hook := "input"
	if name == p.From {
		hook = "output"
	}
	if r := ruleFor(n, "tcp", p.Port, hook); r != nil && p.Result != "unknown" {
		msg += "; likely cause on " + name + ": " + r.String()
		fix = "on " + name + ", remove or narrow that rule (" + r.Tool + " " + r.Table + " chain " + r.Chain + ")"
	}
	return Finding{Node: name, Severity: sev, Message: msg, Fix: fix, Paths: []Path{p}}
}

func (e *env) tcpPassText(n *node, join, ssh []Path, joinPort int) string {
	name := n.inv.Name
	var parts []string
	var from []string
	for _, p := range join {
		if p.From == name && p.Result == "ok" {
			parts = append(parts, fmt.Sprintf("TCP %d to %s (%s), the node it joins through, connects in %s ms", p.Port, p.To, p.Address, fmtMS(p.RTT.Median)))
		}
		if p.To == name && p.Result == "ok" {
			from = append(from, p.From)
		}
	}
	if len(from) > 0 {
		parts = append(parts, fmt.Sprintf("TCP %d from %s connects", joinPort, andList(from)))
	}
	var peers []string
	for _, p := range ssh {
		if p.From == name && p.Result == "ok" && findPath(ssh, p.To, name) != nil && findPath(ssh, p.To, name).Result == "ok" {
			peers = append(peers, p.To)
		}
	}
	if len(peers) > 0 {
		parts = append(parts, "TCP 22 connects both ways with "+andList(peers))
	}
	if len(parts) == 0 {
		return "no TCP path to check"
	}
	return strings.Join(parts, "; ")
}

// Latency thresholds of docs/pve.md §6.4: corosync wants under 5 ms; above about 10 ms a
// cluster of more than three nodes is unlikely to be stable.
const (
	latencyWarnMS  = 5.0
	latencyErrorMS = 10.0
)

// pairRTT is the round trips between two nodes on one link, both directions' probes together.
type pairRTT struct {
	a, b string
	rtt  *RTT
}

func checkLatency(e *env) []Finding {
	var out []Finding
	for _, l := range e.linkNumbers() {
		pairs := e.linkRTTs(l)
		slow := func(p pairRTT) bool { return p.rtt.Typical > latencyWarnMS }
		blamedOn := map[string][]pairRTT{}
		culprit := map[string]bool{}
		for _, n := range e.nodes {
			mine, all := 0, true
			for _, p := range pairs {
				if p.a == n.inv.Name || p.b == n.inv.Name {
					mine++
					all = all && slow(p)
				}
			}
			culprit[n.inv.Name] = mine > 0 && all && (mine > 1 || len(e.nodes) == 2)
		}
		for _, p := range pairs {
			if !slow(p) {
				continue
			}
			switch {
			case culprit[p.a] || culprit[p.b]:
				for _, x := range []string{p.a, p.b} {
					if culprit[x] {
						blamedOn[x] = append(blamedOn[x], p)
					}
				}
			default:
				blamedOn[p.a] = append(blamedOn[p.a], p)
				blamedOn[p.b] = append(blamedOn[p.b], p)
			}
		}
		for _, n := range e.nodes {
			if f, ok := e.latencyFinding(n, l, pairs, blamedOn[n.inv.Name]); ok {
				out = append(out, f)
			}
		}
	}
	return out
}

func (e *env) latencyFinding(n *node, l int, pairs []pairRTT, mine []pairRTT) (Finding, bool) {
	name := n.inv.Name
	other := func(p pairRTT) string {
		if p.a == name {
			return p.b
		}
		return p.a
	}
	if len(mine) > 0 {
		sev := Warning
		var parts []string
		for _, p := range mine {
			if p.rtt.Typical > latencyErrorMS && len(e.inv.Nodes) > 3 {
				sev = Error
			}
			parts = append(parts, fmt.Sprintf("%s %s ms (jitter %s ms)", other(p), fmtMS(p.rtt.Typical), fmtMS(p.rtt.Jitter)))
		}
		msg := fmt.Sprintf("link%d: round trip from %s to %s: corosync wants under 5 ms", l, name, andList(parts))
		if sev == Error {
			msg += ", and a cluster of more than three nodes is unlikely to be stable above 10 ms"
		}
		return Finding{Node: name, Severity: sev, Message: msg,
			Fix: fmt.Sprintf("carry corosync link%d of %s on a low-latency network (a LAN; docs/pve.md §6.4)", l, name)}, true
	}
	var lo, hi, jit float64
	var peers, elsewhere []string
	for _, p := range pairs {
		if p.a != name && p.b != name {
			continue
		}
		if p.rtt.Typical > latencyWarnMS {
			elsewhere = append(elsewhere, other(p))
			continue
		}
		if len(peers) == 0 || p.rtt.Typical < lo {
			lo = p.rtt.Typical
		}
		hi = max(hi, p.rtt.Typical)
		jit = max(jit, p.rtt.Jitter)
		peers = append(peers, other(p))
	}
	if len(peers) == 0 && len(elsewhere) == 0 {
		return Finding{}, false
	}
	msg := fmt.Sprintf("link%d: round trip to %s", l, orDash(andList(peers)))
	if len(peers) > 0 {
		rtt := fmtMS(lo) + " to " + fmtMS(hi)
		if fmtMS(lo) == fmtMS(hi) {
			rtt = fmtMS(lo)
		}
		msg += fmt.Sprintf(" %s ms (jitter up to %s ms)", rtt, fmtMS(jit))
	}
	if len(elsewhere) > 0 {
		msg += "; with " + andList(elsewhere) + ": see " + andList(elsewhere)
	}
	return passf(name, "%s", msg), true
}

// linkRTTs pairs up the round trips of link l, in the cluster file's order: both agents'
// echoed probes between the two nodes together.
func (e *env) linkRTTs(l int) []pairRTT {
	var out []pairRTT
	for i, a := range e.nodes {
		for _, b := range e.nodes[i+1:] {
			if a.agent == nil || b.agent == nil {
				continue
			}
			samples := slices.Concat(a.agent.tx[peerLink{b.idx, l}].rtt, b.agent.tx[peerLink{a.idx, l}].rtt)
			if r := summarise(samples); r != nil {
				out = append(out, pairRTT{a: a.inv.Name, b: b.inv.Name, rtt: r})
			}
		}
	}
	return out
}

func fmtMS(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.2f", ms)
}

// checkFirewall reports the PVE firewall's state and the local rules that drop or reject
// corosync, 8006 or 22. A rule is only a warning when the probes through this node on its
// port failed (or could not be decided): then it is the likely cause; a rule the probes show
// does not apply to the cluster's traffic is noted in the pass.
func checkFirewall(e *env, n *node) []Finding {
	name, fw := n.inv.Name, n.facts.Firewall
	state := "PVE firewall "
	switch {
	case fw.ClusterEnabled != nil && *fw.ClusterEnabled && (fw.HostEnabled == nil || *fw.HostEnabled):
		state += "on (cluster.fw enable: 1)"
	case fw.ClusterEnabled != nil && *fw.ClusterEnabled:
		state += "on for the cluster, off for this host (host.fw enable: 0)"
	default:
		state += "off"
	}
	if fw.PVEStatus != "" {
		state += ", pve-firewall " + strings.TrimPrefix(fw.PVEStatus, "Status: ")
	}
	type port struct {
		proto string
		num   int
	}
	ports := []port{{"tcp", 22}, {"tcp", 8006}}
	for _, l := range n.links() {
		ports = append(ports, port{"udp", e.opts.PortBase + l.num})
	}
	paths := e.allPaths()
	var causes, harmless []string
	for _, p := range ports {
		failed, undecided := false, false
		for _, q := range paths {
			if q.Proto != p.proto || q.Port != p.num || (q.From != name && q.To != name) {
				continue
			}
			failed = failed || (q.Result != "ok" && q.Result != "unknown")
			undecided = undecided || q.Result == "unknown"
		}
		for _, r := range n.facts.Firewall.Rules {
			if !r.MatchesPort(p.proto, p.num) {
				continue
			}
			text := fmt.Sprintf("%s %d: %s", strings.ToUpper(p.proto), p.num, r)
			if failed || undecided {
				causes = appendUnique(causes, text)
			} else {
				harmless = appendUnique(harmless, text)
			}
		}
	}
	sort.Strings(harmless)
	if len(causes) > 0 {
		return []Finding{warnf(name, "on "+name+", remove or narrow these rules if cluster traffic must pass them (nft list ruleset; iptables-save)",
			"%s; rules that drop or reject cluster traffic, the likely cause of what the probes found: %s", state, strings.Join(causes, "; "))}
	}
	msg := state + "; no local rule drops or rejects UDP 5405-5412, TCP 8006 or 22"
	if len(harmless) > 0 {
		msg = state + "; the probes pass despite: " + strings.Join(harmless, "; ")
	}
	return []Finding{passf(name, "%s", msg)}
}
