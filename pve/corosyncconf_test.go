package pve

import (
	"strings"
	"testing"

	"github.com/quorate/quorate/pve/pvetest"
)

func TestNewClusterConfMatchesPVE(t *testing.T) {
	tests := []struct {
		golden string
		coeff  int
	}{
		{"corosync-create-9.1.conf", 125},
		{"corosync-create-9.0.conf", -1},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			conf, err := NewClusterConf("demo", ConfNode{Name: "pve1", NodeID: 1, Votes: 1}, []Link{{Number: 0, Addr: "198.51.100.11"}}, tt.coeff)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(conf.Bytes()), pvetest.Golden(t, tt.golden).Stdout; got != want {
				t.Errorf("generated:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestCorosyncConfRoundTripIsByteExact(t *testing.T) {
	for _, name := range []string{"corosync-create-9.1.conf", "corosync-create-9.0.conf", "corosync-3nodes-2links.conf", "corosync-qdevice.conf"} {
		t.Run(name, func(t *testing.T) {
			in := pvetest.Golden(t, name).Stdout
			conf, err := ParseCorosyncConf([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(conf.Bytes()); got != in {
				t.Errorf("rewritten:\n%s\nwant:\n%s", got, in)
			}
		})
	}
}

func TestCorosyncConfAccessors(t *testing.T) {
	conf, err := ParseCorosyncConf([]byte(pvetest.Golden(t, "corosync-qdevice.conf").Stdout))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := conf.ConfigVersion()
	host, ok := conf.QDeviceHost()
	if conf.ClusterName() != "demo" || v != 3 || !ok || host != "198.51.100.50" {
		t.Errorf("name %q version %d qdevice %q", conf.ClusterName(), v, host)
	}
	if links := conf.LinkNumbers(); len(links) != 2 || links[1] != 1 {
		t.Errorf("links %v", links)
	}
	nodes, err := conf.Nodes()
	if err != nil || len(nodes) != 3 || nodes[2].Name != "pve3" || nodes[2].Links[1] != "203.0.113.13" || nodes[2].Votes != 1 {
		t.Errorf("nodes %+v, %v", nodes, err)
	}
}

func TestDocsStyleIsNormalisedToPVELayout(t *testing.T) {
	conf, err := ParseCorosyncConf([]byte(pvetest.Golden(t, "corosync-docs-style.conf").Stdout))
	if err != nil {
		t.Fatal(err)
	}
	out := string(conf.Bytes())
	// Nodes sorted by name, no blank lines inside sections, interface where its key sorts.
	if strings.Index(out, "name: pve1") > strings.Index(out, "name: pve2") {
		t.Error("nodes not sorted by name")
	}
	if strings.Contains(out, "{\n\n") || strings.Contains(out, "  }\n\n  ") {
		t.Errorf("blank lines inside sections:\n%s", out)
	}
	if !strings.Contains(out, "  config_version: 2\n  interface {\n    linknumber: 0\n  }\n  ip_version: ipv4-6\n") {
		t.Errorf("interface not in key order:\n%s", out)
	}
	again, err := ParseCorosyncConf([]byte(out))
	if err != nil || string(again.Bytes()) != out {
		t.Errorf("second write differs: %v", err)
	}
}

func TestAddNodeAndBumpRoundTrip(t *testing.T) {
	// Start from what create writes, add two nodes the way addnode does, bump the version
	// each time: the result is the 3-node golden, and reading and writing it again is stable.
	conf, err := NewClusterConf("demo", ConfNode{Name: "pve1"}, []Link{
		{Number: 0, Addr: "198.51.100.11", Priority: 15}, {Number: 1, Addr: "203.0.113.11", Priority: 20},
	}, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []ConfNode{
		{Name: "pve3", NodeID: 3, Votes: 1, Links: map[int]string{0: "198.51.100.13", 1: "203.0.113.13"}},
		{Name: "pve2", NodeID: 2, Votes: 1, Links: map[int]string{0: "198.51.100.12", 1: "203.0.113.12"}},
	} {
		if err := conf.AddNode(n); err != nil {
			t.Fatal(err)
		}
		if err := conf.BumpVersion(); err != nil {
			t.Fatal(err)
		}
	}
	want := pvetest.Golden(t, "corosync-3nodes-2links.conf").Stdout
	if got := string(conf.Bytes()); got != want {
		t.Fatalf("after two joins:\n%s\nwant:\n%s", got, want)
	}
	reread, err := ParseCorosyncConf([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	if string(reread.Bytes()) != want {
		t.Error("read-modify-write is not stable")
	}
	if !reread.RemoveNode("pve3") || reread.RemoveNode("pve9") {
		t.Error("RemoveNode")
	}
	if err := reread.BumpVersion(); err != nil {
		t.Fatal(err)
	}
	if v, _ := reread.ConfigVersion(); v != 4 || strings.Contains(string(reread.Bytes()), "pve3") {
		t.Errorf("after delnode: version %d\n%s", v, reread.Bytes())
	}
}

func TestAddNodeRefusesWhatAddnodeRefuses(t *testing.T) {
	base := func() *CorosyncConf {
		c, err := ParseCorosyncConf([]byte(pvetest.Golden(t, "corosync-3nodes-2links.conf").Stdout))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name string
		node ConfNode
		want string
	}{
		{"existing name", ConfNode{Name: "pve2", NodeID: 9, Links: map[int]string{0: "198.51.100.19", 1: "203.0.113.19"}}, "existing node"},
		{"used id", ConfNode{Name: "pve4", NodeID: 2, Links: map[int]string{0: "198.51.100.14", 1: "203.0.113.14"}}, "node id 2"},
		{"used address", ConfNode{Name: "pve4", NodeID: 4, Links: map[int]string{0: "198.51.100.12", 1: "203.0.113.14"}}, "already used"},
		{"missing link", ConfNode{Name: "pve4", NodeID: 4, Links: map[int]string{0: "198.51.100.14"}}, "links"},
		{"extra link", ConfNode{Name: "pve4", NodeID: 4, Links: map[int]string{0: "198.51.100.14", 2: "10.0.0.4"}}, "missing link 1"},
		{"hostname as link", ConfNode{Name: "pve4", NodeID: 4, Links: map[int]string{0: "pve4.lab", 1: "203.0.113.14"}}, "not an IP"},
		{"zone smuggling a line", ConfNode{Name: "pve4", NodeID: 4, Links: map[int]string{0: "fe80::4%x\n    quorum_votes: 9", 1: "203.0.113.14"}}, "not an IP"},
		{"bad name", ConfNode{Name: "pve4;reboot", NodeID: 4, Links: map[int]string{0: "198.51.100.14", 1: "203.0.113.14"}}, "invalid node name"},
	}
	for _, tt := range tests {
		if err := base().AddNode(tt.node); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestCorosyncConfErrorsQuoteTheLine(t *testing.T) {
	tests := []struct{ in, quoted string }{
		{"totem {\n  version 2\n}\n", "version 2"},
		{"totem {\n  version: 2\n}\n}\n", "}"},
		{"totem {\n  version: 2\n", `"totem" is not closed`},
		{"totem {\n}\ntotem {\n}\n", "appears twice"},
		{"nodelist {\n  node {\n    name: a\n  }\n  node {\n    name: a\n  }\n}\n", `name "a"`},
		{"totem {\n  cluster_name:\n}\n", "cluster_name:"},
		{"to tem {\n}\n", "to tem {"},
	}
	for _, tt := range tests {
		_, err := ParseCorosyncConf([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.quoted) {
			t.Errorf("%q: error %v does not mention %q", tt.in, err, tt.quoted)
		}
	}
}

func TestNewClusterConfValidates(t *testing.T) {
	node := ConfNode{Name: "pve1"}
	link := []Link{{Number: 0, Addr: "198.51.100.11"}}
	for _, name := range []string{"", "sixteen-chars-xx", "a.b", "-lead", "trail-", "under_score", "x$(id)"} {
		if _, err := NewClusterConf(name, node, link, 125); err == nil {
			t.Errorf("cluster name %q accepted", name)
		}
	}
	if _, err := NewClusterConf("demo", node, []Link{{Number: 8, Addr: "198.51.100.11"}}, 125); err == nil {
		t.Error("link 8 accepted")
	}
	if _, err := NewClusterConf("demo", node, []Link{{Number: 0, Addr: "198.51.100.11", Priority: 256}}, 125); err == nil {
		t.Error("priority 256 accepted")
	}
}
