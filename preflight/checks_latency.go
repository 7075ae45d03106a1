package preflight

import (
	"fmt"
	"slices"
)

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

// checkLatency judges each pair's round trip on each link by the shortest of its probes' (see
// RTT.Min: the probes run on nodes that are busy with the rest of the preflight), and blames
// the node whose every pair is slow, else both ends.
func checkLatency(e *env) []Finding {
	var out []Finding
	for _, l := range e.linkNumbers() {
		pairs := e.linkRTTs(l)
		slow := func(p pairRTT) bool { return p.rtt.Min > latencyWarnMS }
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
			if p.rtt.Min > latencyErrorMS && len(e.inv.Nodes) > 3 {
				sev = Error
			}
			parts = append(parts, fmt.Sprintf("to %s %s ms (median %s, jitter %s ms)", other(p), fmtMS(p.rtt.Min), fmtMS(p.rtt.Median), fmtMS(p.rtt.Jitter)))
		}
		msg := fmt.Sprintf("link%d: round trips of %s %s: corosync wants under 5 ms", l, name, joinList(parts))
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
		if p.rtt.Min > latencyWarnMS {
			elsewhere = append(elsewhere, other(p))
			continue
		}
		if len(peers) == 0 || p.rtt.Min < lo {
			lo = p.rtt.Min
		}
		hi = max(hi, p.rtt.Min)
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
