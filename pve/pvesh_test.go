package pve

import (
	"strings"
	"testing"

	"github.com/quorate/quorate/pve/pvetest"
)

func TestPveshStandaloneIsNotInCluster(t *testing.T) {
	st, err := ParsePveshClusterStatus(pvetest.Golden(t, "pvesh-status-standalone.json").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != NotInCluster || len(st.Members) != 1 || st.Members[0].Name != "aghub" || !st.Members[0].Local {
		t.Errorf("got %+v", st)
	}
}

func TestPveshClusteredWithOfflineNode(t *testing.T) {
	st, err := ParsePveshClusterStatus(pvetest.Golden(t, "pvesh-status-clustered.json").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != Quorate || st.Name != "testcluster" || st.ConfigVersion != 5 || st.NodeCount != 3 || st.VotesKnown {
		t.Errorf("got %+v", st)
	}
	if len(st.Members) != 2 {
		t.Fatalf("members %+v", st.Members)
	}
	n1, n3 := st.Members[0], st.Members[1]
	if n1.Name != "node1" || !n1.Online || !n1.Local || n1.Addr != "192.168.1.10" {
		t.Errorf("node1 = %+v", n1)
	}
	if n3.Name != "node3" || n3.Online || n3.Local || n3.NodeID != 3 {
		t.Errorf("node3 = %+v", n3)
	}
}

func TestPveshValueSpellings(t *testing.T) {
	// Booleans and ints as numbers, strings or JSON booleans all read the same.
	for _, in := range []string{
		`[{"type":"cluster","name":"c","nodes":"2","quorate":true,"version":"7"},{"type":"node","name":"a","nodeid":"1","online":"1","local":true,"ip":"10.0.0.1"}]`,
		`[{"type":"cluster","name":"c","nodes":2,"quorate":1,"version":7},{"type":"node","name":"a","nodeid":1,"online":1,"local":1,"ip":"10.0.0.1"}]`,
	} {
		st, err := ParsePveshClusterStatus("some login banner [x]\n" + in + "\n")
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if st.State != Quorate || st.ConfigVersion != 7 || st.NodeCount != 2 || st.Members[0].NodeID != 1 || !st.Members[0].Online {
			t.Errorf("%s: got %+v", in, st)
		}
	}
	if _, err := ParsePveshClusterStatus(`[{"type":"node","name":"a","nodeid":1},{"type":"node","name":"b","nodeid":2}]`); err == nil {
		t.Error("two nodes and no cluster entry accepted")
	}
	if _, err := ParsePveshClusterStatus(`[{"type":"cluster","quorate":"perhaps"}]`); err == nil || !strings.Contains(err.Error(), "perhaps") {
		t.Errorf("bad boolean: %v", err)
	}
}

func TestParseJoinInfo(t *testing.T) {
	ji, err := ParseJoinInfo(pvetest.Golden(t, "pvesh-join-info.json").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if ji.ClusterName != "devcluster" || ji.ConfigVersion != 2 || ji.PreferredNode != "pmxcdev02" || ji.LinkMode != "passive" {
		t.Errorf("got %+v", ji)
	}
	if len(ji.LinkNumbers) != 1 || ji.LinkNumbers[0] != 0 {
		t.Errorf("links %v", ji.LinkNumbers)
	}
	n := ji.Nodes[0]
	if n.Name != "pmx01" || n.NodeID != 1 || n.Votes != 1 || n.PVEAddr != "10.10.10.75" || n.Links[0] != "10.10.10.75" ||
		n.Fingerprint != "95:AC:F2:21:0C:09:A8:5F:06:9A:BD:0D:FB:68:8B:32:4A:26:36:DE:29:23:88:D2:49:C5:BB:91:AB:39:6E:48" {
		t.Errorf("node = %+v", n)
	}
	if _, ok := ji.Preferred(); ok {
		t.Error("preferred node pmxcdev02 is not in the fixture's nodelist")
	}
}

func TestParseNodelist(t *testing.T) {
	nodes, err := ParseNodelist(pvetest.Golden(t, "pvesh-nodes.json").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Name != "pve1" || nodes[0].NodeID != 1 || nodes[0].Links[0] != "10.0.0.1" {
		t.Errorf("got %+v", nodes)
	}
	// Numbers instead of strings, two links, unsorted: still read, sorted by node id.
	nodes, err = ParseNodelist(`[{"name":"b","nodeid":2,"ring0_addr":"10.0.0.2","ring1_addr":"10.1.0.2"},{"name":"a","nodeid":1,"quorum_votes":2,"ring0_addr":"10.0.0.1","ring1_addr":"10.1.0.1"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if nodes[0].Name != "a" || nodes[0].Votes != 2 || nodes[1].Votes != 1 || nodes[1].Links[1] != "10.1.0.2" {
		t.Errorf("got %+v", nodes)
	}
	if _, err := ParseNodelist(`[{"nodeid":"1"}]`); err == nil {
		t.Error("entry without a name accepted")
	}
}
