package playbooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/preflight"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/pve/pvetest"
)

// The doctor's checks run on what was read of a cluster; these tests build that from the
// pve goldens (corosync.conf, storage.cfg, knet counters) and typed states, and look at the
// findings a user would read.

// testCluster is a healthy 3-node cluster of the lab's shape: link0 on vmbr0 over eno1
// (10 Gb/s, full duplex), link1 on vmbr1 over eno2 when links is 2.
func testCluster(t *testing.T, links int) *liveCluster {
	t.Helper()
	var conf *pve.CorosyncConf
	var err error
	if links == 2 {
		conf, err = pve.ParseCorosyncConf([]byte(pvetest.Golden(t, "corosync-3nodes-2links.conf").Stdout))
	} else {
		conf, err = pve.NewClusterConf("demo", pve.ConfNode{Name: "pve1", NodeID: 1, Votes: 1, Links: map[int]string{0: "198.51.100.11"}},
			[]pve.Link{{Number: 0, Addr: "198.51.100.11"}}, 125)
		for i := 2; i <= 3 && err == nil; i++ {
			err = conf.AddNode(pve.ConfNode{Name: fmt.Sprintf("pve%d", i), NodeID: i, Votes: 1, Links: map[int]string{0: fmt.Sprintf("198.51.100.1%d", i)}})
			if err == nil {
				err = conf.BumpVersion() // as each join does
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := conf.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	version, _ := conf.ConfigVersion()
	r := &liveCluster{File: "cluster.yaml", Cluster: conf.ClusterName(), Conf: conf, ConfFrom: "pve1", ConfNodes: nodes, Links: conf.LinkNumbers()}
	text := string(conf.Bytes())
	for _, cn := range nodes {
		f := &pve.Facts{NodeName: cn.Name, FQDN: cn.Name + ".lab.test", PVECorosyncConf: text, LocalCorosyncConf: text,
			PVEVersion: &pve.ManagerVersion{Version: pve.Version{Major: 9, Minor: 1, Patch: 1}, Kernel: "6.17.2-1-pve"}}
		for _, l := range r.Links {
			br, nic := fmt.Sprintf("vmbr%d", l), fmt.Sprintf("eno%d", l+1)
			f.Interfaces = append(f.Interfaces,
				pve.Interface{Name: br, Kind: pve.KindBridge, MTU: 1500, OperState: "up", SpeedMbps: 10000,
					Addrs: []pve.IfAddr{{Prefix: netip.PrefixFrom(netip.MustParseAddr(cn.Links[l]), 24), Method: pve.MethodStatic}}},
				pve.Interface{Name: nic, Kind: pve.KindEthernet, MTU: 1500, OperState: "up", SpeedMbps: 10000, Duplex: "full", Master: br})
		}
		m := &liveMember{Name: cn.Name, Address: cn.Links[0], InFile: true, Conf: cn, node: pve.NewNode(pvetest.NewRunner(t, cn.Name)), Facts: f,
			Status: quorateStatus(conf.ClusterName(), version, cn.NodeID, 3, 1, 2, 3),
			Health: &pve.Health{Services: map[string]string{"corosync": "active", "pve-cluster": "active"}, RuntimeConfigVersion: version},
			Links:  connectedLinks(cn.NodeID, r.Links, 1, 2, 3), WritableRead: true, Window: 2 * time.Second}
		m.Knet = knet(cn.NodeID, r.Links, 1000, 0, 1)
		m.KnetEnd = knet(cn.NodeID, r.Links, 1003, 0, 1)
		r.Members = append(r.Members, m)
	}
	return r
}

// quorateStatus is votequorum's view from local when it sees online, each with one vote.
func quorateStatus(name string, version, local, expected int, online ...int) *pve.ClusterStatus {
	st := &pve.ClusterStatus{State: pve.Quorate, Source: pve.SourcePvecm, Name: name, ConfigVersion: version, LocalNodeID: local,
		VotesKnown: true, ExpectedVotes: expected, HighestExpected: expected, TotalVotes: len(online), Quorum: expected/2 + 1}
	if len(online) < st.Quorum {
		st.State = pve.NotQuorate
	}
	for _, id := range online {
		st.Members = append(st.Members, pve.Member{NodeID: id, Votes: 1, Online: true, Local: id == local, Addr: fmt.Sprintf("198.51.100.1%d", id)})
	}
	return st
}

func connectedLinks(local int, links []int, peers ...int) *pve.Links {
	l := &pve.Links{LocalNodeID: local, Transport: "knet"}
	for _, n := range links {
		ls := pve.LinkStatus{Link: n}
		for _, p := range peers {
			state := "connected"
			if p == local {
				state = "localhost"
			}
			ls.Nodes = append(ls.Nodes, pve.LinkPeer{NodeID: p, State: state})
		}
		l.Status = append(l.Status, ls)
	}
	return l
}

// knet is the counters of local's links to nodes 1..3: pings sent, lost, down count.
func knet(local int, links []int, pings, lost, down int) []pve.KnetLinkStats {
	var out []pve.KnetLinkStats
	for _, l := range links {
		for id := 1; id <= 3; id++ {
			if id == local {
				continue
			}
			out = append(out, knetStat(id, l, pings, lost, down, 300))
		}
	}
	return out
}

func knetStat(node, link, pings, lost, down, latencyUS int) pve.KnetLinkStats {
	return pve.KnetLinkStats{NodeID: node, Link: link, Enabled: true, Connected: true, MTU: 1397, LatencyAve: latencyUS, LatencyMax: 2 * latencyUS, DownCount: down,
		Values: map[string]uint64{"tx_ping_packets": uint64(pings), "rx_pong_packets": uint64(pings - lost), "latency_samples": uint64(pings)}}
}

func setKnet(m *liveMember, node, link int, start, end pve.KnetLinkStats) {
	for i := range m.Knet {
		if m.Knet[i].NodeID == node && m.Knet[i].Link == link {
			m.Knet[i], m.KnetEnd[i] = start, end
		}
	}
}

// findings of check, as "SEVERITY node: message".
func findingsOf(rep *DoctorReport, check string) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Check == check {
			out = append(out, fmt.Sprintf("%s %s: %s", f.Severity, f.Node, f.Message))
		}
	}
	return out
}

func wantFinding(t *testing.T, rep *DoctorReport, check string, sev preflight.Severity, node string, texts ...string) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Check != check || f.Severity != sev || f.Node != node {
			continue
		}
		ok := true
		for _, s := range texts {
			ok = ok && strings.Contains(f.Message, s)
		}
		if ok {
			if sev != preflight.Pass && f.Fix == "" {
				t.Errorf("%s %s %s has no fix: %s", check, sev, node, f.Message)
			}
			return
		}
	}
	t.Errorf("no %s finding %s on %q with %q; %s has:\n  %s", check, sev, node, texts, check, strings.Join(findingsOf(rep, check), "\n  "))
}

