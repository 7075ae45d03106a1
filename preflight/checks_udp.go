package preflight

import (
	"fmt"
	"strings"
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
