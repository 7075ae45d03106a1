// Package hostspec is the one reader of "[user@]host[:port]", the form of a host on quorate's
// command line, in a ProxyJump list and in an ssh config: every caller uses it, so that what
// init accepts is what the transport can dial.
package hostspec

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Spec is one parsed host. Port is 0 when none was given.
type Spec struct {
	User string
	Host string // a name, an alias or an IP address, without brackets
	Port int
}

// Parse reads "[user@]host[:port]". An IPv6 address stands bare ("2001:db8::1") or in
// brackets, with a port only in brackets ("[2001:db8::1]:2222"). IPv6 zones ("fe80::1%eth0")
// are refused: no ssh config alias, known_hosts entry or corosync link can carry one here.
func Parse(s string) (Spec, error) {
	var sp Spec
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		sp.User, rest = rest[:i], rest[i+1:]
		if sp.User == "" {
			return sp, fmt.Errorf("%q: empty user before @", s)
		}
		if strings.ContainsAny(sp.User, " \t\r\n:/") {
			return sp, fmt.Errorf("%q: %q is not a user name", s, sp.User)
		}
	}
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.Index(rest, "]")
		if end < 0 {
			return sp, fmt.Errorf("%q: no ] after [", s)
		}
		sp.Host = rest[1:end]
		after := rest[end+1:]
		if after != "" {
			port, ok := strings.CutPrefix(after, ":")
			if !ok {
				return sp, fmt.Errorf("%q: want [address]:port", s)
			}
			n, err := parsePort(port)
			if err != nil {
				return sp, fmt.Errorf("%q: %w", s, err)
			}
			sp.Port = n
		}
		if _, err := netip.ParseAddr(sp.Host); err != nil && !strings.Contains(sp.Host, "%") {
			return sp, fmt.Errorf("%q: brackets hold an IPv6 address, not %q", s, sp.Host)
		}
	case strings.Count(rest, ":") > 1:
		sp.Host = rest // a bare IPv6 address: its colons are not a port
		if _, err := netip.ParseAddr(rest); err != nil && !strings.Contains(rest, "%") {
			return sp, fmt.Errorf("%q: not an IPv6 address; write one with a port as [address]:port", s)
		}
	case strings.Contains(rest, ":"):
		host, port, _ := strings.Cut(rest, ":")
		n, err := parsePort(port)
		if err != nil {
			return sp, fmt.Errorf("%q: %w", s, err)
		}
		sp.Host, sp.Port = host, n
	default:
		sp.Host = rest
	}
	if strings.Contains(sp.Host, "%") {
		return sp, fmt.Errorf("%q: IPv6 zones (%%interface) are not supported; use a global or unique-local address", s)
	}
	if sp.Host == "" || strings.ContainsAny(sp.Host, " \t\r\n/[]@") {
		return sp, fmt.Errorf("%q: not a host name or address", s)
	}
	return sp, nil
}

func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strings.HasPrefix(p, "+") {
		return 0, fmt.Errorf("%q is not a TCP port (1-65535)", p)
	}
	return n, nil
}

// String writes the spec back as Parse reads it.
func (sp Spec) String() string {
	host := sp.Host
	if sp.Port != 0 {
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		host += ":" + strconv.Itoa(sp.Port)
	}
	if sp.User != "" {
		return sp.User + "@" + host
	}
	return host
}