func TestDoctorHealthyCluster(t *testing.T) {
	r := testCluster(t, 2)
	for _, m := range r.Members {
		m.Health.Datacenter = &pve.Datacenter{MigrationType: "secure"}
	}
	rep := diagnose(r)
	for _, f := range rep.Findings {
		if f.Severity == preflight.Error {
			t.Errorf("healthy cluster: %s %s: %s", f.Check, f.Node, f.Message)
		}
	}
	wantFinding(t, rep, "quorum", preflight.Pass, "pve1", "quorate: 3 votes of 3 expected, quorum 2")
	wantFinding(t, rep, "quorum", preflight.Pass, "", "3 nodes: 3 expected votes, quorum 2; 1 node may fail")
	wantFinding(t, rep, "membership", preflight.Pass, "", "every member sees pve1, pve2 and pve3 and runs config version 3")
	wantFinding(t, rep, "corosync-links", preflight.Pass, "pve2", "link0, link1 connected to 2 peers")
	wantFinding(t, rep, "link-redundancy", preflight.Pass, "", "2 corosync links (link0, link1), on separate interfaces")
	wantFinding(t, rep, "link-latency", preflight.Pass, "", "0.30 ms on average")
	wantFinding(t, rep, "link-speed", preflight.Pass, "", "link1 runs at 10 Gb/s on every node")
	wantFinding(t, rep, "migration-network", preflight.Warning, "", "no migration network", "link0")
	if rep.HasErrors() {
		t.Error("HasErrors on a healthy cluster")
	}
}

