package inventory

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/quorate/quorate/pve"
)

func (v *validator) nodes() {
	nodes := v.inv.Nodes
	if len(nodes) == 0 {
		if !v.reported("nodes") {
			v.add("nodes", "no nodes: list at least one node with a name and an address")
		}
		return
	}
	names := map[string]int{}
	addrs := map[string]int{}
	ids := map[int]int{}
	for i, n := range nodes {
		p := nodePath(i)
		if v.reported(p) {
			continue
		}
		v.nodeName(i, n, names)
		v.nodeAddress(i, n, addrs)
		if v.given(p+".nodeid") && !v.reported(p+".nodeid") {
			v.nodeID(i, n, ids)
		}
		if v.given(p+".votes") && !v.reported(p+".votes") && n.Votes < 1 {
			v.add(p+".votes", "%d votes: a node has at least 1", n.Votes)
		}
		v.links(i, n)
	}
	v.linkCounts()
	v.linkFamilies()
	v.linkAddressesUnique()
}

func (v *validator) nodeName(i int, n Node, seen map[string]int) {
	p := nodePath(i) + ".name"
	switch {
	case n.Name == "":
		if !v.reported(p) {
			v.add(p, "missing: the PVE node name, which is the host's hostname")
		}
		return
	default:
		if problem := pve.NodeNameProblem(n.Name); problem != "" {
			v.add(p, "%s", problem)
		}
	}
	key := strings.ToLower(n.Name)
	if first, dup := seen[key]; dup {
		v.add(p, "%q is also the name of nodes[%d] (%s); node names must be unique", n.Name, first, v.inv.Where(nodePath(first)+".name"))
		return
	}
	seen[key] = i
}

func (v *validator) nodeAddress(i int, n Node, seen map[string]int) {
	p := nodePath(i) + ".address"
	if n.Address == "" {
		if !v.reported(p) {
			v.add(p, "missing: where quorate connects by SSH (an IP address or a host name)")
		}
		return
	}
	if problem := addressProblem(n.Address); problem != "" {
		v.add(p, "%s", problem)
		return
	}
	key := hostKey(n.Address)
	if first, dup := seen[key]; dup {
		v.add(p, "%s is also the address of %s (%s); each node needs its own", n.Address, v.nodeLabel(first), v.inv.Where(nodePath(first)+".address"))
		return
	}
	seen[key] = i
}

func (v *validator) nodeID(i int, n Node, seen map[int]int) {
	p := nodePath(i) + ".nodeid"
	if n.NodeID < 1 || n.NodeID > maxNodeID {
		v.add(p, "%d is out of range: corosync node ids run from 1 to %d", n.NodeID, maxNodeID)
		return
	}
	if first, dup := seen[n.NodeID]; dup {
		v.add(p, "%d is also the nodeid of %s (%s); node ids must be unique", n.NodeID, v.nodeLabel(first), v.inv.Where(nodePath(first)+".nodeid"))
		return
	}
	seen[n.NodeID] = i
}

// links checks one node's own links; the checks across nodes come after.
func (v *validator) links(i int, n Node) {
	p := nodePath(i) + ".links"
	if n.Links == nil {
		return // not a list: already reported, or no address to default to
	}
	if len(n.Links) == 0 {
		v.add(p, "empty: give at least link0, or leave links out to use the address")
		return
	}
	if len(n.Links) > maxLinks {
		v.add(p, "%d links: corosync has at most %d (link0 to link%d)", len(n.Links), maxLinks, maxLinks-1)
	}
	defaulted := !v.inv.linksGiven(i)
	if defaulted && v.has(nodePath(i)+".address") {
		return // the address is wrong already; its default link adds nothing
	}
	for k, l := range n.Links {
		lp := fmt.Sprintf("%s[%d]", p, k)
		if v.reported(lp) {
			continue // its ${VAR} did not expand: already reported
		}
		problem := linkProblem(l)
		if problem == "" {
			continue
		}
		if defaulted {
			v.add(p, "links default to the address %q, but %s; give links: [<IP address>] for this node", n.Address, problem)
			continue
		}
		v.add(lp, "link%d: %s", k, problem)
	}
}

