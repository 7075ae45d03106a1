package main

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// hostArg is one HOST given to init: [user@]host[:port], where host may be an IPv6 address
// (bracketed when a port follows) or an ssh config alias.
type hostArg struct {
	raw  string
	user string
	host string
	port int
}

func parseHostArg(arg string) (hostArg, error) {
	h := hostArg{raw: arg}
	rest := arg
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		h.user, rest = rest[:i], rest[i+1:]
		if h.user == "" {
			return h, fmt.Errorf("host %q: empty user before @", arg)
		}
	}
	if _, err := netip.ParseAddr(rest); err == nil {
		h.host = rest // a bare IPv6 address: its colons are not a port
		return h, nil
	}
	host, port, err := net.SplitHostPort(rest)
	switch {
	case err == nil:
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 {
			return h, fmt.Errorf("host %q: %q is not a TCP port", arg, port)
		}
		h.host, h.port = host, n
	case strings.Contains(rest, ":"):
		return h, fmt.Errorf("host %q: not host:port (write IPv6 addresses with a port as [addr]:port)", arg)
	default:
		h.host = rest
	}
	if h.host == "" || strings.ContainsAny(h.host, " \t/") {
		return h, fmt.Errorf("host %q: no usable host name", arg)
	}
	return h, nil
}
