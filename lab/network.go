package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

var labPrefixes = []netip.Prefix{
	netip.MustParsePrefix(link0Net + ".0/24"),
	netip.MustParsePrefix(link1Net + ".0/24"),
}

// checkRootOverlap refuses a lab whose ranges touch the root namespace: then traffic
// meant for a lab host could leave by the machine's real uplink.
func checkRootOverlap(ctx context.Context) error {
	var found []string
	out, err := run(ctx, nil, "ip", "-j", "addr", "show")
	if err != nil {
		return err
	}
	var links []struct {
		Ifname string `json:"ifname"`
		Addrs  []struct {
			Local  string `json:"local"`
			Prefix int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return fmt.Errorf("ip -j addr: %w", err)
	}
	for _, l := range links {
		for _, a := range l.Addrs {
			if p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", a.Local, a.Prefix)); err == nil && overlapsLab(p) {
				found = append(found, fmt.Sprintf("address %s on %s", p, l.Ifname))
			}
		}
	}
	out, err = run(ctx, nil, "ip", "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return err
	}
	var routes []struct {
		Dst string `json:"dst"`
		Dev string `json:"dev"`
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		return fmt.Errorf("ip -j route: %w", err)
	}
	for _, r := range routes {
		dst := r.Dst
		if dst == "default" {
			continue // a default route covers everything; only specific ones collide
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if p, err := netip.ParsePrefix(dst); err == nil && overlapsLab(p) {
			found = append(found, fmt.Sprintf("route %s dev %s", dst, r.Dev))
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("refusing to start: the lab's ranges %v overlap the root namespace: %s",
			labPrefixes, strings.Join(found, "; "))
	}
	return nil
}

func overlapsLab(p netip.Prefix) bool {
	for _, l := range labPrefixes {
		if p.Overlaps(l) {
			return true
		}
	}
	return false
}

// buildNetwork makes the bridge namespace and every machine's namespace, wired from
// inside the bridge namespace so that nothing is created in the root namespace.
func buildNetwork(ctx context.Context, s *state) error {
	br := bridgeNetns(s.Name)
	all := []string{br}
	for _, m := range s.Machines {
		all = append(all, m.Netns)
	}
	for _, ns := range all {
		if _, err := run(ctx, nil, "ip", "netns", "add", ns); err != nil {
			return err
		}
		s.Netns = append(s.Netns, ns)
		// No IPv6: lab traffic stays in the two documentation ranges.
		if _, err := run(ctx, nil, "ip", "netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
			return err
		}
	}
	if err := s.save(); err != nil {
		return err
	}
	brCmds := []string{"link set lo up"}
	for l := 0; l < s.Links; l++ {
		brCmds = append(brCmds,
			fmt.Sprintf("link add %s type bridge stp_state 0 forward_delay 0", bridgeName(l)),
			fmt.Sprintf("link set %s up", bridgeName(l)))
	}
	for _, m := range s.Machines {
		for l := 0; l < s.Links; l++ {
			brCmds = append(brCmds,
				fmt.Sprintf("link add %s type veth peer name %s netns %s", portName(m.Name, l), linkIface(l), m.Netns),
				fmt.Sprintf("link set %s master %s up", portName(m.Name, l), bridgeName(l)))
		}
	}
	if err := ipBatch(ctx, br, brCmds); err != nil {
		return fmt.Errorf("lab %s: bridge: %w", s.Name, err)
	}
	for _, m := range s.Machines {
		cmds := []string{"link set lo up"}
		for l, a := range m.Addrs {
			cmds = append(cmds, fmt.Sprintf("addr add %s/24 dev %s", a, linkIface(l)),
				fmt.Sprintf("link set %s up", linkIface(l)))
		}
		if err := ipBatch(ctx, m.Netns, cmds); err != nil {
			return fmt.Errorf("lab %s: %s: network: %w", s.Name, m.Name, err)
		}
	}
	return nil
}
