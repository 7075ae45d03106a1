package playbooks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/pve"
)

// A running cluster as doctor and report read it: learnt from any reachable member, so that
// it also serves a cluster quorate did not build. The cluster file gives the first hosts to
// reach and how; the members' corosync.conf gives the rest (reached at their link0 address,
// with the same SSH settings).

// liveMember is one node of the running cluster (or of the cluster file) and what was read of it.
type liveMember struct {
	Name    string
	Address string // where quorate connects
	InFile  bool   // listed in the cluster file
	// Conf is its entry in the cluster's nodelist; NodeID 0 when the nodelist lacks it.
	Conf pve.ConfNode

	conn *Conn
	node *pve.Node

	DialErr   error // could not be reached (a *HostError)
	Facts     *pve.Facts
	FactsErr  error
	Status    *pve.ClusterStatus
	StatusErr error // the status could not be had, or is unreadable (cut short)
	Links     *pve.Links
	LinksErr  error
	// Knet are corosync's knet counters at the start of the run and at its end, Window apart;
	// KnetEnd is nil when the second reading failed.
	Knet, KnetEnd []pve.KnetLinkStats
	KnetErr       error
	Window        time.Duration
	Health        *pve.Health
	HealthErr     error
	Writable      error // nil: /etc/pve took a write
	WritableRead  bool
	Routes        map[string]pve.Route // by host asked
	RoutesErr     error
	Clock         *preflight.Clock
	// QDevice is this member's corosync-qdevice (when corosync.conf configures a QDevice);
	// QDeviceRead says it was asked, QDeviceRunning that one answered.
	QDevice        *pve.QDeviceDaemon
	QDeviceRead    bool
	QDeviceRunning bool
	QDeviceErr     error
}

func (m *liveMember) reached() bool { return m.node != nil }

// readable is a member whose cluster status was read whole.
func (m *liveMember) readable() bool {
	return m.Status != nil && m.Status.State != pve.NotInCluster
}

// liveCluster is everything read of the cluster.
type liveCluster struct {
	File    string
	Cluster string // the cluster's name (its corosync.conf), else the cluster file's
	// Conf is the nodelist everything is measured against: the first reachable member's
	// /etc/pve/corosync.conf (ConfFrom names it); nil when no member could tell.
	Conf      *pve.CorosyncConf
	ConfFrom  string
	ConfNodes []pve.ConfNode
	Links     []int // the link numbers of Conf's totem
	Members   []*liveMember
	Preflight *preflight.Report // doctor only
	Started   time.Time
	Duration  time.Duration
}

func (r *liveCluster) byName(name string) *liveMember {
	for _, m := range r.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

func (r *liveCluster) byNodeID(id int) *liveMember {
	for _, m := range r.Members {
		if m.Conf.NodeID == id && id != 0 {
			return m
		}
	}
	return nil
}

// nameOf is a node id as a person reads it.
func (r *liveCluster) nameOf(id int) string {
	if m := r.byNodeID(id); m != nil {
		return m.Name
	}
	return fmt.Sprintf("nodeid %d", id)
}

type readOptions struct {
	preflight bool          // doctor: run preflight's facts, clock and interface checks too
	window    time.Duration // least time between the two knet readings (doctor)
}

// readRunning connects to the cluster file's nodes, learns the members from their
// corosync.conf, dials the ones the file lacks, and reads every member; nothing is changed.
// The connection set is returned for the caller to close.
func (s *Session) readRunning(ctx context.Context, req ClusterRequest, o readOptions) (*liveCluster, []*Conns) {
	r := &liveCluster{File: req.Inventory.File, Cluster: req.Inventory.Cluster.Name, Started: time.Now()}
	// A diagnosis should not wait long for a member that is down: its answer is that it is down.
	cfg := s.clusterConfig(req.Access)
	var targets []Target
	for _, n := range req.Inventory.Nodes {
		targets = append(targets, Target{Name: n.Name, Address: n.Address})
		r.Members = append(r.Members, &liveMember{Name: n.Name, Address: n.Address, InFile: true})
	}
	first := s.Connect(ctx, cfg, targets)
	sets := []*Conns{first}
	r.attach(first)
	r.readFacts(ctx)
	r.learnNodelist()

	// Members the file does not list are reached at their link0 address.
	var more []Target
	for _, cn := range r.ConfNodes {
		if r.byName(cn.Name) != nil {
			continue
		}
		m := &liveMember{Name: cn.Name, Address: cn.Links[0], Conf: cn}
		r.Members = append(r.Members, m)
		if m.Address != "" {
			more = append(more, Target{Name: m.Name, Address: m.Address})
		} else {
			m.DialErr = &HostError{Host: m.Name, Err: errors.New("the nodelist gives it no link0 address to connect to")}
		}
	}
	if len(more) > 0 {
		s.notef("learnt from %s: %s not in %s; connecting to %s", r.ConfFrom, pluralize(len(more), "member"), r.File, targetList(more))
		set := s.Connect(ctx, cfg, more)
		sets = append(sets, set)
		r.attach(set)
		r.readFacts(ctx)
	}
	r.sortMembers()
	r.readAll(ctx, req.Inventory, o)
	r.Duration = time.Since(r.Started)
	return r, sets
}

func targetList(ts []Target) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Label()+" ("+t.Address+")")
	}
	return andListOf(s)
}