func TestDoctorNotQuorateExplainsTheArithmetic(t *testing.T) {
	r := testCluster(t, 1)
	// pve1 is cut off: it sees itself alone; pve2 and pve3 are down.
	r.Members[0].Status = quorateStatus("demo", 3, 1, 3, 1)
	r.Members[0].Writable = fmt.Errorf("write /etc/pve: %w", pve.ErrPmxcfsReadOnly)
	for _, m := range r.Members[1:] {
		m.node, m.DialErr = nil, &HostError{Host: m.Name, Err: fmt.Errorf("host unreachable")}
		m.Status, m.Health, m.Links, m.Knet, m.KnetEnd, m.WritableRead = nil, nil, nil, nil, nil, false
	}
	rep := diagnose(r)
	wantFinding(t, rep, "quorum", preflight.Error, "pve1", "pve1 is not quorate: it has 1 vote of 3 expected and needs 2",
		"cannot see pve2 and pve3", "/etc/pve is read-only on pve1")
	wantFinding(t, rep, "quorum", preflight.Error, "", "no member is quorate")
	wantFinding(t, rep, "pmxcfs-writable", preflight.Error, "pve1", "read-only")
	for _, f := range rep.Findings {
		if f.Check == "quorum" && f.Node == "pve1" && !strings.Contains(f.Fix, "bring pve2 or pve3 back") {
			t.Errorf("quorum fix: %s", f.Fix)
		}
	}
	if got := rep.Members[1].State; got != "unreachable" {
		t.Errorf("pve2's state %q", got)
	}
}

func TestDoctorOneNodeDownIsQuorateWithNoMargin(t *testing.T) {
	r := testCluster(t, 1)
	for _, m := range r.Members[:2] {
		m.Status = quorateStatus("demo", 3, m.Conf.NodeID, 3, 1, 2)
		m.Links = connectedLinks(m.Conf.NodeID, r.Links, 1, 2)
		m.Links.Status[0].Nodes = append(m.Links.Status[0].Nodes, pve.LinkPeer{NodeID: 3, State: "disconnected"})
	}
	m3 := r.Members[2]
	m3.node, m3.DialErr = nil, &HostError{Host: "pve3", Err: fmt.Errorf("no route to host")}
	m3.Status, m3.Health, m3.Links, m3.Knet, m3.KnetEnd, m3.WritableRead = nil, nil, nil, nil, nil, false
	rep := diagnose(r)
	wantFinding(t, rep, "quorum", preflight.Warning, "", "pve3 is offline as pve1 sees it: the cluster is quorate, but no further node may fail")
	wantFinding(t, rep, "corosync-links", preflight.Error, "pve3", "link0 of pve3", "disconnected now", "pve3's end is the likely cause")
}

func TestDoctorUnreadableStatusIsNeverNoMembers(t *testing.T) {
	r := testCluster(t, 1)
	runner := pvetest.NewRunner(t, "pve2")
	runner.On("cd / && pvesh get /cluster/status --output-format json").Reply(pvetest.Output{Stderr: "ipcc_send_rec[1] failed: Connection refused", ExitCode: 255})
	runner.On("cd / && pvecm status").ReplyGolden("pvecm-status-cut-rows.txt")
	m := r.Members[1]
	m.node = pve.NewNode(runner)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := m.node.Status(ctx)
	if err == nil {
		err = st.Unreadable()
	}
	m.Status, m.StatusErr = nil, err
	rep := diagnose(r)
	wantFinding(t, rep, "cluster-status", preflight.Error, "pve2", "unreadable", "not taken as \"no members\"")
	if got := rep.Members[1].State; got != "unreadable" {
		t.Errorf("pve2's state %q, want unreadable", got)
	}
	for _, f := range rep.Findings {
		if f.Node == "pve2" && (f.Check == "quorum" || f.Check == "membership") {
			t.Errorf("an unreadable status was judged: %s %s", f.Check, f.Message)
		}
	}
}

