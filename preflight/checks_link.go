package preflight

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/quorate/quorate/pve"
)

// carrier is the interface that holds a link address, seen through bridges, bonds and VLANs
// down to the devices that carry its packets.
type carrier struct {
	iface  pve.Interface
	addr   pve.IfAddr
	leaves []pve.Interface // the devices at the bottom: NICs, Wi-Fi, veths
	desc   string          // "vmbr0 (bridge) over eth0 (10000 Mb/s, full duplex, MTU 1500)"
	mtu    int             // the smallest MTU on the way down
	notes  []string        // what is wrong on the way: no ports, down
}

// carrierOf finds the interface with address a and walks down from it (pve.Facts.CarrierOf,
// which doctor uses too); ok is false when no interface has a.
func carrierOf(f *pve.Facts, a netip.Addr) (carrier, bool) {
	pc, ok := f.CarrierOfAddr(a)
	if !ok {
		return carrier{}, false
	}
	c := carrier{iface: pc.Holder, leaves: pc.Leaves, desc: pc.Desc, mtu: pc.MTU, notes: pc.Notes}
	for _, ia := range pc.Holder.Addrs {
		if ia.Prefix.Addr().Unmap() == a.Unmap() {
			c.addr = ia
		}
	}
	return c, true
}

func checkLinkInterface(e *env, n *node) []Finding {
	name, f := n.inv.Name, n.facts
	var out []Finding
	for _, l := range n.links() {
		c, ok := carrierOf(f, l.addr)
		if !l.addr.IsValid() || !ok {
			continue // link-addresses reports it
		}
		var warn, fixes []string
		warn = append(warn, c.notes...)
		for _, leaf := range c.leaves {
			if leaf.Kind == pve.KindWiFi {
				warn = append(warn, leaf.Name+" is Wi-Fi: corosync needs a stable, low-latency link")
				fixes = append(fixes, "carry link"+fmt.Sprint(l.num)+" on a wired interface")
			}
			if leaf.Duplex == "half" {
				warn = append(warn, leaf.Name+" runs half duplex")
				fixes = append(fixes, "make "+leaf.Name+" full duplex (autonegotiation on both ends: ethtool "+leaf.Name+")")
			}
		}
		msg := fmt.Sprintf("link%d %s: %s", l.num, l.addr, c.desc)
		if len(warn) > 0 {
			if len(fixes) == 0 {
				fixes = append(fixes, "bring the interfaces of link"+fmt.Sprint(l.num)+" up with their ports")
			}
			out = append(out, warnf(name, strings.Join(fixes, "; "), "%s: %s", msg, strings.Join(warn, "; ")))
			continue
		}
		out = append(out, passf(name, "%s", msg))
	}
	return out
}

func checkDHCPAddress(e *env, n *node) []Finding {
	name, f := n.inv.Name, n.facts
	var out []Finding
	var static []string
	for _, l := range n.links() {
		c, ok := carrierOf(f, l.addr)
		if !l.addr.IsValid() || !ok {
			continue
		}
		switch {
		case c.addr.Method == pve.MethodDHCP || (c.addr.Dynamic && l.addr.Is4()):
			out = append(out, warnf(name, fmt.Sprintf("give %s a static address in /etc/network/interfaces on %s (iface %s inet static)", c.iface.Name, name, c.iface.Name),
				"link%d %s on %s is configured by DHCP: a corosync address must never change", l.num, l.addr, c.iface.Name))
		case c.addr.Method == pve.MethodAuto || c.addr.Dynamic:
			out = append(out, warnf(name, fmt.Sprintf("give %s a static IPv6 address in /etc/network/interfaces on %s (iface %s inet6 static)", c.iface.Name, name, c.iface.Name),
				"link%d %s on %s is autoconfigured (SLAAC or DHCPv6): a corosync address must never change", l.num, l.addr, c.iface.Name))
		default:
			static = append(static, fmt.Sprintf("link%d %s (%s)", l.num, l.addr, c.addr.Method))
		}
	}
	if len(out) == 0 && len(static) > 0 {
		out = append(out, passf(name, "%s", strings.Join(static, "; ")))
	}
	return out
}

