package playbooks

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/pve"
)

// The network around corosync: redundancy, speeds, and what else its interfaces carry. The
// seed's advice is to keep corosync on stable links apart from heavy storage traffic; PVE's
// own (pvecm.adoc, Network Requirements) is a dedicated NIC and a second link on another
// physical network.

// carrier is a member's carrier of its link l address.
func (m *liveMember) carrier(l int) (pve.Carrier, netip.Addr, bool) {
	a, ok := m.linkAddr(l)
	if !ok || m.Facts == nil {
		return pve.Carrier{}, a, false
	}
	c, ok := m.Facts.CarrierOfAddr(a)
	return c, a, ok
}

// describeCarrier is "vmbr0 (eno1)" or "eno2".
func describeCarrier(c pve.Carrier) string {
	var leaves []string
	for _, l := range c.Leaves {
		if l.Name != c.Holder.Name {
			leaves = append(leaves, l.Name)
		}
	}
	if len(leaves) == 0 {
		return c.Holder.Name
	}
	return c.Holder.Name + " (" + strings.Join(leaves, ", ") + ")"
}

func checkLinkRedundancy(r *liveCluster) []preflight.Finding {
	if r.Conf == nil {
		return nil
	}
	if len(r.Links) == 1 {
		return []preflight.Finding{warn("", fmt.Sprintf("add a second corosync link on another physical network: a ring%d_addr for every node and an interface in totem of /etc/pve/corosync.conf (config_version + 1), as pvecm.adoc's \"Adding Redundant Links To An Existing Cluster\" shows", firstFree(r.Links)),
			"one corosync link (link%d): when its network fails, every node loses quorum; PVE advises at least a second link on a different physical network", r.Links[0])}
	}
	var out []preflight.Finding
	for _, m := range r.Members {
		if m.Facts == nil || m.Conf.NodeID == 0 {
			continue
		}
		var shared []string
		for i, l1 := range r.Links {
			c1, _, ok1 := m.carrier(l1)
			for _, l2 := range r.Links[i+1:] {
				c2, _, ok2 := m.carrier(l2)
				if !ok1 || !ok2 {
					continue
				}
				if both := c1.Shares(c2); len(both) > 0 {
					shared = append(shared, fmt.Sprintf("link%d and link%d both leave by %s", l1, l2, strings.Join(both, ", ")))
				}
			}
		}
		if len(shared) > 0 {
			out = append(out, warn(m.Name, "give each corosync link of "+m.Name+" a NIC of its own, on another network",
				"on %s %s: one failed NIC or cable takes every link down", m.Name, strings.Join(shared, "; ")))
		}
	}
	if len(out) == 0 {
		var links []string
		for _, l := range r.Links {
			links = append(links, fmt.Sprintf("link%d", l))
		}
		out = append(out, pass("", "%d corosync links (%s), on separate interfaces on every node", len(r.Links), strings.Join(links, ", ")))
	}
	return out
}

func firstFree(links []int) int {
	for i := 0; i < 8; i++ {
		if !slices.Contains(links, i) {
			return i
		}
	}
	return 7
}

// speedOf is what a carrier moves: a bond's ports together, else its slowest device; -1
// when no device says.
func speedOf(c pve.Carrier) int {
	total, slowest, bond := 0, -1, c.Holder.Kind == pve.KindBond
	for _, l := range c.Leaves {
		if l.SpeedMbps <= 0 {
			continue
		}
		total += l.SpeedMbps
		if slowest < 0 || l.SpeedMbps < slowest {
			slowest = l.SpeedMbps
		}
	}
	if bond && total > 0 {
		return total
	}
	return slowest
}

