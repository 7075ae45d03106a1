package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

// pveClusterScenario runs inside the controller: facts of three fresh hosts, their typed
// standalone answers, create on pve1, a join of pve2 pinned by fingerprint, the classified
// failures (pve2 again, pve3 with a wrong password, then a wrong fingerprint), a join of pve3
// answering "yes" on stdin, and then every member's view of the cluster and its links. Each
// step depends on the one before: the first that fails ends the scenario.
func pveClusterScenario(t *testing.T) {
	c := connect(t)
	t.Run("facts of fresh hosts", func(t *testing.T) { freshFacts(t, c) })
	t.Run("standalone answers", func(t *testing.T) { standalone(t, c) })
	if !t.Run("create", func(t *testing.T) { create(t, c) }) {
		t.FailNow()
	}
	if !t.Run("join pve2 with fingerprint", func(t *testing.T) { joinWithFingerprint(t, c) }) {
		t.FailNow()
	}
	t.Run("join failures", func(t *testing.T) { joinFailures(t, c) })
	if !t.Run("join pve3 answering yes", func(t *testing.T) { joinAnsweringYes(t, c) }) {
		t.FailNow()
	}
	t.Run("cluster of three", func(t *testing.T) { clusterOfThree(t, c) })
	t.Run("links", func(t *testing.T) { links(t, c) })
	t.Run("delnode refusals", func(t *testing.T) { delnodeRefusals(t, c) })
}