func TestDoctorSplitBrainSigns(t *testing.T) {
	t.Run("membership", func(t *testing.T) {
		r := testCluster(t, 1)
		r.Members[0].Status = quorateStatus("demo", 3, 1, 3, 1, 2)
		r.Members[1].Status = quorateStatus("demo", 3, 2, 3, 1, 2)
		r.Members[2].Status = quorateStatus("demo", 3, 3, 3, 3)
		rep := diagnose(r)
		wantFinding(t, rep, "membership", preflight.Error, "", "pve1 and pve2 see pve1 and pve2; pve3 sees pve3")
	})
	t.Run("config version", func(t *testing.T) {
		r := testCluster(t, 1)
		r.Members[2].Health.RuntimeConfigVersion = 4
		rep := diagnose(r)
		wantFinding(t, rep, "membership", preflight.Error, "pve3", "corosync runs config version 4", "/etc/pve/corosync.conf has 3", "pve1 and pve2 run it", "split-brain sign")
	})
	t.Run("edited, reload failed", func(t *testing.T) {
		r := testCluster(t, 1)
		r.Members[2].Facts.LocalCorosyncConf = strings.Replace(r.Members[2].Facts.LocalCorosyncConf, "config_version: 3", "config_version: 4", 1)
		rep := diagnose(r)
		wantFinding(t, rep, "membership", preflight.Error, "pve3", "corosync runs config version 3, its /etc/corosync/corosync.conf has 4 (edited, not reloaded?)", "split-brain sign")
	})
	t.Run("nodelist", func(t *testing.T) {
		r := testCluster(t, 1)
		conf, _ := pve.ParseCorosyncConf([]byte(r.Members[1].Facts.LocalCorosyncConf))
		conf.RemoveNode("pve3")
		r.Members[1].Facts.LocalCorosyncConf = string(conf.Bytes())
		rep := diagnose(r)
		wantFinding(t, rep, "membership", preflight.Error, "pve2", "lists other nodes")
	})
}

func TestDoctorNamesTheLossyNodesLinks(t *testing.T) {
	r := testCluster(t, 1)
	// pve3 loses about a third of its round trips: both ends see it.
	for _, m := range r.Members[:2] {
		setKnet(m, 3, 0, knetStat(3, 0, 1000, 40, 1, 300), knetStat(3, 0, 1003, 41, 2, 300))
	}
	for _, peer := range []int{1, 2} {
		setKnet(r.Members[2], peer, 0, knetStat(peer, 0, 1000, 38, 1, 300), knetStat(peer, 0, 1003, 40, 1, 300))
	}
	rep := diagnose(r)
	wantFinding(t, rep, "corosync-links", preflight.Error, "pve3", "link0 of pve3: to pve1:", "to pve2:", "flapping", "pings unanswered since corosync started", "pve3's end is the likely cause")
	for _, f := range rep.Findings {
		if f.Check == "corosync-links" && f.Severity != preflight.Pass && f.Node != "pve3" {
			t.Errorf("blamed on %s: %s", f.Node, f.Message)
		}
	}
}

func TestDoctorLatencyAgainstPVEsGuidance(t *testing.T) {
	r := testCluster(t, 1)
	setKnet(r.Members[0], 2, 0, knetStat(2, 0, 1000, 0, 0, 7000), knetStat(2, 0, 1003, 0, 0, 7000))
	rep := diagnose(r)
	wantFinding(t, rep, "link-latency", preflight.Warning, "pve1", "to pve2: 7.00 ms on average", "above PVE's 5 ms")
}

func TestDoctorNetworkAroundCorosync(t *testing.T) {
	r := testCluster(t, 1)
	storage := pve.ParseStorageConfig(pvetest.Golden(t, "storage-mixed.cfg").Stdout)
	for _, m := range r.Members {
		m.Health.Storage = &storage
		m.Health.Datacenter = &pve.Datacenter{MigrationType: "secure", MigrationNetwork: netip.MustParsePrefix("198.51.100.0/24")}
		m.Routes = map[string]pve.Route{}
		for _, st := range storageTargets(m.Health) {
			for _, h := range st.servers {
				m.Routes[h] = pve.Route{Host: h, Addr: h, Dev: "eno9"}
			}
		}
	}
	// On pve2 the NFS server is reached by link0's bridge.
	r.Members[1].Routes["10.0.0.10"] = pve.Route{Host: "10.0.0.10", Addr: "10.0.0.10", Dev: "vmbr0", Src: "198.51.100.12"}
	r.Members[1].Facts.Interfaces = append(r.Members[1].Facts.Interfaces, pve.Interface{Name: "eno9", Kind: pve.KindEthernet, MTU: 1500, SpeedMbps: 25000, Duplex: "full"})
	// pve3's port negotiated down to 100 Mb/s.
	for i, ifc := range r.Members[2].Facts.Interfaces {
		if ifc.Name == "eno1" {
			r.Members[2].Facts.Interfaces[i].SpeedMbps = 100
		}
	}
	rep := diagnose(r)
	wantFinding(t, rep, "link-redundancy", preflight.Warning, "", "one corosync link (link0)")
	wantFinding(t, rep, "storage-network", preflight.Warning, "pve2", "NFS server 10.0.0.10 (storage iso-templates) is reached by vmbr0 (eno1), which carries corosync's link0")
	wantFinding(t, rep, "migration-network", preflight.Warning, "pve1", "migrations to pve1 arrive at 198.51.100.11 on vmbr0 (eno1), which carries corosync's link0")
	wantFinding(t, rep, "link-speed", preflight.Warning, "pve3", "link0 runs at 100 Mb/s on pve3", "at 10 Gb/s on pve1 and pve2")
	for _, f := range rep.Findings {
		if f.Check == "storage-network" && f.Node == "pve1" && f.Severity != preflight.Pass {
			t.Errorf("pve1 reaches its storage by eno9: %s", f.Message)
		}
	}
}

