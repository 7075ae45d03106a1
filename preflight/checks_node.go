package preflight

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

// link is one corosync link of a node as the cluster file gives it.
type link struct {
	num  int
	raw  string
	addr netip.Addr // invalid when raw is not an IP address
}

func (n *node) links() []link {
	var out []link
	for i, s := range n.inv.Links {
		a, err := netip.ParseAddr(s)
		if err != nil {
			a = netip.Addr{}
		}
		out = append(out, link{num: i, raw: s, addr: a.Unmap()})
	}
	return out
}

// linkAddr is the node's address on link l, if it has a valid one.
func (n *node) linkAddr(l int) (netip.Addr, bool) {
	if l < 0 || l >= len(n.inv.Links) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(n.inv.Links[l])
	return a.Unmap(), err == nil
}

func checkSSHAccess(e *env, n *node) []Finding {
	name := n.inv.Name
	if !n.reached() {
		return []Finding{errorf(name, dialFix(n), "cannot log in to %s (%s): %v", name, n.inv.Address, n.target.DialErr)}
	}
	if n.facts == nil {
		return []Finding{errorf(name, "check that a command run over ssh works on "+name+", e.g. `ssh root@"+n.inv.Address+" true` (a login script that exits, or reads stdin, breaks it)",
			"logged in to %s, but its facts could not be read: %v", name, n.factsErr)}
	}
	f := n.facts
	if f.UID > 0 {
		return []Finding{errorf(name, "log in as root: set ssh.user: root in "+e.inv.File,
			"logged in to %s as %s (uid %d), not root: pvecm and the cluster files need root", name, orDash(f.User), f.UID)}
	}
	return []Finding{passf(name, "logged in to %s as root", name)}
}

// dialFix says what to do about a node that could not be reached, by the kind of failure.
func dialFix(n *node) string {
	err, addr := n.target.DialErr, n.inv.Address
	switch {
	case errors.Is(err, remote.ErrAuth):
		return "give quorate a key root on " + n.inv.Name + " accepts (ssh-add, ssh.identity_file) or its password (--password-env)"
	case errors.Is(err, remote.ErrHostKeyChanged):
		return "if " + n.inv.Name + " was reinstalled, remove its old key (ssh-keygen -R " + addr + ") and check the new one"
	case errors.Is(err, remote.ErrHostKeyUnknown):
		return "accept " + n.inv.Name + "'s host key first (quorate init, or ssh root@" + addr + " once)"
	}
	return "check that " + n.inv.Name + " is up and that " + addr + " port 22 is reachable from here"
}

func checkPVEInstalled(e *env, n *node) []Finding {
	name, f := n.inv.Name, n.facts
	fix := "install Proxmox VE 7 or later on " + name
	if f.PVEVersion == nil {
		if slices.Contains(f.Missing, "pveversion") {
			return []Finding{errorf(name, fix, "pveversion is not installed on %s: it is not a Proxmox VE host", name)}
		}
		return []Finding{errorf(name, fix, "pveversion on %s printed %q, not a pve-manager version", name, f.PVEVersionLine)}
	}
	v := f.PVEVersion.Version
	if v.Major < 7 {
		return []Finding{errorf(name, "upgrade "+name+" to Proxmox VE 7 or later", "%s runs Proxmox VE %s: quorate needs 7 or later", name, v)}
	}
	msg := fmt.Sprintf("Proxmox VE %s (pve-manager/%s/%s", v, v, f.PVEVersion.RepoID)
	if f.PVEVersion.Kernel != "" {
		msg += ", kernel " + f.PVEVersion.Kernel
	}
	msg += ")"
	if !f.PmxcfsMounted {
		if _, ok := resolvesLocally(f); !ok {
			// hostname-resolves reports the cause; pmxcfs refuses to start without it.
			return []Finding{passf(name, "%s; /etc/pve is not mounted, because the node name does not resolve (hostname-resolves)", msg)}
		}
		return []Finding{errorf(name, "systemctl restart pve-cluster on "+name+" and read its log (journalctl -u pve-cluster)",
			"%s, but /etc/pve is not mounted: pve-cluster (pmxcfs) is not running, and pvecm cannot work without it", msg)}
	}
	return []Finding{passf(name, "%s", msg)}
}

// resolvesLocally is the address pmxcfs would take for the node (the first non-loopback
// address its name resolves to) when that address is the node's own.
func resolvesLocally(f *pve.Facts) (netip.Addr, bool) {
	a, ok := f.PrimaryAddress()
	return a, ok && f.HasAddress(a)
}

