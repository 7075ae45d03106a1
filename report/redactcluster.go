package report

import (
	"net/netip"
	"strings"
)

// Redact returns a copy of c with every address and host name replaced by its placeholder
// (see Redactor), and the redactor, whose Text scrubs what is rendered from it as a last
// safety net.
func (c *Cluster) Redact() (*Cluster, *Redactor) {
	var addrs []netip.Addr
	var names []string
	addValue := func(v string) {
		if v == "" {
			return
		}
		if a, err := netip.ParseAddr(v); err == nil {
			addrs = append(addrs, a)
		} else if p, err := netip.ParsePrefix(v); err == nil {
			addrs = append(addrs, p.Addr())
		} else if ap, err := netip.ParseAddrPort(v); err == nil {
			addrs = append(addrs, ap.Addr())
		} else {
			host, _, _ := strings.Cut(v, ":")
			if _, h, ok := strings.Cut(host, "@"); ok {
				host = h
			}
			names = append(names, host)
		}
	}
	names = append(names, c.Name)
	for _, n := range c.Nodes {
		names = append(names, n.Name, n.FQDN)
		addValue(n.SSH)
		for _, l := range n.Links {
			addValue(l.Addr)
		}
	}
	for _, l := range c.Links {
		for _, net := range l.Networks {
			addValue(net)
		}
	}
	for _, s := range c.Storages {
		for _, srv := range s.Servers {
			addValue(srv)
		}
	}
	if c.QDevice != nil {
		addValue(c.QDevice.Host)
	}
	if c.Migration != nil {
		addValue(c.Migration.Network)
	}
	r := NewRedactor(addrs, names)

	out := *c
	out.Redacted = true
	out.Name = r.Name("cluster", c.Name)
	// Nodes first, in node id order (the report's order), so that node1 is the lowest id.
	for _, n := range c.Nodes {
		ph := r.Name("node", n.Name)
		if n.FQDN != "" {
			r.names[strings.ToLower(n.FQDN)] = ph + ".example.net"
			r.usedName[ph+".example.net"] = true
		}
	}
	out.ReadFrom = mapStrings(c.ReadFrom, func(s string) string { return r.Name("node", s) })
	out.Nodes = nil
	for _, n := range c.Nodes {
		m := n
		m.Name = r.Name("node", n.Name)
		m.FQDN = r.Value(n.FQDN)
		m.SSH = r.Value(n.SSH)
		m.Links = nil
		for _, l := range n.Links {
			l.Addr = r.Value(l.Addr)
			m.Links = append(m.Links, l)
		}
		out.Nodes = append(out.Nodes, m)
	}
	out.Links = nil
	for _, l := range c.Links {
		l.Networks = mapStrings(l.Networks, r.Value)
		out.Links = append(out.Links, l)
	}
	out.Latencies = nil
	for _, l := range c.Latencies {
		l.A, l.B = r.Name("node", l.A), r.Name("node", l.B)
		out.Latencies = append(out.Latencies, l)
	}
	out.Storages = nil
	for _, s := range c.Storages {
		s.Servers = mapStrings(s.Servers, r.Value)
		s.Nodes = mapStrings(s.Nodes, func(n string) string { return r.Name("node", n) })
		s.Where = r.Text(s.Where)
		out.Storages = append(out.Storages, s)
	}
	if c.QDevice != nil {
		q := *c.QDevice
		q.Host = r.Value(q.Host)
		q.Flags = map[string]string{}
		for n, f := range c.QDevice.Flags {
			q.Flags[r.Name("node", n)] = f
		}
		out.QDevice = &q
	}
	if c.Migration != nil {
		m := *c.Migration
		m.Network = r.Value(m.Network)
		out.Migration = &m
	}
	out.Quorum.Lines = mapStrings(c.Quorum.Lines, r.Text)
	out.Notes = mapStrings(c.Notes, r.Text)
	return &out, r
}

func mapStrings(in []string, f func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}
