package playbooks

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/pve"
)

// corosync's own view of its links, from both ends of every pair: corosync-cfgtool -s (down
// now) and knet's counters (docs/pve.md §12.3), read twice a window apart: a link that went
// down in the window flaps now; pings without a pong are loss, now (the window) or since
// corosync started (which a peer's downtime also counts, so that alone is a warning).

// Loss and latency limits. PVE asks for round trips under 5 ms, and above about 10 ms a
// cluster of more than three nodes is unlikely to work (docs/pve.md §6.4).
const (
	lossWarnPct      = 1.0
	lossNowPct       = 20.0
	latencyWarn      = 5 * time.Millisecond
	latencyError     = 10 * time.Millisecond
	downCountWarn    = 10
	minLifetimePings = 20
)

// pathKey is one link between two nodes, the pair ordered as the members are.
type pathKey struct {
	link int
	a, b string
}

// pathState gathers what both ends say of one path.
type pathState struct {
	key      pathKey
	sev      preflight.Severity
	problems []string
	details  map[string][]string // by problem: what each end says of it
	// latency is the larger of the two ends' knet averages (and maxima); -1 unknown.
	latAve, latMax time.Duration
	down           bool
}

// add notes a problem of the path; the same problem seen from both ends is one, with each
// end's detail ("", or "21 of 1392 from pve1").
func (p *pathState) add(sev preflight.Severity, problem, detail string) {
	if p.details == nil {
		p.details = map[string][]string{}
	}
	if _, ok := p.details[problem]; !ok {
		p.problems = append(p.problems, problem)
	}
	if detail != "" {
		p.details[problem] = append(p.details[problem], detail)
	}
	if rank(sev) > rank(p.sev) {
		p.sev = sev
	}
}

// describe is the path's problems, each with what the ends said.
func (p *pathState) describe() string {
	var parts []string
	for _, pr := range p.problems {
		if d := p.details[pr]; len(d) > 0 {
			pr += " (" + strings.Join(d, "; ") + ")"
		}
		parts = append(parts, pr)
	}
	return strings.Join(parts, ", ")
}

func rank(s preflight.Severity) int {
	switch s {
	case preflight.Error:
		return 2
	case preflight.Warning:
		return 1
	}
	return 0
}