func checkHostnameResolves(e *env, n *node) []Finding {
	name, f := n.inv.Name, n.facts
	node := orDash(f.NodeName)
	fix := "in /etc/hosts on " + name + ", write " + hostsLine(n)
	var loop []string
	for _, a := range f.ResolvesTo {
		if a.IsLoopback() {
			loop = append(loop, a.String())
		}
	}
	primary, ok := f.PrimaryAddress()
	switch {
	case len(f.ResolvesTo) == 0:
		return []Finding{errorf(name, fix, "the name %s does not resolve on %s (getent ahosts finds nothing): pmxcfs and pvecm need it to", node, name)}
	case !ok:
		if slices.Contains(loop, "127.0.1.1") {
			fix = "in /etc/hosts on " + name + ", replace the 127.0.1.1 line by " + hostsLine(n)
		}
		return []Finding{errorf(name, fix, "the name %s resolves only to %s on %s: pmxcfs and pvecm need a non-loopback address",
			node, andList(loop), name)}
	case !f.HasAddress(primary):
		return []Finding{errorf(name, fix, "the name %s resolves to %s on %s, which none of its interfaces has (pvecm add: cannot use IP '%s', not found on local node)",
			node, primary, name, primary)}
	}
	msg := fmt.Sprintf("the name %s resolves to %s (%s)", node, primary, ifaceOf(f, primary))
	if len(loop) > 0 {
		msg += "; " + andList(loop) + " before it is skipped, as pmxcfs does"
	}
	return []Finding{passf(name, "%s", msg)}
}

// hostsLine is the /etc/hosts line the node needs: its link0 address when that is its own,
// else the address its name resolves to, with the FQDN the host reports.
func hostsLine(n *node) string {
	f := n.facts
	addr := "<its address>"
	if a, ok := n.linkAddr(0); ok && f.HasAddress(a) {
		addr = a.String()
	} else if a, ok := resolvesLocally(f); ok {
		addr = a.String()
	} else {
		for _, i := range f.Interfaces {
			for _, ia := range i.Addrs {
				if a := ia.Prefix.Addr(); a.IsGlobalUnicast() && addr == "<its address>" {
					addr = a.String()
				}
			}
		}
	}
	name := n.inv.Name
	if f.NodeName != "" {
		name = f.NodeName
	}
	if strings.HasPrefix(f.FQDN, name+".") {
		return "\"" + addr + " " + f.FQDN + " " + name + "\""
	}
	return "\"" + addr + " " + name + "\""
}

// ifaceOf names the interface that has a.
func ifaceOf(f *pve.Facts, a netip.Addr) string {
	for _, i := range f.Interfaces {
		for _, ia := range i.Addrs {
			if ia.Prefix.Addr().Unmap() == a.Unmap() {
				return "on " + i.Name
			}
		}
	}
	return "on no interface"
}

func checkNodeName(e *env, n *node) []Finding {
	name, f := n.inv.Name, n.facts
	if f.NodeName != name {
		where := e.inv.Where(fmt.Sprintf("nodes[%d].name", n.idx))
		return []Finding{errorf(name, fmt.Sprintf("write name: %s in %s, or set the host's name to %s (hostnamectl set-hostname %s, and /etc/hosts) before it joins", orDash(f.NodeName), where, name, name),
			"the cluster file calls it %s, but its node name (uname -n) is %s", name, orDash(f.NodeName))}
	}
	return []Finding{passf(name, "its node name is %s", name)}
}

func checkLinkAddresses(e *env, n *node) []Finding {
	name, f := n.inv.Name, n.facts
	var out []Finding
	var ok []string
	for _, l := range n.links() {
		where := e.inv.Where(fmt.Sprintf("nodes[%d].links[%d]", n.idx, l.num))
		switch {
		case !l.addr.IsValid():
			out = append(out, errorf(name, "write an IP address of "+name+" at "+where, "link%d %q is not an IP address", l.num, l.raw))
		case !f.HasAddress(l.addr):
			out = append(out, errorf(name, fmt.Sprintf("configure %s on %s (/etc/network/interfaces), or correct %s", l.addr, name, where),
				"link%d %s is not configured on any interface of %s (pvecm add: link%d: cannot use IP '%s', not found on local node)", l.num, l.addr, name, l.num, l.addr))
		default:
			ok = append(ok, fmt.Sprintf("link%d %s %s", l.num, l.addr, ifaceOf(f, l.addr)))
		}
	}
	if len(out) > 0 {
		return out
	}
	if len(ok) == 0 {
		return []Finding{errorf(name, "give "+name+" links in "+e.inv.File, "%s has no corosync link address", name)}
	}
	return []Finding{passf(name, "%s", strings.Join(ok, "; "))}
}

