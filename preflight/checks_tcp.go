package preflight

import (
	"fmt"
	"strings"

	"github.com/quorate/quorate/inventory"
)

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
		fs := append(e.tcpFindings(n, joinBad[name], Error, true), e.tcpFindings(n, sshBad[name], Warning, false)...)
		if len(fs) > 0 {
			out = append(out, fs...)
			continue
		}
		out = append(out, passf(name, "%s", e.tcpPassText(n, join, ssh, joinPort)))
	}
	return out
}

// tcpFindings groups the failed connects blamed on n: one finding per port, end (n the
// target or the source) and outcome.
func (e *env) tcpFindings(n *node, paths []Path, sev Severity, join bool) []Finding {
	type key struct {
		port   int
		target bool
		result string
	}
	var order []key
	groups := map[key][]Path{}
	for _, p := range paths {
		k := key{p.Port, p.To == n.inv.Name, p.Result}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}
	var out []Finding
	for _, k := range order {
		out = append(out, e.tcpFinding(n, groups[k], sev, join))
	}
	return out
}

// tcpFinding is one finding for connects to one port that failed the same way, all to n or
// all from n.
func (e *env) tcpFinding(n *node, ps []Path, sev Severity, join bool) Finding {
	name, p := n.inv.Name, ps[0]
	var ends []string
	for _, q := range ps {
		if p.To == name {
			ends = append(ends, q.From)
		} else {
			ends = append(ends, fmt.Sprintf("%s (%s)", q.To, q.Address))
		}
	}
	what := fmt.Sprintf("TCP %d from %s to %s", p.Port, name, andList(ends))
	if p.To == name {
		what = fmt.Sprintf("TCP %d to %s (%s) from %s", p.Port, name, p.Address, andList(ends))
	}
	if join {
		what += ", to join through it,"
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
		fix = fmt.Sprintf("let TCP %d pass between %s and %s (the firewalls of both, and any filter between them)", p.Port, name, andList(ends))
	case "unknown":
		msg = what + " was not decided: " + p.Detail
		fix = "make the probes possible on " + name + " (see its other findings)"
		sev = Warning
	default:
		msg = what + " fails: " + p.Detail
		fix = "check the routes between " + name + " and " + andList(ends)
	}
	if !join && p.Port == 22 && p.Result != "unknown" {
		msg += ": PVE uses ssh between nodes (migration, replication, pvecm add --use_ssh)"
	}
	hook := "output"
	if p.To == name {
		hook = "input"
	}
	if r := ruleFor(n, "tcp", p.Port, hook); r != nil && p.Result != "unknown" {
		msg += "; likely cause on " + name + ": " + r.String()
		fix = "on " + name + ", remove or narrow that rule (" + r.Tool + " " + r.Table + " chain " + r.Chain + ")"
	}
	return Finding{Node: name, Severity: sev, Message: msg, Fix: fix, Paths: ps}
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
