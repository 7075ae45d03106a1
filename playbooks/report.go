package playbooks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/report"
)

// Report reads every member of the running cluster, as doctor does but without its probes,
// and returns the document of it (package report renders it). It changes nothing. A member
// that cannot be read is a note in the document, not a failure; the error is for a cluster
// none of whose members could say what it is.
func (s *Session) Report(ctx context.Context, req ClusterRequest) (*report.Cluster, error) {
	r, sets := s.readRunning(ctx, req, readOptions{})
	for _, set := range sets {
		defer set.Close()
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	doc := document(r, time.Now())
	if r.Conf == nil {
		var errs []error
		for _, m := range r.Members {
			switch {
			case m.DialErr != nil:
				errs = append(errs, m.DialErr)
			case m.FactsErr != nil:
				errs = append(errs, &HostError{Host: m.Name, Err: m.FactsErr})
			}
		}
		return doc, fmt.Errorf("no member of %s told its cluster's corosync.conf: %w", r.File, errors.Join(errs...))
	}
	return doc, nil
}

// document is the report of what was read.
func document(r *liveCluster, now time.Time) *report.Cluster {
	c := &report.Cluster{Name: r.Cluster, Written: now}
	if r.Conf != nil {
		c.ConfigVersion, _ = r.Conf.ConfigVersion()
	}
	online := r.onlineByQuorate()
	for _, m := range r.Members {
		if m.Conf.NodeID == 0 {
			continue
		}
		if m.reached() && m.Facts != nil {
			c.ReadFrom = append(c.ReadFrom, m.Name)
		}
		c.Nodes = append(c.Nodes, reportNode(r, m, online))
	}
	for _, m := range r.Members {
		switch {
		case m.Conf.NodeID == 0 && m.InFile:
			c.Notes = append(c.Notes, fmt.Sprintf("%s is in %s but not in the cluster's nodelist; it is left out.", m.Name, r.File))
		case !m.reached():
			c.Notes = append(c.Notes, fmt.Sprintf("%s could not be reached (%s): what is shown of it comes from the other members.", m.Name, errText(m.DialErr)))
		case m.Facts == nil:
			c.Notes = append(c.Notes, fmt.Sprintf("%s's facts could not be read (%s).", m.Name, errText(m.FactsErr)))
		}
	}
	c.Links = r.linkNets()
	c.QDevice = r.reportQDevice()
	c.Quorum = r.reportQuorum(online)
	c.Latencies = r.latencies()
	if h := r.firstHealth(); h != nil {
		if h.Storage != nil {
			c.StorageOK = true
			for _, st := range h.Storage.Storages {
				servers := st.Servers
				if len(servers) == 0 && (st.Type == "rbd" || st.Type == "cephfs") {
					servers = h.CephMonHosts
				}
				c.Storages = append(c.Storages, report.Storage{ID: st.ID, Type: st.Type, Shared: st.Shared, Disabled: st.Disabled,
					Content: st.Content, Nodes: st.Nodes, Where: st.Where, Servers: servers})
			}
			for _, ig := range h.Storage.Ignored {
				c.Notes = append(c.Notes, fmt.Sprintf("storage.cfg line %d is ignored by PVE (%s): %q", ig.LineNo, ig.Reason, ig.Line))
			}
		}
		for _, ha := range h.HAResources {
			c.HA = append(c.HA, report.HA{ID: ha.ID, State: ha.State, Group: ha.Group})
		}
		mig := &report.Migration{Type: "secure"}
		if dc := h.Datacenter; dc != nil {
			mig.Type = dc.MigrationType
			if dc.MigrationNetwork.IsValid() {
				mig.Network = dc.MigrationNetwork.String()
			}
		}
		c.Migration = mig
	} else {
		c.Notes = append(c.Notes, "no member's /etc/pve could be read: storage, HA and migration are left out.")
	}
	return c
}

func (r *liveCluster) firstHealth() *pve.Health {
	for _, m := range r.Members {
		if m.Health != nil {
			return m.Health
		}
	}
	return nil
}

// onlineByQuorate is whom the quorate members see online (any readable member's view when
// none is quorate).
func (r *liveCluster) onlineByQuorate() map[int]bool {
	online := map[int]bool{}
	for _, want := range []bool{true, false} {
		for _, m := range r.Members {
			if !m.readable() || (m.Status.State == pve.Quorate) != want {
				continue
			}
			for _, id := range onlineIDs(m.Status) {
				online[id] = true
			}
		}
		if len(online) > 0 {
			break
		}
	}
	return online
}

func reportNode(r *liveCluster, m *liveMember, online map[int]bool) report.Node {
	// A nodelist entry without quorum_votes has corosync's default of one vote.
	n := report.Node{Name: m.Name, NodeID: m.Conf.NodeID, Votes: max(m.Conf.Votes, 1), Role: "voting member",
		Online: online[m.Conf.NodeID], Reached: m.reached()}
	if m.InFile || m.reached() {
		n.SSH = m.Address
	}
	n.State = summarize(r, m).State
	if m.Facts != nil {
		n.FQDN = m.Facts.FQDN
		if v := m.Facts.PVEVersion; v != nil {
			n.PVE, n.Kernel = v.Version.String(), v.Kernel
		}
	}
	for _, l := range r.Links {
		addr := m.Conf.Links[l]
		link := report.Link{Number: l, Addr: addr}
		if c, _, ok := m.carrier(l); ok {
			link.Interface = c.Holder.Name + " (" + string(c.Holder.Kind) + ")"
			var devs []string
			for _, leaf := range c.Leaves {
				devs = append(devs, deviceText(leaf))
			}
			link.Devices = strings.Join(devs, "; ")
			link.MTU = c.MTU
		}
		n.Links = append(n.Links, link)
	}
	return n
}

// deviceText is "eno1: 10 Gb/s, full duplex" ("Wi-Fi" for a wireless one).
func deviceText(i pve.Interface) string {
	var d []string
	if i.Kind == pve.KindWiFi {
		d = append(d, "Wi-Fi")
	}
	if i.SpeedMbps > 0 {
		d = append(d, mbps(i.SpeedMbps))
	}
	if i.Duplex != "" {
		d = append(d, i.Duplex+" duplex")
	}
	if len(d) == 0 {
		return i.Name
	}
	return i.Name + ": " + strings.Join(d, ", ")
}

// linkNets are the networks of each link, from the members' interfaces (the prefix of the
// address on the node), else the address's /24.
func (r *liveCluster) linkNets() []report.LinkNet {
	var out []report.LinkNet
	for _, l := range r.Links {
		ln := report.LinkNet{Number: l}
		for _, m := range r.Members {
			a, ok := m.linkAddr(l)
			if !ok {
				continue
			}
			var net netip.Prefix
			if m.Facts != nil {
				for _, i := range m.Facts.Interfaces {
					for _, ia := range i.Addrs {
						if ia.Prefix.Addr().Unmap() == a {
							net = ia.Prefix.Masked()
						}
					}
				}
			}
			if !net.IsValid() {
				bits := 24
				if a.Is6() {
					bits = 64
				}
				net, _ = a.Prefix(bits)
			}
			if s := net.String(); !slices.Contains(ln.Networks, s) {
				ln.Networks = append(ln.Networks, s)
			}
		}
		out = append(out, ln)
	}
	return out
}

func (r *liveCluster) reportQDevice() *report.QDevice {
	qc, ok := r.qdevice()
	if !ok {
		return nil
	}
	q := &report.QDevice{Host: qc.Host, Algorithm: qc.Algorithm, Votes: pve.QDeviceVotes(qc, r.nodeVotes()), Flags: map[string]string{}}
	for _, m := range r.Members {
		if !m.readable() {
			continue
		}
		if local, ok := m.Status.Local(); ok && local.QDevice != "" {
			q.Flags[m.Name] = local.QDevice
		}
	}
	return q
}

// reportQuorum explains the arithmetic in words.
func (r *liveCluster) reportQuorum(online map[int]bool) report.Quorum {
	votes := r.nodeVotes()
	var q report.Quorum
	qdev := 0
	if qd := r.reportQDevice(); qd != nil {
		qdev = qd.Votes
	}
	q.Expected = votes + qdev
	q.Quorum = q.Expected/2 + 1
	for down := 1; down <= len(r.ConfNodes); down++ {
		if q.Expected-down >= q.Quorum {
			q.Tolerates = down
		}
	}
	nodes := len(r.ConfNodes)
	q.Lines = append(q.Lines, fmt.Sprintf("%s with %s; expected votes %d; quorum is more than half of them: %d.",
		pluralize(nodes, "node"), pluralize(votes, "vote"), q.Expected, q.Quorum))
	switch {
	case qdev > 0:
		q.Lines = append(q.Lines, fmt.Sprintf("The QDevice adds %s: while it votes, %s may fail and the rest stay quorate; without it, %s.",
			pluralize(qdev, "vote"), pluralize(q.Tolerates, "node"), toleratesWithout(votes, nodes)))
	case nodes == 2:
		q.Lines = append(q.Lines, "Two nodes: both must be up, since one alone has 1 of 2 votes and needs 2. A QDevice (a third vote on another machine) lets either survive the other.")
	case nodes%2 == 0:
		q.Lines = append(q.Lines, fmt.Sprintf("An even count: %s may fail, but a split into two halves of %d leaves neither side quorate; a QDevice or one more node breaks the tie.", pluralize(q.Tolerates, "node"), nodes/2))
	case nodes == 1:
		q.Lines = append(q.Lines, "One node: it is always quorate by itself, and nothing can fail over.")
	default:
		q.Lines = append(q.Lines, fmt.Sprintf("%s may fail and the rest stay quorate; a quorate part of the cluster must hold %d votes, so no split leaves two quorate sides.", pluralize(q.Tolerates, "node"), q.Quorum))
	}
	var off []string
	for _, cn := range r.ConfNodes {
		if len(online) > 0 && !online[cn.NodeID] {
			off = append(off, cn.Name)
		}
	}
	if len(off) > 0 {
		q.Lines = append(q.Lines, fmt.Sprintf("Now %s offline: %d of %d votes remain, and %s.", andListOf(off)+" "+isAreNoun(len(off)), q.Expected-len(off), q.Expected, quorateWord(q.Expected-len(off) >= q.Quorum)))
	}
	q.Lines = append(q.Lines, "Without quorum a node's /etc/pve is read-only: no guest starts, no configuration changes, until enough votes are back.")
	return q
}

func toleratesWithout(votes, nodes int) string {
	quorum := votes/2 + 1
	n := 0
	for down := 1; down <= nodes; down++ {
		if votes-down >= quorum {
			n = down
		}
	}
	if n == 0 {
		return "no node may fail"
	}
	return pluralize(n, "node") + " may fail"
}

func quorateWord(ok bool) string {
	if ok {
		return "the cluster stays quorate"
	}
	return "the cluster is not quorate"
}

// latencies are knet's round trips per pair and link, the larger of the two ends' views.
func (r *liveCluster) latencies() []report.Latency {
	paths, _ := r.paths()
	var out []report.Latency
	for _, k := range sortedPaths(r, paths) {
		p := paths[k]
		l := report.Latency{A: k.a, B: k.b, Link: k.link, Down: p.down}
		if p.latAve >= 0 {
			l.Known = true
			l.AveMS, l.MaxMS = float64(p.latAve)/float64(time.Millisecond), float64(p.latMax)/float64(time.Millisecond)
		}
		out = append(out, l)
	}
	return out
}