// paths reads every member's view of every path.
func (r *liveCluster) paths() (map[pathKey]*pathState, []preflight.Finding) {
	paths := map[pathKey]*pathState{}
	var unread []preflight.Finding
	order := map[string]int{}
	for i, m := range r.Members {
		order[m.Name] = i
	}
	get := func(l int, x, y string) *pathState {
		a, b := x, y
		if order[b] < order[a] {
			a, b = b, a
		}
		k := pathKey{link: l, a: a, b: b}
		if paths[k] == nil {
			paths[k] = &pathState{key: k, sev: preflight.Pass, latAve: -1, latMax: -1}
		}
		return paths[k]
	}
	for _, m := range r.Members {
		if !m.reached() || m.Conf.NodeID == 0 || !m.readable() {
			continue
		}
		if m.Links == nil && m.Knet == nil {
			unread = append(unread, warn(m.Name, "run corosync-cfgtool -s and corosync-cmapctl -m stats on "+m.Name,
				"could not read corosync's links on %s: %v", m.Name, firstErr(m.LinksErr, m.KnetErr)))
			continue
		}
		for _, l := range r.Links {
			for _, cn := range r.ConfNodes {
				if cn.NodeID == m.Conf.NodeID {
					continue
				}
				p := get(l, m.Name, cn.Name)
				r.readPath(m, cn, l, p)
			}
		}
	}
	return paths, unread
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// readPath adds what member m says of its link l to peer.
func (r *liveCluster) readPath(m *liveMember, peer pve.ConfNode, l int, p *pathState) {
	from := "from " + m.Name
	if m.Links != nil {
		for _, ls := range m.Links.Status {
			if ls.Link != l {
				continue
			}
			for _, n := range ls.Nodes {
				if n.NodeID == peer.NodeID && n.State != "connected" && n.State != "localhost" {
					p.down = true
					p.add(preflight.Error, orUnknown(n.State)+" now", "as "+m.Name+" sees it")
				}
			}
		}
	}
	start, end := knetOf(m.Knet, peer.NodeID, l), knetOf(m.KnetEnd, peer.NodeID, l)
	last := end
	if last == nil {
		last = start
	}
	if last == nil {
		return
	}
	if !last.Connected && !p.down {
		p.down = true
		p.add(preflight.Error, "not connected in knet's counters", from)
	}
	if start != nil && end != nil && m.Window > 0 {
		secs := m.Window.Seconds()
		if d := end.DownCount - start.DownCount; d > 0 {
			p.add(preflight.Error, fmt.Sprintf("flapping: down in the %.0f s doctor watched", secs), pluralize(d, "time")+" "+from)
		}
		tx, rx := counter(end, "tx_ping_packets")-counter(start, "tx_ping_packets"), counter(end, "rx_pong_packets")-counter(start, "rx_pong_packets")
		if lost := tx - rx; tx >= 3 && lost >= 2 && pct(lost, tx) >= lossNowPct {
			p.add(preflight.Error, fmt.Sprintf("losing pings now, in the %.0f s doctor watched", secs), fmt.Sprintf("%d of %d %s", lost, tx, from))
		}
	}
	tx, rx := counter(last, "tx_ping_packets"), counter(last, "rx_pong_packets")
	if lost := tx - rx - 1; tx >= minLifetimePings && lost >= 3 && pct(lost, tx) >= lossWarnPct {
		p.add(preflight.Warning, "knet's pings unanswered since corosync started", fmt.Sprintf("%.1f %%, %d of %d %s", pct(lost, tx), lost, tx, from))
	}
	if last.DownCount >= downCountWarn {
		p.add(preflight.Warning, "went down often since corosync started", fmt.Sprintf("%d times %s", last.DownCount, from))
	}
	if last.Connected && (last.Values["latency_samples"] > 0 || last.LatencyAve > 0) {
		ave, mx := time.Duration(last.LatencyAve)*time.Microsecond, time.Duration(last.LatencyMax)*time.Microsecond
		p.latAve, p.latMax = max(p.latAve, ave), max(p.latMax, mx)
	}
}

func knetOf(stats []pve.KnetLinkStats, node, link int) *pve.KnetLinkStats {
	for i := range stats {
		if stats[i].NodeID == node && stats[i].Link == link {
			return &stats[i]
		}
	}
	return nil
}

func counter(s *pve.KnetLinkStats, key string) int {
	if s == nil {
		return 0
	}
	return int(s.Values[key])
}

func pct(part, whole int) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// blame finds, per link, the node whose every path is bad: with two or more peers, that node
// (its NIC, cable or switch port) is the likely cause, and the finding is its alone.
func (r *liveCluster) blame(paths map[pathKey]*pathState, bad func(*pathState) bool) map[pathKey]string {
	out := map[pathKey]string{}
	for _, l := range r.Links {
		count, total := map[string]int{}, map[string]int{}
		for k, p := range paths {
			if k.link != l {
				continue
			}
			total[k.a]++
			total[k.b]++
			if bad(p) {
				count[k.a]++
				count[k.b]++
			}
		}
		for k, p := range paths {
			if k.link != l || !bad(p) {
				continue
			}
			switch {
			case total[k.a] >= 2 && count[k.a] == total[k.a] && !(total[k.b] >= 2 && count[k.b] == total[k.b]):
				out[k] = k.a
			case total[k.b] >= 2 && count[k.b] == total[k.b]:
				out[k] = k.b
			default:
				out[k] = k.a
			}
		}
	}
	return out
}

// pathFindings turns the bad paths into one finding per blamed node and link.
func (r *liveCluster) pathFindings(paths map[pathKey]*pathState, bad func(*pathState) bool, describe func(*pathState) string, fix func(node string, link int) string) []preflight.Finding {
	blamed := r.blame(paths, bad)
	type group struct {
		node  string
		link  int
		sev   preflight.Severity
		parts []string
		peers int
	}
	var groups []*group
	find := func(node string, link int) *group {
		for _, g := range groups {
			if g.node == node && g.link == link {
				return g
			}
		}
		g := &group{node: node, link: link, sev: preflight.Pass}
		groups = append(groups, g)
		return g
	}
	keys := sortedPaths(r, paths)
	for _, k := range keys {
		p := paths[k]
		if !bad(p) {
			continue
		}
		node := blamed[k]
		other := k.b
		if node == k.b {
			other = k.a
		}
		g := find(node, k.link)
		g.parts = append(g.parts, "to "+other+": "+describe(p))
		g.peers++
		if rank(p.sev) > rank(g.sev) {
			g.sev = p.sev
		}
	}
	var out []preflight.Finding
	for _, g := range groups {
		msg := fmt.Sprintf("link%d of %s: %s", g.link, g.node, strings.Join(g.parts, "; "))
		if g.peers >= 2 && g.peers == len(r.ConfNodes)-1 {
			msg += fmt.Sprintf(". Every link%d path of %s suffers: %s's end is the likely cause", g.link, g.node, g.node)
		}
		f := preflight.Finding{Node: g.node, Severity: g.sev, Message: msg, Fix: fix(g.node, g.link)}
		out = append(out, f)
	}
	return out
}

func sortedPaths(r *liveCluster, paths map[pathKey]*pathState) []pathKey {
	order := map[string]int{}
	for i, m := range r.Members {
		order[m.Name] = i
	}
	var keys []pathKey
	for k := range paths {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y pathKey) int {
		if x.link != y.link {
			return x.link - y.link
		}
		if order[x.a] != order[y.a] {
			return order[x.a] - order[y.a]
		}
		return order[x.b] - order[y.b]
	})
	return keys
}

