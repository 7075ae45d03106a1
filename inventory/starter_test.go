package inventory

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Whatever a host calls itself, the file must stay valid YAML that reads back as written;
// odd names are then reported by validation, not by a parse error.
func TestStarterRendersValuesSafely(t *testing.T) {
	s := Starter{
		ClusterName: "lab",
		SSH:         SSH{User: "root", Port: 2222},
		Written:     time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		Nodes: []StarterNode{
			{Name: "pve1", Address: "198.51.100.11", Link: "198.51.100.11",
				Seen: []SeenAddress{{Interface: "vmbr0", Prefix: netip.MustParsePrefix("198.51.100.11/24")}}},
			{Name: "true", Address: "10", Link: "2001:db8::2"},
			{Name: "a: b #c", Address: "h3"},
		},
	}
	data, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	inv := Parse("starter.yaml", data, func(string) (string, bool) { return "", false })
	if inv.SSH.Port != 2222 || inv.SSH.User != "root" || inv.Cluster.Name != "lab" {
		t.Errorf("read back %+v %+v\n%s", inv.Cluster, inv.SSH, data)
	}
	if len(inv.Nodes) != 3 || inv.Nodes[1].Name != "true" || inv.Nodes[1].Address != "10" || inv.Nodes[2].Name != "a: b #c" {
		t.Fatalf("nodes read back as %+v\n%s", inv.Nodes, data)
	}
	if inv.Nodes[0].Links[0] != "198.51.100.11" || inv.Nodes[2].Links[0] != "h3" {
		t.Errorf("links read back as %v %v", inv.Nodes[0].Links, inv.Nodes[2].Links)
	}
	for _, want := range []string{"2026-01-02 03:04 UTC", "seen: 198.51.100.11/24 (vmbr0)", "add links: [<IP>] by hand"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("file lacks %q:\n%s", want, data)
		}
	}
}
