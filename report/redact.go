package report

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Redaction replaces every address and host name with a placeholder from the ranges set
// aside for documentation, so that the report can be posted publicly: IPv4 from
// 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 (RFC 5737), IPv6 from 2001:db8::/32
// (RFC 3849), names under example.net (RFC 2606); nodes become node1, node2, ... in node id
// order and the cluster "cluster1". The same value gets the same placeholder throughout, and
// no placeholder is a value the cluster itself uses (a lab on the documentation ranges stays
// unambiguous). Each real /24 keeps a /24 of its own while there are free documentation
// /24s, so the report still shows which addresses share a network.

var docNets = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
}

// Redactor maps real values to placeholders.
type Redactor struct {
	real     map[netip.Addr]bool // every real address, so that no placeholder is one
	realName map[string]bool
	addrs    map[netip.Addr]netip.Addr
	nets     map[netip.Prefix]netip.Prefix // real /24 (or /64) -> placeholder network
	next     map[netip.Prefix]int          // next host number in a placeholder network
	freeNets []netip.Prefix
	names    map[string]string
	counts   map[string]int
	v6net    int
}

// NewRedactor prepares placeholders that avoid every one of realAddrs and realNames.
func NewRedactor(realAddrs []netip.Addr, realNames []string) *Redactor {
	r := &Redactor{real: map[netip.Addr]bool{}, realName: map[string]bool{}, addrs: map[netip.Addr]netip.Addr{},
		nets: map[netip.Prefix]netip.Prefix{}, next: map[netip.Prefix]int{}, names: map[string]string{}, counts: map[string]int{}}
	used := map[netip.Prefix]bool{}
	for _, a := range realAddrs {
		a = a.Unmap()
		r.real[a] = true
		if a.Is4() {
			p, _ := a.Prefix(24)
			used[p] = true
		}
	}
	for _, n := range docNets {
		if !used[n] {
			r.freeNets = append(r.freeNets, n)
		}
	}
	for _, n := range realNames {
		r.realName[strings.ToLower(n)] = true
	}
	return r
}

// Addr is the placeholder of a.
func (r *Redactor) Addr(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if p, ok := r.addrs[a]; ok {
		return p
	}
	if a.IsLoopback() || a.IsUnspecified() {
		return a
	}
	bits := 24
	if a.Is6() {
		bits = 64
	}
	realNet, _ := a.Prefix(bits)
	net := r.placeholderNet(realNet)
	for {
		r.next[net]++
		cand := hostIn(net, r.next[net])
		if !cand.IsValid() {
			// A placeholder network ran out: share the next one.
			delete(r.nets, realNet)
			net = r.placeholderNet(realNet)
			continue
		}
		if r.real[cand] || slices.Contains(mapValues(r.addrs), cand) {
			continue
		}
		r.addrs[a] = cand
		return cand
	}
}

