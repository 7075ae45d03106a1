package preflight

import (
	"fmt"
	"sort"
	"strings"
)

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
