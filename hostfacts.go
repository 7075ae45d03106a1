package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"strings"
)

// surveyCommand reads what init needs from a host in one round trip: the hostname, then one
// line per global address as `ip -o addr` prints it.
const surveyCommand = "hostname && ip -o addr show scope global"

// hostAddress is one global address of a host, with its prefix length and interface.
type hostAddress struct {
	Interface string       `json:"interface"`
	Prefix    netip.Prefix `json:"address"`
}

// parseSurvey reads surveyCommand's output. The PVE node name is the hostname up to its
// first dot, as pmxcfs takes it.
func parseSurvey(out string) (hostname string, addrs []hostAddress, err error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	if !sc.Scan() || strings.TrimSpace(sc.Text()) == "" {
		return "", nil, fmt.Errorf("no hostname in the output")
	}
	hostname, _, _ = strings.Cut(strings.TrimSpace(sc.Text()), ".")
	for sc.Scan() {
		// "2: vmbr0    inet 198.51.100.11/24 brd 198.51.100.255 scope global vmbr0\ ..."
		f := strings.Fields(sc.Text())
		if len(f) < 4 || (f[2] != "inet" && f[2] != "inet6") {
			continue
		}
		prefix, err := netip.ParsePrefix(f[3])
		if err != nil {
			continue
		}
		iface, _, _ := strings.Cut(f[1], "@") // veth names carry "@ifN"
		addrs = append(addrs, hostAddress{Interface: iface, Prefix: prefix})
	}
	return hostname, addrs, sc.Err()
}

// pickLink chooses link0 for a starter file: the address quorate reached the host at when it
// is one of the host's own, else its first IPv4, else its first IPv6. "" when there is none;
// the user then has to write links by hand.
func pickLink(reachedAt string, addrs []hostAddress) string {
	if ip, err := netip.ParseAddr(reachedAt); err == nil {
		for _, a := range addrs {
			if a.Prefix.Addr() == ip.Unmap() {
				return ip.Unmap().String()
			}
		}
	}
	for _, want4 := range []bool{true, false} {
		for _, a := range addrs {
			ip := a.Prefix.Addr()
			if ip.Is4() == want4 && !ip.IsLinkLocalUnicast() && !ip.IsLoopback() {
				return ip.String()
			}
		}
	}
	return ""
}