func checkCorosyncLinks(r *liveCluster) []preflight.Finding {
	paths, out := r.paths()
	bad := func(p *pathState) bool { return p.sev != preflight.Pass }
	out = append(out, r.pathFindings(paths, bad, func(p *pathState) string { return p.describe() },
		func(node string, link int) string {
			return fmt.Sprintf("check %s's link%d: its interface, cable and switch port (ip -s link, ethtool -S), then the network between it and the others; corosync-cfgtool -s on %s shows the link state", node, link, node)
		})...)
	// The members all of whose paths are fine.
	for _, m := range r.Members {
		if !m.reached() || m.Conf.NodeID == 0 || !m.readable() || (m.Links == nil && m.Knet == nil) {
			continue
		}
		clean := true
		for k, p := range paths {
			if (k.a == m.Name || k.b == m.Name) && bad(p) {
				clean = false
			}
		}
		if clean {
			var links []string
			for _, l := range r.Links {
				links = append(links, fmt.Sprintf("link%d", l))
			}
			out = append(out, pass(m.Name, "%s connected to %s, no ping lost", strings.Join(links, ", "), pluralize(len(r.ConfNodes)-1, "peer")))
		}
	}
	return out
}

func checkLinkLatency(r *liveCluster) []preflight.Finding {
	paths, _ := r.paths()
	for _, p := range paths {
		p.sev, p.problems, p.details = preflight.Pass, nil, nil
		switch {
		case p.down || p.latAve < 0:
		case p.latAve > latencyError:
			p.add(preflight.Error, fmt.Sprintf("%s on average (at most %s)", ms(p.latAve), ms(p.latMax)), "")
		case p.latAve > latencyWarn:
			p.add(preflight.Warning, fmt.Sprintf("%s on average (at most %s)", ms(p.latAve), ms(p.latMax)), "")
		}
	}
	bad := func(p *pathState) bool { return p.sev != preflight.Pass }
	out := r.pathFindings(paths, bad, func(p *pathState) string {
		return p.describe() + ", above PVE's 5 ms"
	}, func(node string, link int) string {
		return fmt.Sprintf("put link%d on a low-latency network (a switch, not a WAN or VPN); look for a congested or half-duplex port on %s", link, node)
	})
	if len(out) > 0 {
		return out
	}
	worst, worstMax := time.Duration(-1), time.Duration(0)
	for _, p := range paths {
		worst, worstMax = max(worst, p.latAve), max(worstMax, p.latMax)
	}
	if worst < 0 {
		return nil
	}
	return []preflight.Finding{pass("", "knet's round trips: at most %s on average (%s at worst), under PVE's 5 ms", ms(worst), ms(worstMax))}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