func mapValues(m map[netip.Addr]netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// placeholderNet gives real network n a documentation network: a free /24 of its own while
// any is left, else the documentation /24s in turn (host numbers then continue, skipping the
// cluster's own addresses); IPv6 networks get 2001:db8:N::/64.
func (r *Redactor) placeholderNet(n netip.Prefix) netip.Prefix {
	if p, ok := r.nets[n]; ok {
		return p
	}
	var p netip.Prefix
	switch {
	case n.Addr().Is6():
		r.v6net++
		p = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/64", r.v6net))
	case len(r.freeNets) > 0:
		p, r.freeNets = r.freeNets[0], r.freeNets[1:]
	default:
		for _, d := range docNets {
			if r.next[d] < 254 {
				p = d
				break
			}
		}
		if !p.IsValid() {
			p = docNets[0] // more than 762 addresses: reuse, still never a real one
			r.next[p] = 0
		}
	}
	r.nets[n] = p
	return p
}

// hostIn is host number i of network n: .1 to .254 of a /24, ::i of a /64.
func hostIn(n netip.Prefix, i int) netip.Addr {
	b := n.Addr().AsSlice()
	if n.Addr().Is4() {
		if i < 1 || i > 254 {
			return netip.Addr{}
		}
		b[3] = byte(i)
		a, _ := netip.AddrFromSlice(b)
		return a
	}
	b[14], b[15] = byte(i>>8), byte(i)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Prefix is the placeholder of a network: the placeholder network of its /24 (/64 for IPv6),
// at its own length when that is longer, else the whole placeholder network (a /16 of
// placeholders would leave the documentation ranges).
func (r *Redactor) Prefix(p netip.Prefix) netip.Prefix {
	base := 24
	if p.Addr().Is6() {
		base = 64
	}
	realNet, _ := p.Addr().Prefix(base)
	net := r.placeholderNet(realNet)
	if p.Bits() <= base {
		return net
	}
	out, _ := net.Addr().Prefix(p.Bits())
	return out
}

// Name is the placeholder of a host name, kind "node" (node1, node2, ...) or "host"
// (host1.example.net, ...), or "cluster".
func (r *Redactor) Name(kind, name string) string {
	if name == "" {
		return ""
	}
	key := strings.ToLower(name)
	if p, ok := r.names[key]; ok {
		return p
	}
	for {
		r.counts[kind]++
		var p string
		switch kind {
		case "node":
			p = fmt.Sprintf("node%d", r.counts[kind])
		case "cluster":
			p = fmt.Sprintf("cluster%d", r.counts[kind])
		default:
			p = fmt.Sprintf("host%d.example.net", r.counts[kind])
		}
		if !r.realName[p] {
			r.names[key] = p
			return p
		}
	}
}

// Value redacts a value that is an address, a network or a host name, and keeps anything
// else; "host:port" and "[v6]:port" keep their port.
func (r *Redactor) Value(v string) string {
	if v == "" {
		return v
	}
	if a, err := netip.ParseAddr(v); err == nil {
		return r.Addr(a).String()
	}
	if p, err := netip.ParsePrefix(v); err == nil {
		return r.Prefix(p).String()
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return netip.AddrPortFrom(r.Addr(ap.Addr()), ap.Port()).String()
	}
	if host, port, ok := strings.Cut(v, ":"); ok && isPort(port) {
		return r.Value(host) + ":" + port
	}
	if user, host, ok := strings.Cut(v, "@"); ok && !strings.Contains(host, "@") {
		return user + "@" + r.Value(host)
	}
	if hostNameRe.MatchString(v) {
		if p, ok := r.names[strings.ToLower(v)]; ok {
			return p
		}
		return r.Name("host", v)
	}
	return v
}

func isPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var hostNameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// iqnRe is an iSCSI qualified name: its naming authority is a reversed domain.
var iqnRe = regexp.MustCompile(`iqn\.\d{4}-\d{2}\.[A-Za-z0-9.-]+(:\S*)?`)

// Text scrubs free text: every real value the redactor has mapped is replaced where it stands
// as a word of its own (pve1 in "pve1," but not in "pve10"), longest first, and iSCSI names
// become iqn.2000-01.net.example:targetN.
func (r *Redactor) Text(s string) string {
	s = iqnRe.ReplaceAllStringFunc(s, func(m string) string { return r.Name("iqn", m) })
	type pair struct{ from, to string }
	var pairs []pair
	for a, p := range r.addrs {
		pairs = append(pairs, pair{a.String(), p.String()})
	}
	for n, p := range r.names {
		if !strings.HasPrefix(n, "iqn.") {
			pairs = append(pairs, pair{n, p})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if len(pairs[i].from) != len(pairs[j].from) {
			return len(pairs[i].from) > len(pairs[j].from)
		}
		return pairs[i].from < pairs[j].from
	})
	for _, p := range pairs {
		s = replaceWord(s, p.from, p.to)
	}
	return s
}

// replaceWord replaces from (case-insensitive) where it is not part of a longer name or
// address.
func replaceWord(s, from, to string) string {
	if from == "" {
		return s
	}
	lower, lf := strings.ToLower(s), strings.ToLower(from)
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(lower[i:], lf)
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		j += i
		end := j + len(from)
		if (j == 0 || !wordByte(s[j-1])) && (end == len(s) || !wordByte(s[end]) || (s[end] == '.' && (end+1 == len(s) || !wordByte(s[end+1])))) {
			b.WriteString(s[i:j])
			b.WriteString(to)
		} else {
			b.WriteString(s[i:end])
		}
		i = end
	}
}

func wordByte(c byte) bool {
	return c == '.' || c == '-' || c == '_' || c == ':' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
