package preflight

import (
	"github.com/quorate/quorate/pve"
)

// A failed path has two ends, and the finding goes to the one that is the likely cause, so
// that one host's fault shows on that host alone:
//  1. a firewall rule on one end that names the port, in the chain the traffic passes
//     there (input at the destination, output at the source);
//  2. else the destination, when everything sent to it fails;
//  3. else the source, when everything it sends fails;
//  4. else the destination (filters on input are the common case).

// blame returns the name of the node path p (one of failed) is blamed on; all are the paths
// of the same kind p is compared with.
func (e *env) blame(p Path, failed func(Path) bool, all []Path) string {
	s, d := e.byName(p.From), e.byName(p.To)
	if p.Result == "unknown" {
		switch {
		case s.agent == nil:
			return s.inv.Name
		case d.agent == nil && p.Proto == "udp":
			return d.inv.Name
		case p.Proto == "tcp": // the connect is the source agent's alone
			return s.inv.Name
		}
		if b, ok := s.agent.binds[p.Link]; p.Proto == "udp" && (!ok || (b.mode != "udp" && b.mode != "raw")) {
			return s.inv.Name
		}
		return d.inv.Name
	}
	if p.Result == "refused" {
		return d.inv.Name // nothing listens there
	}
	dr := ruleFor(d, p.Proto, p.Port, "input")
	sr := ruleFor(s, p.Proto, p.Port, "output")
	switch {
	case dr != nil:
		return d.inv.Name
	case sr != nil:
		return s.inv.Name
	case everyFails(all, failed, func(q Path) bool { return q.To == p.To }):
		return d.inv.Name
	case everyFails(all, failed, func(q Path) bool { return q.From == p.From }):
		return s.inv.Name
	}
	return d.inv.Name
}

// everyFails reports whether there is more than one path that sel picks, and all fail: one
// path alone tells nothing about which end is at fault.
func everyFails(all []Path, failed func(Path) bool, sel func(Path) bool) bool {
	n := 0
	for _, q := range all {
		if !sel(q) {
			continue
		}
		if !failed(q) {
			return false
		}
		n++
	}
	return n > 1
}

// ruleFor is the first rule of n's facts that drops or rejects proto port in the chain of hook
// (or in a chain without a hook, which a base chain may jump to); nil when none.
func ruleFor(n *node, proto string, port int, hook string) *pve.FirewallRule {
	if n == nil || n.facts == nil {
		return nil
	}
	for i, r := range n.facts.Firewall.Rules {
		if (r.Hook == hook || r.Hook == "") && r.MatchesPort(proto, port) {
			return &n.facts.Firewall.Rules[i]
		}
	}
	return nil
}
