package preflight

import (
	"fmt"
	"strings"
)

// identity is one thing that must differ between nodes.
type identity struct {
	what     string
	severity Severity
	fix      func(node string) string
	values   func(n *node) []string
}

var identities = []identity{
	{
		what: "node name", severity: Error,
		fix: func(node string) string {
			return "give " + node + " a name of its own (hostnamectl set-hostname, and /etc/hosts)"
		},
		values: func(n *node) []string { return nonEmpty(n.facts.NodeName) },
	},
	{
		what: "address", severity: Error,
		fix: func(node string) string {
			return "give " + node + " addresses of its own (a cloned network configuration?)"
		},
		values: func(n *node) []string {
			var out []string
			for _, l := range n.links() {
				if l.addr.IsValid() {
					out = append(out, l.addr.String())
				}
			}
			if a, ok := n.facts.PrimaryAddress(); ok {
				out = append(out, a.String())
			}
			return out
		},
	},
	{
		what: "SSH host key", severity: Warning,
		fix: func(node string) string {
			return "on " + node + ": rm /etc/ssh/ssh_host_* && dpkg-reconfigure openssh-server, then accept its new key"
		},
		values: func(n *node) []string {
			out := nonEmpty(n.target.HostKey)
			for _, k := range n.facts.SSHHostKeys {
				out = append(out, k.Fingerprint)
			}
			return out
		},
	},
	{
		what: "machine-id", severity: Warning,
		fix: func(node string) string {
			return "on " + node + ": rm /etc/machine-id && systemd-machine-id-setup, then reboot it"
		},
		values: func(n *node) []string { return nonEmpty(n.facts.MachineID) },
	},
}

// checkUniqueIdentity finds what nodes share that must be theirs alone: cloned templates
// share host keys and machine-ids. Every node that shares is blamed.
func checkUniqueIdentity(e *env) []Finding {
	var out []Finding
	for _, n := range e.nodes {
		if n.facts == nil {
			continue
		}
		var bad []Finding
		for _, id := range identities {
			mine := map[string]bool{}
			for _, v := range id.values(n) {
				mine[v] = true
			}
			var shared, with []string
			for _, o := range e.nodes {
				if o == n || o.facts == nil {
					continue
				}
				for _, v := range id.values(o) {
					if mine[v] && !contains(shared, v) {
						shared = append(shared, v)
					}
					if mine[v] && !contains(with, o.inv.Name) {
						with = append(with, o.inv.Name)
					}
				}
			}
			if len(shared) == 0 {
				continue
			}
			what := id.what
			if len(shared) > 1 {
				what += "s"
			}
			msg := fmt.Sprintf("%s has the same %s as %s (%s): cloned from one template?", n.inv.Name, what, andList(with), clip(joinList(shared), 120))
			bad = append(bad, Finding{Node: n.inv.Name, Severity: id.severity, Message: msg, Fix: id.fix(n.inv.Name)})
		}
		if len(bad) == 0 {
			out = append(out, passf(n.inv.Name, "node name, addresses, SSH host keys and machine-id are its own"))
		}
		out = append(out, bad...)
	}
	return out
}

// checkVersions compares the PVE major.minor of every node with the most common one (a tie:
// the node joiners go through). Another major is an error, another minor a warning.
func checkVersions(e *env) []Finding {
	type mm struct{ major, minor int }
	vers := map[string]mm{}
	var names []string
	for _, n := range e.nodes {
		if n.facts != nil && n.facts.PVEVersion != nil {
			v := n.facts.PVEVersion.Version
			vers[n.inv.Name] = mm{v.Major, v.Minor}
			names = append(names, n.inv.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	ordered := names
	if e.through != nil && contains(names, e.through.inv.Name) {
		ordered = append([]string{e.through.inv.Name}, names...)
	}
	counts := map[mm]int{}
	for _, n := range names {
		counts[vers[n]]++
	}
	common, best := mm{}, 0
	for _, n := range ordered {
		if c := counts[vers[n]]; c > best {
			common, best = vers[n], c
		}
	}
	var out []Finding
	for _, name := range names {
		v := vers[name]
		full := e.byName(name).facts.PVEVersion.Version.String()
		others := fmt.Sprintf("%d.%d", common.major, common.minor)
		switch {
		case v == common:
			out = append(out, passf(name, "Proxmox VE %d.%d (%s), as on the other nodes", v.major, v.minor, full))
		case v.major != common.major:
			out = append(out, errorf(name, "upgrade (or reinstall) "+name+" to Proxmox VE "+others+", as the other nodes",
				"%s runs Proxmox VE %s, the other nodes %s: a cluster runs one major version", name, full, others))
		default:
			out = append(out, warnf(name, "update "+name+" and the other nodes to the same Proxmox VE release (apt full-upgrade)",
				"%s runs Proxmox VE %s, the other nodes %s: all nodes should have the same version", name, full, others))
		}
	}
	return out
}

// checkNodeCount: PVE's supported shapes (docs/pve.md §6.4, §3.6): three or more nodes for
// high availability; two only with a QDevice; an even count splits into halves that are
// both not quorate unless a QDevice breaks the tie.
func checkNodeCount(e *env) []Finding {
	count := len(e.inv.Nodes)
	qdev := e.inv.QDevice != nil
	switch {
	case count == 1:
		return []Finding{warnf("", "add nodes: three or more for high availability", "one node: a cluster of one has no high availability")}
	case count == 2 && !qdev:
		return []Finding{warnf("", "add a QDevice (a qdevice: section in "+e.inv.File+", then quorate qdevice) or a third node",
			"two nodes: when either is down the other loses quorum")}
	case count%2 == 0 && !qdev:
		return []Finding{warnf("", "add or remove a node, or add a QDevice to break ties",
			"%d nodes, an even count: a split into halves leaves neither side quorate", count)}
	case qdev:
		return []Finding{passf("", "%d nodes and a QDevice", count)}
	}
	return []Finding{passf("", "%d nodes: the cluster stays quorate with %d down", count, (count-1)/2)}
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimSpace(s[:n]) + "..."
}