func TestDoctorServicesAndQDevice(t *testing.T) {
	r := testCluster(t, 1)
	r.Members[1].Health.Services["pve-cluster"] = "failed"
	conf, _ := pve.ParseCorosyncConf([]byte(pvetest.Golden(t, "corosync-qdevice.conf").Stdout))
	r.Conf = conf
	for i, m := range r.Members {
		flags := "A,V,NMW"
		if i == 2 {
			flags = "A,NV,NMW"
		}
		for j := range m.Status.Members {
			m.Status.Members[j].QDevice = flags
		}
		m.Status.QDevice = &pve.QDeviceStatus{Name: "Qdevice", Votes: 1, Voting: true}
	}
	connected, running, err := pve.ParseQDeviceDaemon(pvetest.Golden(t, "pvesh-qdevice.json").Stdout)
	if err != nil || !running {
		t.Fatalf("qdevice golden: %v %v", running, err)
	}
	r.Members[0].QDevice, r.Members[0].QDeviceRunning, r.Members[0].QDeviceRead = &connected, true, true
	failed := connected
	failed.State = "Connect failed"
	r.Members[1].QDevice, r.Members[1].QDeviceRunning, r.Members[1].QDeviceRead = &failed, true, true
	none, running, err := pve.ParseQDeviceDaemon(pvetest.Golden(t, "pvesh-qdevice-none.json").Stdout)
	if err != nil || running {
		t.Fatalf("no-qdevice golden: %v %v", running, err)
	}
	r.Members[2].QDevice, r.Members[2].QDeviceRunning, r.Members[2].QDeviceRead = &none, false, true
	rep := diagnose(r)
	wantFinding(t, rep, "services", preflight.Error, "pve2", "pve-cluster is failed")
	wantFinding(t, rep, "qdevice", preflight.Pass, "pve1", "alive and voting", "corosync-qdevice: Connected to")
	wantFinding(t, rep, "qdevice", preflight.Error, "pve2", "not connected to the qnetd server", "Connect failed")
	wantFinding(t, rep, "qdevice", preflight.Error, "pve3", "corosync-qdevice does not run on pve3")
}

func TestDoctorReportTextAndJSON(t *testing.T) {
	r := testCluster(t, 1)
	r.Members[2].Health.RuntimeConfigVersion = 4
	r.Duration = 2500 * time.Millisecond
	rep := diagnose(r)
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, "doctor-config-version.txt", text.String())
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "doctor-config-version.json", string(data)+"\n")
	var back struct {
		Schema  string               `json:"schema"`
		OK      bool                 `json:"ok"`
		Summary struct{ Errors int } `json:"summary"`
	}
	if err := json.Unmarshal(data, &back); err != nil || back.Schema != DoctorSchema || back.OK || back.Summary.Errors != 1 {
		t.Errorf("JSON: %+v, %v", back, err)
	}
}

// golden compares got with testdata/name; QUORATE_UPDATE_GOLDEN=1 rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("QUORATE_UPDATE_GOLDEN") == "1" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (QUORATE_UPDATE_GOLDEN=1 writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (QUORATE_UPDATE_GOLDEN=1 rewrites it):\n%s", name, got)
	}
}