// checkMTU compares, link by link, the MTU of the path each node's link address leaves by (the
// smallest on the way down to its NICs) with the other nodes'. The nodes off the most common
// value are warned.
func checkMTU(e *env) []Finding {
	var out []Finding
	for _, l := range e.linkNumbers() {
		mtus := map[string]int{}
		var names []string
		for _, n := range e.nodes {
			a, ok := n.linkAddr(l)
			if n.facts == nil || !ok {
				continue
			}
			if c, ok := carrierOf(n.facts, a); ok && c.mtu > 0 {
				mtus[n.inv.Name] = c.mtu
				names = append(names, n.inv.Name)
			}
		}
		common := mostCommon(names, func(s string) int { return mtus[s] })
		for _, name := range names {
			if mtus[name] == common {
				out = append(out, passf(name, "link%d MTU %d, as on the other nodes", l, common))
				continue
			}
			var others []string
			for _, o := range names {
				if mtus[o] == common {
					others = append(others, o)
				}
			}
			out = append(out, warnf(name, fmt.Sprintf("set MTU %d on the interfaces of link%d on %s (mtu %d in /etc/network/interfaces), or the same MTU everywhere", common, l, name, common),
				"link%d MTU %d on %s, %d on %s: corosync's knet would have to fragment or lose its largest packets", l, mtus[name], name, common, andList(others)))
		}
	}
	return out
}

// mostCommon is the value of key most names share; a tie goes to the value of the earliest
// name (the cluster file's order).
func mostCommon(names []string, key func(string) int) int {
	count := map[int]int{}
	best, bestN := 0, 0
	for _, n := range names {
		count[key(n)]++
	}
	for _, n := range names {
		if c := count[key(n)]; c > bestN {
			best, bestN = key(n), c
		}
	}
	return best
}

// linkNumbers are the link numbers any node of the cluster file has.
func (e *env) linkNumbers() []int {
	most := 0
	for _, n := range e.nodes {
		most = max(most, len(n.inv.Links))
	}
	out := make([]int, most)
	for i := range out {
		out[i] = i
	}
	return out
}

// checkIPFamily: corosync refuses a link whose addresses mix IPv4 and IPv6 (docs/pve.md §6.3),
// and pvecm does not check it. The nodes of the less common family are blamed.
func checkIPFamily(e *env) []Finding {
	var out []Finding
	var good []string
	for _, l := range e.linkNumbers() {
		fam := map[string]string{}
		var names []string
		for _, n := range e.nodes {
			if a, ok := n.linkAddr(l); ok {
				fam[n.inv.Name] = family(a)
				names = append(names, n.inv.Name)
			}
		}
		counts := map[string]int{}
		for _, f := range fam {
			counts[f]++
		}
		if len(counts) <= 1 {
			for f := range counts {
				good = append(good, fmt.Sprintf("link%d %s", l, f))
			}
			continue
		}
		common := "IPv4"
		if counts["IPv6"] > counts["IPv4"] {
			common = "IPv6"
		}
		for _, name := range names {
			if fam[name] == common {
				continue
			}
			a, _ := e.byName(name).linkAddr(l)
			out = append(out, errorf(name, fmt.Sprintf("give %s an %s address on link%d in %s, or put %s on a link of its own", name, common, l, e.inv.File, fam[name]),
				"link%d: %s's %s is %s, the other nodes' are %s: corosync refuses a link with both families", l, name, a, fam[name], common))
		}
	}
	if len(out) == 0 && len(good) > 0 {
		sort.Strings(good)
		out = append(out, passf("", "one address family per link: %s", joinList(good)))
	}
	return out
}

func family(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func (e *env) byName(name string) *node {
	i := slices.IndexFunc(e.nodes, func(n *node) bool { return n.inv.Name == name })
	if i < 0 {
		return nil
	}
	return e.nodes[i]
}