// attach pairs the connections of set with their members.
func (r *liveCluster) attach(set *Conns) {
	for _, conn := range set.All() {
		m := r.byName(conn.Name)
		if m == nil {
			continue
		}
		m.conn = conn
		if conn.Client != nil {
			m.node = pve.NewNode(conn.Client)
		} else {
			m.DialErr = conn.Err
		}
	}
}

// readFacts reads the facts of every reached member that has none yet.
func (r *liveCluster) readFacts(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range r.Members {
		if !m.reached() || m.Facts != nil || m.FactsErr != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := m.node.Facts(ctx)
			if err != nil {
				m.FactsErr = err
				return
			}
			m.Facts = &f
		}()
	}
	wg.Wait()
}

// learnNodelist takes the nodelist of the first member (in the file's order) whose facts
// hold a cluster's corosync.conf: /etc/pve's, else the one corosync runs.
func (r *liveCluster) learnNodelist() {
	for _, m := range r.Members {
		if m.Facts == nil {
			continue
		}
		text := m.Facts.PVECorosyncConf
		if text == "" {
			text = m.Facts.LocalCorosyncConf
		}
		if text == "" {
			continue
		}
		conf, err := pve.ParseCorosyncConf([]byte(text))
		if err != nil {
			continue
		}
		nodes, err := conf.Nodes()
		if err != nil || len(nodes) == 0 {
			continue
		}
		r.Conf, r.ConfFrom, r.ConfNodes, r.Links = conf, m.Name, nodes, conf.LinkNumbers()
		if len(r.Links) == 0 {
			r.Links = []int{0}
		}
		if name := conf.ClusterName(); name != "" {
			r.Cluster = name
		}
		break
	}
	for _, m := range r.Members {
		for _, cn := range r.ConfNodes {
			if cn.Name == m.Name {
				m.Conf = cn
			}
		}
	}
}

// sortMembers orders the members as the nodelist does (by node id), the cluster file's nodes
// that are no members last, in the file's order.
func (r *liveCluster) sortMembers() {
	sort.SliceStable(r.Members, func(i, j int) bool {
		a, b := r.Members[i].Conf.NodeID, r.Members[j].Conf.NodeID
		switch {
		case a == 0 || b == 0:
			return a != 0 && b == 0
		}
		return a < b
	})
}

// readAll reads, on every reached member at once, its status, links, knet counters and
// health, and (doctor) runs preflight's part on all of them; then the routes to the storage
// servers and, after the window, the knet counters again.
func (r *liveCluster) readAll(ctx context.Context, inv *inventory.Inventory, o readOptions) {
	start := time.Now()
	var wg sync.WaitGroup
	if o.preflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Preflight = r.runPreflight(ctx, inv)
		}()
	}
	_, withQDevice := r.qdevice()
	for _, m := range r.Members {
		if !m.reached() {
			continue
		}
		if withQDevice && m.Conf.NodeID != 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q, running, err := m.node.QDeviceDaemon(ctx)
				m.QDevice, m.QDeviceRunning, m.QDeviceErr, m.QDeviceRead = &q, running, err, true
			}()
		}
		wg.Add(4)
		go func() {
			defer wg.Done()
			st, err := m.node.Status(ctx)
			if err == nil {
				err = st.Unreadable()
			}
			if err == nil {
				m.Status = &st
			}
			m.StatusErr = err
		}()
		go func() {
			defer wg.Done()
			links, err := m.node.Links(ctx)
			if err == nil {
				m.Links = &links
			}
			m.LinksErr = err
			m.Knet, m.KnetErr = m.node.KnetStats(ctx)
		}()
		go func() {
			defer wg.Done()
			h, err := m.node.Health(ctx)
			if err == nil {
				m.Health = &h
			}
			m.HealthErr = err
			if err == nil {
				m.Routes, m.RoutesErr = r.routes(ctx, m)
			}
		}()
		go func() {
			defer wg.Done()
			m.Writable, m.WritableRead = m.node.PmxcfsWritable(ctx), true
		}()
	}
	wg.Wait()
	if o.window > 0 {
		if wait := o.window - time.Since(start); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		for _, m := range r.Members {
			if !m.reached() || m.KnetErr != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if end, err := m.node.KnetStats(ctx); err == nil {
					m.KnetEnd, m.Window = end, time.Since(start)
				}
			}()
		}
		wg.Wait()
	}
	if r.Preflight != nil {
		for _, m := range r.Members {
			if f := r.Preflight.Facts[m.Name]; f != nil && m.Facts == nil {
				m.Facts = f
			}
			for _, c := range r.Preflight.Clocks {
				if c.Node == m.Name {
					m.Clock = &c
				}
			}
		}
	}
}

