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
	addrs, err := run(ctx, nil, "ip", "-j", "addr", "show")
	if err != nil {
		return err
	}
	routes, err := run(ctx, nil, "ip", "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return err
	}
	found, err := rootOverlaps([]byte(addrs), []byte(routes))
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("refusing to start: the lab's ranges %v overlap the root namespace: %s",
			labPrefixes, strings.Join(found, "; "))
	}
	return nil
}

// rootOverlaps lists the addresses and routes (from `ip -j addr` and `ip -j route`)
// that overlap the lab's ranges. Default routes cover everything and do not count.
func rootOverlaps(addrJSON, routeJSON []byte) ([]string, error) {
	var found []string
	var links []struct {
		Ifname string `json:"ifname"`
		Addrs  []struct {
			Local  string `json:"local"`
			Prefix int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(addrJSON, &links); err != nil {
		return nil, fmt.Errorf("ip -j addr: %w", err)
	}
	for _, l := range links {
		for _, a := range l.Addrs {
			if p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", a.Local, a.Prefix)); err == nil && overlapsLab(p) {
				found = append(found, fmt.Sprintf("address %s on %s", p, l.Ifname))
			}
		}
	}
	var routes []struct {
		Dst string `json:"dst"`
		Dev string `json:"dev"`
	}
	if err := json.Unmarshal(routeJSON, &routes); err != nil {
		return nil, fmt.Errorf("ip -j route: %w", err)
	}
	for _, r := range routes {
		dst := r.Dst
		if dst == "default" || dst == "" {
			continue
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		if p, err := netip.ParsePrefix(dst); err == nil && overlapsLab(p) {
			found = append(found, fmt.Sprintf("route %s dev %s", dst, r.Dev))
		}
	}
	return found, nil
}

func overlapsLab(p netip.Prefix) bool {
	for _, l := range labPrefixes {
		if p.Overlaps(l) {
			return true
		}
	}
	return false
}