func checkLinkSpeed(r *liveCluster) []preflight.Finding {
	var out []preflight.Finding
	for _, l := range r.Links {
		speeds := map[string]int{}
		var names []string
		for _, m := range r.Members {
			c, _, ok := m.carrier(l)
			if !ok {
				continue
			}
			if s := speedOf(c); s > 0 {
				speeds[m.Name] = s
				names = append(names, m.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		count := map[int]int{}
		for _, n := range names {
			count[speeds[n]]++
		}
		common := speeds[names[0]]
		for _, n := range names {
			if count[speeds[n]] > count[common] {
				common = speeds[n]
			}
		}
		var same []string
		for _, n := range names {
			if speeds[n] == common {
				same = append(same, n)
			}
		}
		if len(same) == len(names) {
			out = append(out, pass("", "link%d runs at %s on every node", l, mbps(common)))
			continue
		}
		for _, n := range names {
			if speeds[n] == common {
				continue
			}
			c, _, _ := r.byName(n).carrier(l)
			out = append(out, warn(n, fmt.Sprintf("check the cable and the switch port of %s on %s (ethtool %s: autonegotiation on both ends)", describeCarrier(c), n, c.Leaves[0].Name),
				"link%d runs at %s on %s (%s), at %s on %s: a port that negotiated down, or a slower NIC", l, mbps(speeds[n]), n, describeCarrier(c), mbps(common), andListOf(same)))
		}
	}
	return out
}

func mbps(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%d Gb/s", n/1000)
	}
	return fmt.Sprintf("%d Mb/s", n)
}

// linkCarriers are m's corosync links with their carriers.
func (m *liveMember) linkCarriers(links []int) map[int]pve.Carrier {
	out := map[int]pve.Carrier{}
	for _, l := range links {
		if c, _, ok := m.carrier(l); ok {
			out[l] = c
		}
	}
	return out
}

// sharing names the corosync links whose carrier shares a device with c.
func sharing(c pve.Carrier, links map[int]pve.Carrier) []string {
	var out []string
	for _, l := range sortedCarrierKeys(links) {
		if both := links[l].Shares(c); len(both) > 0 {
			out = append(out, fmt.Sprintf("corosync's link%d", l))
		}
	}
	return out
}

func sortedCarrierKeys(m map[int]pve.Carrier) []int {
	var keys []int
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func checkStorageNetwork(r *liveCluster) []preflight.Finding {
	var out []preflight.Finding
	anyStorage := false
	for _, m := range r.Members {
		if m.Facts == nil || m.Health == nil || m.Conf.NodeID == 0 {
			continue
		}
		links := m.linkCarriers(r.Links)
		var bad, notes []string
		for _, st := range storageTargets(m.Health) {
			if len(st.storage.Nodes) > 0 && !slices.Contains(st.storage.Nodes, m.Name) {
				continue
			}
			anyStorage = true
			for _, host := range st.servers {
				rt, ok := m.Routes[host]
				switch {
				case m.RoutesErr != nil:
					notes = append(notes, fmt.Sprintf("could not ask how %s reaches %s %s: %v", m.Name, st.what, host, m.RoutesErr))
				case !ok:
				case rt.Error != "":
					notes = append(notes, fmt.Sprintf("%s %s of storage %s: %s on %s", st.what, host, st.storage.ID, rt.Error, m.Name))
				case rt.Local:
				default:
					c, ok := m.Facts.CarrierOf(rt.Dev)
					if !ok {
						continue
					}
					if on := sharing(c, links); len(on) > 0 {
						bad = append(bad, fmt.Sprintf("%s %s (storage %s) is reached by %s, which carries %s", st.what, host, st.storage.ID, describeCarrier(c), andListOf(on)))
					}
				}
			}
		}
		if len(bad) > 0 {
			out = append(out, warn(m.Name, "carry storage traffic on a network (or at least a NIC) of its own, or give corosync a dedicated link: heavy storage transfers delay corosync's packets",
				"on %s %s", m.Name, strings.Join(bad, "; ")))
		}
		if len(notes) > 0 {
			out = append(out, warn(m.Name, "check the storage's address in /etc/pve/storage.cfg and the routes of "+m.Name, "%s", strings.Join(notes, "; ")))
		}
		if len(bad) == 0 && len(notes) == 0 && anyStorage {
			out = append(out, pass(m.Name, "no network storage traffic leaves by the corosync links' interfaces"))
		}
	}
	if !anyStorage {
		for _, m := range r.Members {
			if m.Health != nil {
				if m.Health.Storage == nil {
					return []preflight.Finding{pass("", "no /etc/pve/storage.cfg: no network storage")}
				}
				return []preflight.Finding{pass("", "no network storage in /etc/pve/storage.cfg")}
			}
		}
	}
	return out
}

func checkMigrationNetwork(r *liveCluster) []preflight.Finding {
	var dc *pve.Datacenter
	for _, m := range r.Members {
		if m.Health != nil {
			dc = m.Health.Datacenter
			if dc == nil {
				dc = &pve.Datacenter{MigrationType: "secure"}
			}
			break
		}
	}
	if dc == nil || r.Conf == nil {
		return nil
	}
	const where = "/etc/pve/datacenter.cfg"
	if !dc.MigrationNetwork.IsValid() {
		if dc.MigrationNetworkText != "" {
			return []preflight.Finding{warn("", "write the network as CIDR, e.g. migration: secure,network=10.1.2.0/24", "%s: migration network %q is not a network", where, dc.MigrationNetworkText)}
		}
		return []preflight.Finding{warn("", "set migration: secure,network=<CIDR> in "+where+" to a network other than corosync's (pvecm.adoc, Migration Network)",
			"no migration network in %s: live migrations go over the cluster network, corosync's link%d, and compete with it", where, r.Links[0])}
	}
	var out []preflight.Finding
	for _, m := range r.Members {
		if m.Facts == nil || m.Conf.NodeID == 0 {
			continue
		}
		var addr netip.Addr
		for _, a := range m.Facts.Addresses() {
			if dc.MigrationNetwork.Contains(a) {
				addr = a
				break
			}
		}
		if !addr.IsValid() {
			out = append(out, warn(m.Name, "give "+m.Name+" an address in "+dc.MigrationNetwork.String()+", or change the migration network in "+where,
				"%s has no address in the migration network %s (%s): migrations to it fail", m.Name, dc.MigrationNetwork, where))
			continue
		}
		c, ok := m.Facts.CarrierOfAddr(addr)
		if !ok {
			continue
		}
		if on := sharing(c, m.linkCarriers(r.Links)); len(on) > 0 {
			out = append(out, warn(m.Name, "move the migration network ("+where+") to a network, or at least a NIC, that corosync does not use",
				"migrations to %s arrive at %s on %s, which carries %s (migration network %s in %s)", m.Name, addr, describeCarrier(c), andListOf(on), dc.MigrationNetwork, where))
			continue
		}
		out = append(out, pass(m.Name, "migrations go to %s on %s, apart from corosync", addr, describeCarrier(c)))
	}
	return out
}