// routes asks m how it reaches every storage server and Ceph monitor of the cluster's files.
func (r *liveCluster) routes(ctx context.Context, m *liveMember) (map[string]pve.Route, error) {
	var hosts []string
	for _, st := range storageTargets(m.Health) {
		for _, h := range st.servers {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	if len(hosts) == 0 {
		return nil, nil
	}
	routes, err := m.node.RoutesTo(ctx, hosts)
	if err != nil {
		return nil, err
	}
	out := map[string]pve.Route{}
	for _, rt := range routes {
		out[rt.Host] = rt
	}
	return out, nil
}

// storageTarget is a storage and the hosts its traffic goes to.
type storageTarget struct {
	storage pve.Storage
	servers []string
	what    string // "NFS server", "Ceph monitor", ...
}

// storageTargets are the enabled network storages of h's storage.cfg with their servers; a
// Ceph storage without monhost is PVE's own Ceph, whose monitors ceph.conf names
// (docs/pve.md §12.1).
func storageTargets(h *pve.Health) []storageTarget {
	if h == nil || h.Storage == nil {
		return nil
	}
	var out []storageTarget
	for _, st := range h.Storage.Storages {
		if st.Disabled {
			continue
		}
		servers := st.Servers
		if len(servers) == 0 && (st.Type == "rbd" || st.Type == "cephfs") {
			servers = h.CephMonHosts
		}
		if len(servers) == 0 {
			continue
		}
		out = append(out, storageTarget{storage: st, servers: servers, what: serverWord(st.Type)})
	}
	return out
}

func serverWord(typ string) string {
	switch typ {
	case "nfs":
		return "NFS server"
	case "cifs":
		return "SMB server"
	case "iscsi", "iscsidirect":
		return "iSCSI portal"
	case "zfs":
		return "ZFS-over-iSCSI portal"
	case "rbd", "cephfs":
		return "Ceph monitor"
	case "pbs":
		return "Proxmox Backup Server"
	}
	return typ + " server"
}

// runPreflight runs preflight over the members' connections, measured against the running
// cluster's nodelist rather than the cluster file: its facts, clock samples and the checks of
// the network around corosync (doctor picks which).
func (r *liveCluster) runPreflight(ctx context.Context, file *inventory.Inventory) *preflight.Report {
	inv := &inventory.Inventory{File: file.File, Cluster: file.Cluster, SSH: file.SSH}
	var targets []preflight.Target
	for _, m := range r.Members {
		n := inventory.Node{Name: m.Name, Address: m.Address, NodeID: m.Conf.NodeID, Votes: m.Conf.Votes}
		for _, l := range r.Links {
			for len(n.Links) < l {
				n.Links = append(n.Links, "")
			}
			n.Links = append(n.Links, m.Conf.Links[l])
		}
		if m.Conf.NodeID == 0 {
			n.Links = nil // not a member: no corosync link to measure
		}
		inv.Nodes = append(inv.Nodes, n)
		t := preflight.Target{Node: n}
		if m.reached() {
			t.Runner = m.conn.Client
		} else {
			t.DialErr = m.DialErr
			if t.DialErr == nil {
				t.DialErr = errors.New("not reached")
			}
		}
		targets = append(targets, t)
	}
	if r.Conf != nil {
		if host, ok := r.Conf.QDeviceHost(); ok {
			inv.QDevice = &inventory.QDevice{Address: host}
		}
	}
	rep, err := preflight.Run(ctx, inv, targets, preflight.Options{})
	if err != nil {
		return nil
	}
	return rep
}

// qdevice is the QDevice corosync.conf configures.
func (r *liveCluster) qdevice() (pve.QDeviceConf, bool) {
	if r.Conf == nil {
		return pve.QDeviceConf{}, false
	}
	q, ok, err := r.Conf.QDevice()
	return q, ok && err == nil
}

// nodeVotes are the nodelist's votes together (a node without quorum_votes has one).
func (r *liveCluster) nodeVotes() int {
	votes := 0
	for _, cn := range r.ConfNodes {
		votes += max(cn.Votes, 1)
	}
	return votes
}

// linkAddr is m's address on link l in the nodelist.
func (m *liveMember) linkAddr(l int) (netip.Addr, bool) {
	a, err := netip.ParseAddr(m.Conf.Links[l])
	return a.Unmap(), err == nil
}

func pluralize(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// andJoin is "a", "a and b", "a, b and c".
func andListOf(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for _, x := range s[1 : len(s)-1] {
		out += ", " + x
	}
	return out + " and " + s[len(s)-1]
}