func freshFacts(t *testing.T, c *cluster) {
	defer timed(t, "facts of 3 hosts (parallel)")()
	facts := make([]pve.Facts, len(c.nodes))
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { facts[i], errs[i] = n.Facts(call(t, 30*time.Second)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i, f := range facts {
		n := c.inv.Nodes[i]
		checkFreshFacts(t, n, f)
		ip := netip.MustParseAddr(n.Address)
		if f.MachineID == "" {
			t.Errorf("%s: no machine-id", n.Name)
		} else if other, dup := ids[f.MachineID]; dup {
			t.Errorf("%s and %s share machine-id %s", other, n.Name, f.MachineID)
		}
		ids[f.MachineID] = n.Name
		var got []string
		for _, k := range f.SSHHostKeys {
			got = append(got, k.Fingerprint)
		}
		sort.Strings(got)
		want := knownFingerprints(t, c.inv.SSH.KnownHosts, ip.String())
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: host keys %v, known_hosts has %v", n.Name, got, want)
		}
		if fp := remote.Fingerprint(c.clients[i].HostKey()); !slices.Contains(got, fp) {
			t.Errorf("%s: the key the connection verified (%s) is not among the host's %v", n.Name, fp, got)
		}
	}
}

func checkFreshFacts(t *testing.T, n inventory.Node, f pve.Facts) {
	ip := netip.MustParseAddr(n.Address)
	if f.Hostname != n.Name || f.NodeName != n.Name || f.FQDN != n.Name+".lab.test" {
		t.Errorf("%s: hostname %q, node name %q, fqdn %q", n.Name, f.Hostname, f.NodeName, f.FQDN)
	}
	if first := firstNonLoopback(f.ResolvesTo); first != ip {
		t.Errorf("%s: node name resolves to %v (pmxcfs would take %v), want %v", n.Name, f.ResolvesTo, first, ip)
	}
	// As on a PVE install: the address is static on the bridge vmbr0, whose port is the
	// NIC eno1 (a card with a device, full duplex).
	byName := map[string]*pve.Interface{}
	for i := range f.Interfaces {
		byName[f.Interfaces[i].Name] = &f.Interfaces[i]
	}
	vmbr0, eno1 := byName["vmbr0"], byName["eno1"]
	want := pve.IfAddr{Prefix: netip.PrefixFrom(ip, 24), Method: pve.MethodStatic}
	if vmbr0 == nil || vmbr0.Kind != pve.KindBridge || !slices.Contains(vmbr0.Addrs, want) {
		t.Errorf("%s: vmbr0 is %+v, want a bridge with the static address %v", n.Name, vmbr0, want.Prefix)
	} else {
		t.Logf("%s: vmbr0 %+v", n.Name, *vmbr0)
	}
	if eno1 == nil || eno1.Kind != pve.KindEthernet || eno1.Master != "vmbr0" || eno1.Duplex != "full" || len(eno1.Addrs) != 0 {
		t.Errorf("%s: eno1 is %+v, want an ethernet port of vmbr0 without an address, full duplex", n.Name, eno1)
	}
	if f.PVEVersion == nil || f.PVEVersion.Version.String() != "9.1.1" || f.PVEVersion.Kernel == "" {
		t.Errorf("%s: pveversion %+v from %q", n.Name, f.PVEVersion, f.PVEVersionLine)
	}
	if !f.PmxcfsMounted || f.Files != (pve.ClusterFiles{}) || f.CorosyncRunning || f.QuorumtoolAnswers {
		t.Errorf("%s: not fresh: pmxcfs mounted %v, files %+v, corosync running %v, quorumtool answers %v",
			n.Name, f.PmxcfsMounted, f.Files, f.CorosyncRunning, f.QuorumtoolAnswers)
	}
	if len(f.VMs)+len(f.CTs) > 0 {
		t.Errorf("%s: guests %v %v on a fresh host", n.Name, f.VMs, f.CTs)
	}
	if !slices.Contains(f.Time.Daemons, "chronyd") || f.Time.Chrony == nil {
		t.Errorf("%s: time service %+v, want chronyd with tracking", n.Name, f.Time)
	} else {
		t.Logf("%s: chrony refid %s stratum %d leap %q offset %gs; missing tools %v",
			n.Name, f.Time.Chrony.RefID, f.Time.Chrony.Stratum, f.Time.Chrony.LeapStatus, f.Time.Chrony.Offset, f.Missing)
	}
}

func firstNonLoopback(addrs []netip.Addr) netip.Addr {
	for _, a := range addrs {
		if !a.IsLoopback() {
			return a
		}
	}
	return netip.Addr{}
}

func standalone(t *testing.T, c *cluster) {
	defer timed(t, "standalone status/nodelist/joininfo")()
	for i, n := range c.nodes {
		st, err := n.Status(call(t, 20*time.Second))
		if err != nil || st.State != pve.NotInCluster {
			t.Errorf("%s: status %v (%s), %v; want not in a cluster", n.Host(), st.State, st.Source, err)
		}
		if _, err := n.Nodelist(call(t, 20*time.Second)); !errors.Is(err, pve.ErrNotInCluster) {
			t.Errorf("%s: nodelist: %v, want ErrNotInCluster", n.Host(), err)
		}
		if _, err := n.JoinInfo(call(t, 20*time.Second)); !errors.Is(err, pve.ErrNotInCluster) {
			t.Errorf("%s: join info: %v, want ErrNotInCluster", n.Host(), err)
		}
		pv, err := n.Version(call(t, 20*time.Second))
		if err != nil || pv.Manager.Version.String() != "9.1.1" || pv.Manager.RepoID == "" {
			t.Errorf("%s (%s): pveversion -v: %+v, %v", n.Host(), c.inv.Nodes[i].Name, pv.Manager, err)
		}
	}
}

// fingerprint1 is pve1's API certificate, found by create and used by the joins.
var fingerprint1 string

func create(t *testing.T, c *cluster) {
	pve1, _ := c.byName("pve1")
	done := timed(t, "create")
	cr, err := pve1.Create(call(t, 60*time.Second), pve.CreateOpts{ClusterName: c.inv.Cluster.Name})
	done()
	if err != nil || !cr.KeyGenerated {
		t.Fatalf("create: %+v, %v", cr, err)
	}
	took := eventually(t, "pve1 quorate alone", 30*time.Second, func(ctx context.Context) (bool, string) {
		st, err := pve1.Status(ctx)
		return err == nil && st.State == pve.Quorate && st.NodeCount == 1 && len(st.Members) == 1 && st.Name == c.inv.Cluster.Name,
			fmt.Sprintf("%+v %v", st, err)
	})
	t.Logf("timing: %-34s %s", "create -> quorate", took.Round(time.Millisecond))
	fp, err := pve1.CertFingerprint(call(t, 20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pve.NormalizeFingerprint(fp); err != nil {
		t.Fatalf("pve1's fingerprint: %v", err)
	}
	fingerprint1 = fp
	ji, err := pve1.JoinInfo(call(t, 20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := ji.Preferred(); !ok || p.Name != "pve1" || p.Fingerprint != fp || ji.ClusterName != c.inv.Cluster.Name {
		t.Errorf("join info %+v: want pve1 preferred with fingerprint %s", ji, fp)
	}
	_, err = pve1.Create(call(t, 60*time.Second), pve.CreateOpts{ClusterName: c.inv.Cluster.Name})
	if f := failureOf(err); f == nil || f.Kind != pve.FailClusterExists {
		t.Errorf("second create: %v, want %s", err, pve.FailClusterExists)
	}
}

func failureOf(err error) *pve.Failure {
	var f *pve.Failure
	if errors.As(err, &f) {
		return f
	}
	return nil
}

func join(t *testing.T, c *cluster, joiner string, o pve.JoinOpts) (pve.JoinResult, error) {
	n, _ := c.byName(joiner)
	_, target := c.byName("pve1")
	o.Target = target.Address
	o.Timeout = 45 * time.Second
	defer timed(t, "join "+joiner+" "+t.Name()[strings.LastIndex(t.Name(), "/")+1:])()
	jr, err := n.Join(call(t, 50*time.Second), o)
	if err != nil {
		t.Logf("join %s: %v", joiner, err)
		// What the product reports must not carry the password it was given.
		if f := failureOf(err); strings.Contains(err.Error(), o.Password) || f != nil && strings.Contains(fmt.Sprintf("%+v", *f), o.Password) {
			t.Errorf("join %s: the password appears in the error", joiner)
		}
	}
	return jr, err
}

// waitMembers waits until every listed member says quorate with want nodes online.
func waitMembers(t *testing.T, c *cluster, want int) {
	var names []string
	for _, n := range c.inv.Nodes[:want] {
		names = append(names, n.Name)
	}
	took := eventually(t, fmt.Sprintf("%v quorate with %d nodes", names, want), 30*time.Second, func(ctx context.Context) (bool, string) {
		for _, name := range names {
			n, _ := c.byName(name)
			st, err := n.Status(ctx)
			if err != nil || st.State != pve.Quorate || st.NodeCount != want || len(st.Members) != want {
				return false, fmt.Sprintf("%s: %v %+v", name, err, st)
			}
			for _, m := range st.Members {
				_, inv := c.byName(m.Name)
				if !m.Online || m.Addr != inv.Address || m.Local != (m.Name == name) || m.Votes != 1 {
					return false, fmt.Sprintf("%s: member %+v", name, m)
				}
			}
			if !st.VotesKnown || st.TotalVotes != want || st.Quorum != want/2+1 {
				return false, fmt.Sprintf("%s: votes %+v", name, st)
			}
		}
		return true, ""
	})
	t.Logf("timing: %-34s %s", fmt.Sprintf("all quorate with %d", want), took.Round(time.Millisecond))
}

func joinWithFingerprint(t *testing.T, c *cluster) {
	jr, err := join(t, c, "pve2", pve.JoinOpts{Password: c.password, Fingerprint: fingerprint1})
	if err != nil || jr.Node != "pve2" {
		t.Fatalf("join pve2: %+v, %v", jr, err)
	}
	waitMembers(t, c, 2)
}

func joinFailures(t *testing.T, c *cluster) {
	t.Run("again", func(t *testing.T) {
		_, err := join(t, c, "pve2", pve.JoinOpts{Password: c.password, Fingerprint: fingerprint1})
		f := failureOf(err)
		if f == nil || f.Kind != pve.FailPrecheck {
			t.Fatalf("second join of pve2: %v, want %s", err, pve.FailPrecheck)
		}
		var kinds []pve.PrecheckKind
		for _, p := range f.Prechecks {
			kinds = append(kinds, p.Kind)
		}
		for _, k := range []pve.PrecheckKind{pve.PrecheckAuthkeyExists, pve.PrecheckClusterConfigExists, pve.PrecheckCorosyncRunning} {
			if !slices.Contains(kinds, k) {
				t.Errorf("second join of pve2: prechecks %v lack %s", kinds, k)
			}
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := join(t, c, "pve3", pve.JoinOpts{Password: "not-" + c.password[:2] + "-the-password", Fingerprint: fingerprint1})
		if f := failureOf(err); f == nil || f.Kind != pve.FailPasswordRejected {
			t.Errorf("join with a wrong password: %v, want %s", err, pve.FailPasswordRejected)
		}
	})
	t.Run("wrong fingerprint", func(t *testing.T) {
		wrong := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
		_, err := join(t, c, "pve3", pve.JoinOpts{Password: c.password, Fingerprint: wrong})
		f := failureOf(err)
		if f == nil || f.Kind != pve.FailFingerprintMismatch || f.ActualFingerprint != fingerprint1 {
			t.Errorf("join with a wrong fingerprint: %v (actual %q), want %s carrying %s", err, actual(f), pve.FailFingerprintMismatch, fingerprint1)
		}
	})
	// The failed attempts left pve3 as fresh as it was.
	pve3, _ := c.byName("pve3")
	st, err := pve3.Status(call(t, 20*time.Second))
	if err != nil || st.State != pve.NotInCluster {
		t.Errorf("pve3 after failed joins: %v, %v", st.State, err)
	}
}

func actual(f *pve.Failure) string {
	if f == nil {
		return ""
	}
	return f.ActualFingerprint
}

func joinAnsweringYes(t *testing.T, c *cluster) {
	jr, err := join(t, c, "pve3", pve.JoinOpts{Password: c.password})
	if err != nil || jr.Node != "pve3" {
		t.Fatalf("join pve3: %+v, %v", jr, err)
	}
	waitMembers(t, c, 3)
}

func clusterOfThree(t *testing.T, c *cluster) {
	defer timed(t, "nodelist/joininfo/facts x3")()
	for i, n := range c.nodes {
		nl, err := n.Nodelist(call(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ji, err := n.JoinInfo(call(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if ji.ClusterName != c.inv.Cluster.Name || ji.PreferredNode != c.inv.Nodes[i].Name || len(ji.Nodes) != 3 || len(nl) != 3 {
			t.Errorf("%s: join info %+v, nodelist %+v", n.Host(), ji, nl)
		}
		for _, want := range c.inv.Nodes {
			ln := findNode(nl, want.Name)
			jn := findNode(ji.Nodes, want.Name)
			if ln == nil || jn == nil || ln.Links[0] != want.Address || jn.Links[0] != want.Address || ln.NodeID != jn.NodeID || ln.NodeID == 0 {
				t.Errorf("%s: %s in nodelist %+v, in join info %+v", n.Host(), want.Name, ln, jn)
				continue
			}
			// Joins regenerate the joiner's certificate: what join info says must be what the
			// node serves now.
			m, _ := c.byName(want.Name)
			fp, err := m.CertFingerprint(call(t, 20*time.Second))
			if err != nil || jn.Fingerprint != fp || jn.PVEAddr != want.Address {
				t.Errorf("%s: join info has %s at %s with %s; it serves %s (%v)", n.Host(), want.Name, jn.PVEAddr, jn.Fingerprint, fp, err)
			}
		}
		f, err := n.Facts(call(t, 30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		all := pve.ClusterFiles{PVECorosyncConf: true, CorosyncAuthkey: true, CorosyncConf: true}
		if f.Files != all || !f.CorosyncRunning || !f.QuorumtoolAnswers {
			t.Errorf("%s: member facts: files %+v, corosync running %v, quorumtool answers %v", n.Host(), f.Files, f.CorosyncRunning, f.QuorumtoolAnswers)
		}
	}
}

func findNode(ns []pve.ClusterNode, name string) *pve.ClusterNode {
	for i := range ns {
		if ns[i].Name == name {
			return &ns[i]
		}
	}
	return nil
}

func links(t *testing.T, c *cluster) {
	defer timed(t, "links/knet stats x3")()
	for _, n := range c.nodes {
		ls, err := n.Links(call(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if len(ls.Status) != 1 || ls.Status[0].Link != 0 || len(ls.Status[0].Nodes) != 3 {
			t.Errorf("%s: links %+v, want link0 with 3 nodes", n.Host(), ls)
		} else {
			for _, p := range ls.Status[0].Nodes {
				want := "connected"
				if p.NodeID == ls.LocalNodeID {
					want = "localhost"
				}
				if p.State != want {
					t.Errorf("%s: link0 node %d is %q, want %q", n.Host(), p.NodeID, p.State, want)
				}
			}
		}
		if len(ls.Peers) != 2 {
			t.Errorf("%s: peers %+v, want 2", n.Host(), ls.Peers)
		}
		for _, p := range ls.Peers {
			if !p.Reachable || len(p.Links) != 1 || !p.Links[0].Connected || p.Links[0].Link != 0 {
				t.Errorf("%s: peer %+v, want reachable on link0", n.Host(), p)
			}
		}
		stats, err := n.KnetStats(call(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		connected := 0
		for _, s := range stats {
			if s.Link == 0 && s.NodeID != ls.LocalNodeID && s.Connected && s.Enabled {
				connected++
			}
		}
		if connected != 2 {
			t.Errorf("%s: knet stats %+v: %d peers connected on link0, want 2", n.Host(), stats, connected)
		}
	}
}

// delnodeRefusals asks for the two removals pvecm refuses before touching anything; the
// cluster must be left as it was.
func delnodeRefusals(t *testing.T, c *cluster) {
	pve1, _ := c.byName("pve1")
	for _, tc := range []struct {
		node string
		want pve.FailureKind
	}{{"pve1", pve.FailDeleteSelf}, {"pve9", pve.FailUnknownNode}} {
		_, err := pve1.DelNode(call(t, 20*time.Second), tc.node)
		if f := failureOf(err); f == nil || f.Kind != tc.want {
			t.Errorf("delnode %s on pve1: %v, want %s", tc.node, err, tc.want)
		}
	}
	nl, err := pve1.Nodelist(call(t, 20*time.Second))
	if err != nil || len(nl) != 3 {
		t.Errorf("nodelist after refused delnodes: %+v, %v", nl, err)
	}
}
