package report

import (
	"fmt"
	"slices"
	"strings"
)

// Markdown writes the document. svg is the diagram's file name next to it ("" leaves the
// picture out).
func (c *Cluster) Markdown(svg string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Cluster %s", c.Name)
	p("")
	read := "no member"
	if len(c.ReadFrom) > 0 {
		read = andList(c.ReadFrom)
	}
	p("Written by `quorate report` on %s from what %s said.", c.Written.UTC().Format("2006-01-02 15:04 MST"), read)
	if c.Redacted {
		p("Addresses and host names are replaced by placeholders from the documentation ranges (RFC 5737, RFC 3849, RFC 2606), the same placeholder for the same value throughout.")
	}
	p("")
	if svg != "" {
		p("![Diagram of cluster %s: nodes, corosync links and their latency](%s)", c.Name, svg)
		p("")
	}
	for _, n := range c.Notes {
		p("> **Note:** %s", n)
	}
	if len(c.Notes) > 0 {
		p("")
	}

	p("## Summary")
	p("")
	online := 0
	for _, n := range c.Nodes {
		if n.Online {
			online++
		}
	}
	rows := [][]string{
		{"Cluster name", c.Name},
		{"Config version", fmt.Sprint(c.ConfigVersion)},
		{"Nodes", fmt.Sprintf("%d (%d online)", len(c.Nodes), online)},
		{"Corosync links", c.linkSummary()},
		{"QDevice", c.qdeviceSummary()},
		{"Quorum", fmt.Sprintf("%d of %d expected votes; %s may fail", c.Quorum.Quorum, c.Quorum.Expected, plural(c.Quorum.Tolerates, "node"))},
	}
	table(&b, []string{"", ""}, rows)
	p("")

	p("## Nodes")
	p("")
	head := []string{"Node", "Node ID", "Votes", "Role", "SSH"}
	for _, l := range c.Links {
		head = append(head, fmt.Sprintf("link%d", l.Number))
	}
	head = append(head, "PVE", "Kernel", "State")
	rows = nil
	for _, n := range c.Nodes {
		row := []string{n.Name, fmt.Sprint(n.NodeID), fmt.Sprint(n.Votes), n.Role, orDash(n.SSH)}
		for _, l := range c.Links {
			row = append(row, orDash(n.linkAddr(l.Number)))
		}
		row = append(row, orDash(n.PVE), orDash(n.Kernel), n.State)
		rows = append(rows, row)
	}
	if q := c.QDevice; q != nil {
		role := "QDevice"
		if q.Algorithm != "" {
			role += " (" + q.Algorithm + ")"
		}
		row := []string{q.Host, "-", fmt.Sprint(q.Votes), role, "-"}
		for range c.Links {
			row = append(row, "-")
		}
		row = append(row, "-", "-", c.qdeviceState())
		rows = append(rows, row)
	}
	table(&b, head, rows)
	p("")
	p("### Link interfaces")
	p("")
	rows = nil
	for _, n := range c.Nodes {
		for _, l := range n.Links {
			mtu := "-"
			if l.MTU > 0 {
				mtu = fmt.Sprint(l.MTU)
			}
			rows = append(rows, []string{n.Name, fmt.Sprintf("link%d", l.Number), orDash(l.Addr), orDash(l.Interface), orDash(l.Devices), mtu})
		}
	}
	if len(rows) == 0 {
		p("No node's interfaces could be read.")
	} else {
		table(&b, []string{"Node", "Link", "Address", "Interface", "Devices", "MTU"}, rows)
	}
	p("")

	p("## Quorum")
	p("")
	for _, l := range c.Quorum.Lines {
		p("- %s", l)
	}
	p("")

	p("## Corosync links")
	p("")
	for _, l := range c.Links {
		nets := "networks unknown"
		if len(l.Networks) > 0 {
			nets = strings.Join(l.Networks, ", ")
		}
		p("- link%d: %s", l.Number, nets)
	}
	p("")
	if len(c.Latencies) > 0 {
		p("Round trips as knet measures them (its average and maximum since corosync started):")
		p("")
		head = []string{"Between"}
		for _, l := range c.Links {
			head = append(head, fmt.Sprintf("link%d", l.Number))
		}
		rows = nil
		for _, pair := range c.pairs() {
			row := []string{pair[0] + " – " + pair[1]}
			for _, l := range c.Links {
				row = append(row, c.latencyText(pair[0], pair[1], l.Number))
			}
			rows = append(rows, row)
		}
		table(&b, head, rows)
		p("")
	}

	p("## Storage")
	p("")
	switch {
	case !c.StorageOK:
		p("/etc/pve/storage.cfg could not be read or does not exist.")
	case len(c.Storages) == 0:
		p("/etc/pve/storage.cfg defines no storage.")
	default:
		rows = nil
		for _, s := range c.Storages {
			shared := "local"
			if s.Shared {
				shared = "shared"
			}
			if s.Disabled {
				shared += ", disabled"
			}
			nodes := "all"
			if len(s.Nodes) > 0 {
				nodes = strings.Join(s.Nodes, ", ")
			}
			rows = append(rows, []string{s.ID, s.Type, shared, orDash(strings.Join(s.Content, ", ")), nodes, orDash(s.Where), orDash(strings.Join(s.Servers, ", "))})
		}
		table(&b, []string{"Storage", "Type", "Shared", "Content", "Nodes", "Where", "Servers"}, rows)
		p("")
		var shared, local []string
		for _, s := range c.Storages {
			if s.Disabled || !holdsGuests(s) {
				continue
			}
			if s.Shared {
				shared = append(shared, s.ID)
			} else {
				local = append(local, s.ID)
			}
		}
		p("What live migration and HA can use:")
		p("")
		if len(shared) > 0 {
			p("- Shared (%s): the same disks are reachable from every node it is on, so a live migration moves only memory and HA can restart a guest on another node.", strings.Join(shared, ", "))
		} else {
			p("- No shared storage holds guest disks: HA cannot restart a guest elsewhere without replication.")
		}
		if len(local) > 0 {
			p("- Local (%s): a migration copies the disks (offline, or online with local disks); HA can use them only with storage replication, which needs ZFS.", strings.Join(local, ", "))
		}
	}
	p("")

	p("## High availability")
	p("")
	if len(c.HA) == 0 {
		p("No HA resources are configured.")
	} else {
		rows = nil
		for _, h := range c.HA {
			rows = append(rows, []string{h.ID, h.State, orDash(h.Group)})
		}
		table(&b, []string{"Resource", "State", "Group"}, rows)
	}
	p("")

	p("## Migration")
	p("")
	switch {
	case c.Migration == nil:
		p("datacenter.cfg could not be read.")
	case c.Migration.Network == "":
		p("Type %s; no migration network is set, so migrations go over the cluster network (corosync's link%d).", c.Migration.Type, c.firstLink())
	default:
		p("Type %s, over the migration network %s.", c.Migration.Type, c.Migration.Network)
	}
	return b.String()
}

