package preflight

import (
	"fmt"
	"slices"
)

// check is one named check. A node check runs once per node whose facts were read (every
// node for ssh-access, which reports the unreachable ones); a cluster check runs once and
// names the nodes it blames.
type check struct {
	name     string
	node     func(e *env, n *node) []Finding
	cluster  func(e *env) []Finding
	allNodes bool // node runs for nodes without facts too
}

// checks is the preflight, in the order it is reported. The names are stable: they are the
// handles of --ignore-check and of the JSON.
var checks = []check{
	{name: "ssh-access", node: checkSSHAccess, allNodes: true},
	{name: "pve-installed", node: checkPVEInstalled},
	{name: "hostname-resolves", node: checkHostnameResolves},
	{name: "node-name", node: checkNodeName},
	{name: "link-addresses", node: checkLinkAddresses},
	{name: "cluster-membership", node: checkClusterMembership},
	{name: "guests", node: checkGuests},
	{name: "time-sync", node: checkTimeSync},
	{name: "link-interface", node: checkLinkInterface},
	{name: "dhcp-address", node: checkDHCPAddress},
	{name: "firewall", node: checkFirewall},
	{name: "unique-identity", cluster: checkUniqueIdentity},
	{name: "versions", cluster: checkVersions},
	{name: "corosync-udp", cluster: checkCorosyncUDP},
	{name: "api-port", cluster: checkAPIPort},
	{name: "latency", cluster: checkLatency},
	{name: "mtu", cluster: checkMTU},
	{name: "clock-offset", cluster: checkClockOffset},
	{name: "node-count", cluster: checkNodeCount},
	{name: "ip-family", cluster: checkIPFamily},
}

// Checks returns every check's stable name, in the order reports list them.
func Checks() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.name
	}
	return out
}

// findings runs every check, turns the errors of ignored checks into warnings, and orders
// the findings by check, then by node as the cluster file lists them (the cluster first).
func (e *env) findings() []Finding {
	var out []Finding
	for _, c := range checks {
		var fs []Finding
		if c.node != nil {
			for _, n := range e.nodes {
				if n.facts == nil && !c.allNodes {
					continue
				}
				fs = append(fs, c.node(e, n)...)
			}
		}
		if c.cluster != nil {
			fs = append(fs, c.cluster(e)...)
		}
		for i := range fs {
			fs[i].Check = c.name
		}
		order := map[string]int{"": -1}
		for _, n := range e.nodes {
			order[n.inv.Name] = n.idx
		}
		slices.SortStableFunc(fs, func(a, b Finding) int { return order[a.Node] - order[b.Node] })
		out = append(out, fs...)
	}
	for i := range out {
		if out[i].Severity == Error && slices.Contains(e.opts.Ignore, out[i].Check) {
			out[i].Severity, out[i].Ignored = Warning, true
		}
	}
	return out
}

// Finding constructors; the check fills in its name.

func passf(node, format string, args ...any) Finding {
	return Finding{Node: node, Severity: Pass, Message: fmt.Sprintf(format, args...)}
}

func warnf(node, fix, format string, args ...any) Finding {
	return Finding{Node: node, Severity: Warning, Fix: fix, Message: fmt.Sprintf(format, args...)}
}

func errorf(node, fix, format string, args ...any) Finding {
	return Finding{Node: node, Severity: Error, Fix: fix, Message: fmt.Sprintf(format, args...)}
}