var hostNameish = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// linkProblem says what is wrong with a corosync link address, or "" when it is a usable IP.
func linkProblem(link string) string {
	ip, err := netip.ParseAddr(link)
	if err != nil {
		if hostNameish.MatchString(link) {
			return fmt.Sprintf("%q is a host name, and links must be IP addresses: a name is resolved once, "+
				"on the node, and an /etc/hosts entry mapping it to 127.0.0.1 puts a loopback address into the cluster", link)
		}
		return fmt.Sprintf("%q is not an IP address", link)
	}
	switch {
	case ip.Zone() != "":
		return fmt.Sprintf("%s has a zone; corosync needs an address without one", link)
	case ip.Is4In6():
		return fmt.Sprintf("%s is an IPv4-mapped IPv6 address; write it as %s", link, ip.Unmap())
	case ip.IsLoopback():
		return fmt.Sprintf("%s is a loopback address, which other nodes cannot reach", link)
	case ip.IsUnspecified(), ip.IsMulticast():
		return fmt.Sprintf("%s is not a unicast host address", link)
	case ip.IsLinkLocalUnicast():
		return fmt.Sprintf("%s is link-local; use an address the other nodes route to", link)
	}
	return ""
}

// linkCounts requires every node to have as many links as the first node that has any.
func (v *validator) linkCounts() {
	ref := -1
	for i, n := range v.inv.Nodes {
		if len(n.Links) == 0 {
			continue
		}
		if ref < 0 {
			ref = i
			continue
		}
		want := len(v.inv.Nodes[ref].Links)
		if len(n.Links) != want {
			v.add(nodePath(i)+".links", "%s has %s but %s (%s) has %d; every node needs the same links (%s)",
				v.nodeLabel(i), plural(len(n.Links), "link"), v.nodeLabel(ref), v.inv.Where(nodePath(ref)+".links"), want, linkRange(want))
		}
	}
}

// linkFamilies requires each link number to be all IPv4 or all IPv6: corosync refuses a mix
// within one link ("Nodes for link N have different IP families"), though links may differ.
func (v *validator) linkFamilies() {
	type first struct {
		node int
		v6   bool
	}
	refs := map[int]first{}
	for i, n := range v.inv.Nodes {
		for k, l := range n.Links {
			ip, err := netip.ParseAddr(l)
			if err != nil || linkProblem(l) != "" {
				continue
			}
			ref, ok := refs[k]
			if !ok {
				refs[k] = first{i, ip.Is6()}
				continue
			}
			if ip.Is6() != ref.v6 {
				v.add(fmt.Sprintf("%s.links[%d]", nodePath(i), k),
					"link%d: %s is %s but link%d of %s (%s) is %s; corosync needs one IP family per link",
					k, l, family(ip.Is6()), k, v.nodeLabel(ref.node), v.inv.Where(fmt.Sprintf("%s.links[%d]", nodePath(ref.node), k)), family(ref.v6))
			}
		}
	}
}

// linkAddressesUnique catches one IP given to two links or two nodes, which corosync cannot
// tell apart.
func (v *validator) linkAddressesUnique() {
	type use struct{ node, link int }
	seen := map[string]use{} // canonical IP -> its first use
	for i, n := range v.inv.Nodes {
		for k, l := range n.Links {
			ip, err := netip.ParseAddr(l)
			if err != nil {
				continue
			}
			key := ip.Unmap().String()
			first, dup := seen[key]
			if !dup {
				seen[key] = use{i, k}
				continue
			}
			if !v.inv.linksGiven(i) && v.has(nodePath(i)+".address") {
				continue // a repeated address, already reported, repeats its default link
			}
			firstPath := fmt.Sprintf("%s.links[%d]", nodePath(first.node), first.link)
			v.add(fmt.Sprintf("%s.links[%d]", nodePath(i), k), "link%d: %s is already link%d of %s (%s); every link address must be unique",
				k, l, first.link, v.nodeLabel(first.node), v.inv.Where(firstPath))
		}
	}
}

func (v *validator) nodeLabel(i int) string {
	if name := v.inv.Nodes[i].Name; name != "" {
		return name
	}
	return nodePath(i)
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

func linkRange(n int) string {
	if n == 1 {
		return "link0"
	}
	return fmt.Sprintf("link0 to link%d", n-1)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