func checkClusterMembership(e *env, n *node) []Finding {
	name, m := n.inv.Name, n.member
	cluster := e.inv.Cluster.Name
	switch m.kind {
	case memFresh:
		if by, listed := e.listed[name]; listed {
			return []Finding{errorf(name, "quorate rebuild "+name,
				"%s is in no cluster, but the nodelist of cluster %s (on %s) still lists it: it was reinstalled", name, cluster, by)}
		}
		if n.role == roleCreator {
			return []Finding{passf(name, "in no cluster: it will create cluster %s", cluster)}
		}
		return []Finding{passf(name, "in no cluster: it will join through %s", e.through.inv.Name)}
	case memMember:
		q := n.facts.Quorum
		switch {
		case q == nil:
			return []Finding{warnf(name, "check corosync on "+name+": pvecm status", "member of cluster %s as nodeid %d, but corosync-quorumtool did not answer: %s",
				cluster, m.nodeID, orDash(n.facts.QuorumError))}
		case q.State != pve.Quorate:
			msg := fmt.Sprintf("member of cluster %s as nodeid %d, not quorate (%d of %d votes)", cluster, m.nodeID, q.TotalVotes, q.ExpectedVotes)
			fix := "bring the cluster's other members online (pvecm status on " + name + ")"
			if e.joiners() {
				return []Finding{errorf(name, fix, "%s: pvecm refuses to add nodes to it (cluster not ready - no quorum?)", msg)}
			}
			return []Finding{warnf(name, fix, "%s", msg)}
		}
		return []Finding{passf(name, "member of cluster %s as nodeid %d, quorate", cluster, m.nodeID)}
	case memForeign:
		if m.confErr != nil {
			return []Finding{errorf(name, "look at /etc/pve/corosync.conf on "+name, "%s has an /etc/pve/corosync.conf that cannot be read: %v", name, m.confErr)}
		}
		return []Finding{errorf(name, "separate "+name+" from cluster "+m.cluster+" (pvecm delnode there, then docs/pve.md §7) or reinstall it; or leave it out of "+e.inv.File,
			"%s is a member of another cluster, %q (nodeid %d), not of %s", name, m.cluster, m.nodeID, cluster)}
	case memUnlisted:
		return []Finding{errorf(name, "look at /etc/pve/corosync.conf on "+name+": its nodelist should hold it",
			"%s has cluster %s's corosync.conf, but its nodelist (%s) does not list %s", name, cluster, joinList(m.names), name)}
	case memHalfJoined:
		return []Finding{errorf(name, "on "+name+": systemctl stop corosync; rm -rf /etc/corosync/* (docs/pve.md §7), then check it again",
			"%s is in no cluster but has leftovers of one: %s; pvecm add refuses such a node", name, andList(m.leftovers))}
	}
	return nil
}

func checkGuests(e *env, n *node) []Finding {
	name, f := n.inv.Name, n.facts
	var ids []string
	for _, id := range f.VMs {
		ids = append(ids, "VM "+strconv.Itoa(id))
	}
	for _, id := range f.CTs {
		ids = append(ids, "CT "+strconv.Itoa(id))
	}
	switch {
	case len(ids) == 0:
		return []Finding{passf(name, "no guests")}
	case n.role == roleMember:
		return []Finding{passf(name, "%d guests in the cluster", len(ids))}
	case n.role == roleCreator:
		return []Finding{passf(name, "%s: allowed on the node that creates the cluster", joinList(ids))}
	}
	return []Finding{errorf(name, "back up and remove (or move) the guests on "+name+" before it joins; guests are allowed only on the node that creates the cluster",
		"%s must join, but it has guests: %s (pvecm add: this host already contains virtual guests)", name, joinList(ids))}
}

func checkTimeSync(e *env, n *node) []Finding {
	name, t := n.inv.Name, n.facts.Time
	daemons := joinList(t.Daemons)
	if t.Synchronized() {
		msg := "the clock is synchronised"
		if daemons != "" {
			msg += " by " + daemons
		}
		if t.Chrony != nil && t.Chrony.LeapStatus == "Normal" {
			msg += fmt.Sprintf(" (chrony: %.3f ms from its source)", t.Chrony.Offset*1000)
		}
		return []Finding{passf(name, "%s", msg)}
	}
	if len(t.Daemons) > 0 {
		why := ""
		if t.Chrony != nil {
			why = fmt.Sprintf(" (chrony: leap status %s)", orDash(t.Chrony.LeapStatus))
		}
		return []Finding{warnf(name, "check the time sources on "+name+" (chronyc sources)", "%s runs on %s but the clock is not synchronised%s", daemons, name, why)}
	}
	return []Finding{warnf(name, "apt install chrony on "+name+" (the PVE default)", "no time service runs on %s (chrony, systemd-timesyncd, ntpd or PTP)", name)}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
