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
	pool     []netip.Prefix                // the placeholder networks, in the order they are given out
	names    map[string]string
	usedName map[string]bool
	counts   map[string]int
	v6net    int
	shared   int
}

// NewRedactor prepares placeholders that avoid every one of realAddrs and realNames.
func NewRedactor(realAddrs []netip.Addr, realNames []string) *Redactor {
	r := &Redactor{real: map[netip.Addr]bool{}, realName: map[string]bool{}, addrs: map[netip.Addr]netip.Addr{},
		nets: map[netip.Prefix]netip.Prefix{}, next: map[netip.Prefix]int{}, names: map[string]string{}, usedName: map[string]bool{}, counts: map[string]int{}}
	used := map[netip.Prefix]bool{}
	var realNets []netip.Prefix
	for _, a := range realAddrs {
		a = a.Unmap()
		r.real[a] = true
		if a.Is4() {
			p, _ := a.Prefix(24)
			if !used[p] {
				realNets = append(realNets, p)
			}
			used[p] = true
		}
	}
	var free []netip.Prefix
	for _, n := range docNets {
		if !used[n] {
			free = append(free, n)
		}
	}
	r.pool = placeholderPool(free, len(realNets))
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
			// A placeholder network ran out: this real network moves on to the next.
			i := slices.Index(r.pool, net)
			net = r.pool[(i+1)%len(r.pool)]
			r.nets[realNet] = net
			if i+1 >= len(r.pool) {
				clear(r.next) // thousands of addresses: numbering starts over, reals still skipped
			}
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

// placeholderPool are the networks real /24s get: one free documentation /24 each while
// they last, else the free ones split into as many equal parts as needed (two real networks
// and one free /24: 192.0.2.0/25 and 192.0.2.128/25), so that no two real networks share a
// placeholder network and none is one the cluster uses. Only a cluster on all three
// documentation /24s gets them (their host numbers then skip its real addresses).
func placeholderPool(free []netip.Prefix, realNets int) []netip.Prefix {
	if len(free) == 0 {
		return docNets
	}
	bits := 24
	for len(free)<<(bits-24) < realNets && bits < 28 {
		bits++
	}
	var pool []netip.Prefix
	for _, f := range free {
		size := 1 << (32 - bits)
		for i := 0; i < 256/size; i++ {
			b := f.Addr().As4()
			b[3] = byte(i * size)
			pool = append(pool, netip.PrefixFrom(netip.AddrFrom4(b), bits))
		}
	}
	return pool
}

// placeholderNet gives real network n the next network of the pool; past its end they are
// shared in turn, host numbers continuing. IPv6 networks get 2001:db8:N::/64.
func (r *Redactor) placeholderNet(n netip.Prefix) netip.Prefix {
	if p, ok := r.nets[n]; ok {
		return p
	}
	var p netip.Prefix
	if n.Addr().Is6() {
		r.v6net++
		p = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/64", r.v6net))
	} else {
		taken := map[netip.Prefix]bool{}
		for _, v := range r.nets {
			taken[v] = true
		}
		for _, c := range r.pool {
			if !taken[c] {
				p = c
				break
			}
		}
		if !p.IsValid() {
			p = r.pool[r.shared%len(r.pool)]
			r.shared++
		}
	}
	r.nets[n] = p
	return p
}

// hostIn is host number i of network n (1 to its size less two), ::i of an IPv6 /64.
func hostIn(n netip.Prefix, i int) netip.Addr {
	if n.Addr().Is4() {
		size := 1 << (32 - n.Bits())
		if i < 1 || i > size-2 {
			return netip.Addr{}
		}
		b := n.Addr().As4()
		b[3] += byte(i)
		return netip.AddrFrom4(b)
	}
	b := n.Addr().As16()
	b[14], b[15] = byte(i>>8), byte(i)
	return netip.AddrFrom16(b)
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
	if p.Bits() <= net.Bits() {
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
		case "iqn":
			p = fmt.Sprintf("iqn.2000-01.net.example:target%d", r.counts[kind])
		default:
			p = fmt.Sprintf("host%d.example.net", r.counts[kind])
		}
		if !r.realName[p] && !r.usedName[p] {
			r.names[key], r.usedName[p] = p, true
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
	s = iqnRe.ReplaceAllStringFunc(s, func(m string) string {
		if r.usedName[m] {
			return m // a placeholder already
		}
		return r.Name("iqn", m)
	})
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

// replaceWord replaces from (case-insensitive) where it is not part of a longer value of its
// kind: an IPv4 address not followed by more digits (198.51.100.1 in 198.51.100.13), an IPv6
// address not within a longer one, a name not within a longer word (pve1 in pve10); a name
// followed by a dot and more is replaced (pve1.lab.example becomes node1.lab.example), which
// redacts more rather than less.
func replaceWord(s, from, to string) string {
	if from == "" {
		return s
	}
	word := func(c byte) bool { return c == '_' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	ahead := func(rest string) bool { return rest != "" && word(rest[0]) }
	switch a, err := netip.ParseAddr(from); {
	case err == nil && a.Is4():
		word = func(c byte) bool { return isDigit(c) }
		ahead = func(rest string) bool {
			return rest != "" && (isDigit(rest[0]) || (rest[0] == '.' && len(rest) > 1 && isDigit(rest[1])))
		}
	case err == nil:
		word = func(c byte) bool { return c == ':' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
		ahead = func(rest string) bool { return rest != "" && word(rest[0]) }
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
		if (j == 0 || !word(s[j-1]) && s[j-1] != '.') && !ahead(s[end:]) {
			b.WriteString(s[i:j])
			b.WriteString(to)
		} else {
			b.WriteString(s[i:end])
		}
		i = end
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
