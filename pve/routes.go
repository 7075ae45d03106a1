package pve

import (
	"context"
	"strings"

	"github.com/quorate/quorate/remote"
)

// Route is how a node reaches one host: the address the host resolves to there, and the
// interface (and gateway) `ip route get` picks for it.
type Route struct {
	Host  string // as asked: an address or a name
	Addr  string // what it resolved to on the node; "" when it did not resolve
	Dev   string // the outgoing interface; "lo" for one of the node's own addresses
	Src   string
	Via   string // the gateway, "" on the local network
	Local bool   // the address is the node's own
	// Error is why there is no route: the name did not resolve, or ip's own words.
	Error string
}

// routesScript resolves each argument as pmxcfs and the storage plugins would (getent ahosts,
// the first answer) and asks the kernel which interface traffic to it leaves by.
const routesScript = `export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd / || exit 1
echo "quorate-routes v1"
for h in "$@"; do
	echo "[host $h]"
	a=$(getent ahosts "$h" 2>/dev/null)
	a=${a%%[ 	]*}
	printf 'addr=%s\n' "$a"
	[ -n "$a" ] || continue
	r=$(ip -o route get "$a" 2>&1)
	printf 'route=%s\n' "${r%%"
"*}"
done
echo "quorate-routes end"
`

// RoutesTo asks the node how it reaches each of hosts, in one round trip.
func (n *Node) RoutesTo(ctx context.Context, hosts []string) ([]Route, error) {
	if len(hosts) == 0 {
		return nil, nil
	}
	args := make([]string, len(hosts))
	for i, h := range hosts {
		if err := validHost(h); err != nil {
			return nil, n.wrap("routes", err)
		}
		args[i] = remote.Quote(h)
	}
	res, err := n.run(ctx, remote.Command{Line: "sh -s -- " + strings.Join(args, " "), Stdin: []byte(routesScript)}, n.timeouts.Query)
	if err != nil {
		return nil, n.wrap("routes", err)
	}
	routes, err := ParseRoutes(string(res.Stdout))
	return routes, n.wrap("routes", err)
}

// ParseRoutes reads the routes script's output: per host, the address it resolved to and
// the first line of `ip -o route get`, such as
//
//	198.51.100.50 dev vmbr0 src 198.51.100.11 uid 0 \    cache
//	local 198.51.100.11 dev lo table local src 198.51.100.11 uid 0 \    cache <local>
//	10.9.0.5 via 198.51.100.1 dev vmbr0 src 198.51.100.11 uid 0 \    cache
func ParseRoutes(out string) ([]Route, error) {
	const format = "routes"
	var routes []Route
	started, ended := false, false
	for i, line := range splitLines(out) {
		perr := func(reason string) error {
			return &ParseError{Format: format, LineNo: i + 1, Line: line, Reason: reason}
		}
		switch {
		case !started:
			started = strings.TrimSpace(line) == "quorate-routes v1"
		case line == "quorate-routes end":
			ended = true
		case ended:
		case strings.HasPrefix(line, "[host ") && strings.HasSuffix(line, "]"):
			routes = append(routes, Route{Host: strings.TrimSuffix(strings.TrimPrefix(line, "[host "), "]")})
		case len(routes) == 0:
			return nil, perr("want [host NAME] first")
		default:
			r := &routes[len(routes)-1]
			key, val, ok := strings.Cut(line, "=")
			switch {
			case !ok:
				return nil, perr("want KEY=VALUE")
			case key == "addr":
				r.Addr = strings.TrimSpace(val)
				if r.Addr == "" {
					r.Error = "does not resolve"
				}
			case key == "route":
				parseRouteGet(r, val)
			}
		}
	}
	if !started {
		return nil, &ParseError{Format: format, Reason: "no \"quorate-routes v1\" line"}
	}
	if !ended {
		return nil, &ParseError{Format: format, Reason: "output ends before \"quorate-routes end\" (cut short?)"}
	}
	return routes, nil
}

func parseRouteGet(r *Route, line string) {
	f := strings.Fields(line)
	if len(f) > 0 && f[0] == "local" {
		r.Local = true
	}
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "dev":
			r.Dev = f[i+1]
		case "src":
			r.Src = f[i+1]
		case "via":
			r.Via = f[i+1]
		}
	}
	if r.Dev == "" {
		r.Error = strings.TrimSpace(clip(line, 200))
		if r.Error == "" {
			r.Error = "no route"
		}
	}
}