func (c *Cluster) firstLink() int {
	if len(c.Links) == 0 {
		return 0
	}
	return c.Links[0].Number
}

func holdsGuests(s Storage) bool {
	if len(s.Content) == 0 {
		return true
	}
	return slices.Contains(s.Content, "images") || slices.Contains(s.Content, "rootdir")
}

func (c *Cluster) linkSummary() string {
	if len(c.Links) == 0 {
		return "unknown"
	}
	var parts []string
	for _, l := range c.Links {
		s := fmt.Sprintf("link%d", l.Number)
		if len(l.Networks) > 0 {
			s += " (" + strings.Join(l.Networks, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("%d: %s", len(c.Links), strings.Join(parts, ", "))
}

func (c *Cluster) qdeviceSummary() string {
	if c.QDevice == nil {
		return "none"
	}
	s := fmt.Sprintf("%s, %s", c.QDevice.Host, plural(c.QDevice.Votes, "vote"))
	if c.QDevice.Algorithm != "" {
		s += ", " + c.QDevice.Algorithm
	}
	return s
}

// qdeviceState is the QDevice's flags as the members show them: "A,V,NMW on pve1, pve2".
func (c *Cluster) qdeviceState() string {
	byFlags := map[string][]string{}
	var order []string
	for _, n := range c.Nodes {
		f, ok := c.QDevice.Flags[n.Name]
		if !ok {
			continue
		}
		if _, seen := byFlags[f]; !seen {
			order = append(order, f)
		}
		byFlags[f] = append(byFlags[f], n.Name)
	}
	if len(order) == 0 {
		return "unknown"
	}
	var parts []string
	for _, f := range order {
		parts = append(parts, f+" on "+strings.Join(byFlags[f], ", "))
	}
	return strings.Join(parts, "; ")
}

func (n Node) linkAddr(l int) string {
	for _, x := range n.Links {
		if x.Number == l {
			return x.Addr
		}
	}
	return ""
}

// pairs are every two nodes, in the nodes' order.
func (c *Cluster) pairs() [][2]string {
	var out [][2]string
	for i, a := range c.Nodes {
		for _, b := range c.Nodes[i+1:] {
			out = append(out, [2]string{a.Name, b.Name})
		}
	}
	return out
}

func (c *Cluster) latency(a, b string, link int) (Latency, bool) {
	for _, l := range c.Latencies {
		if l.Link == link && ((l.A == a && l.B == b) || (l.A == b && l.B == a)) {
			return l, true
		}
	}
	return Latency{}, false
}

func (c *Cluster) latencyText(a, b string, link int) string {
	l, ok := c.latency(a, b, link)
	switch {
	case !ok || (!l.Known && !l.Down):
		return "-"
	case l.Down:
		return "down"
	}
	return fmt.Sprintf("%.2f ms (max %.2f ms)", l.AveMS, l.MaxMS)
}

// table writes a Markdown table; "|" in a cell is escaped.
func table(b *strings.Builder, head []string, rows [][]string) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	line := func(cells []string) {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = esc(c)
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(out, " | "))
	}
	line(head)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
	}
	fmt.Fprintf(b, "|%s|\n", strings.Join(sep, "|"))
	for _, r := range rows {
		line(r)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func andList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
