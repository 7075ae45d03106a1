package report

import (
	"encoding/xml"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sample is a 3-node cluster with two links, a QDevice, network storage and an HA resource,
// on the lab's addresses (which are themselves documentation ranges: redaction must still
// map them elsewhere).
func sample() *Cluster {
	c := &Cluster{Name: "lab-e1", ConfigVersion: 5, Written: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC),
		ReadFrom: []string{"pve1", "pve2", "pve3"},
		Links:    []LinkNet{{Number: 0, Networks: []string{"198.51.100.0/24"}}, {Number: 1, Networks: []string{"203.0.113.0/24"}}},
		QDevice:  &QDevice{Host: "198.51.100.50", Votes: 1, Algorithm: "lms", Flags: map[string]string{"pve1": "A,V,NMW"}},
		Quorum:   Quorum{Expected: 4, Quorum: 3, Tolerates: 1, Lines: []string{"3 nodes with 3 votes; pve3 is offline"}},
		Storages: []Storage{
			{ID: "local", Type: "dir", Content: []string{"iso", "vztmpl", "backup"}, Where: "/var/lib/vz"},
			{ID: "local-lvm", Type: "lvmthin", Content: []string{"rootdir", "images"}, Where: "pve data"},
			{ID: "nas", Type: "nfs", Shared: true, Content: []string{"images"}, Where: "/srv/pve1-data", Servers: []string{"nas.lab.test"}},
			{ID: "san", Type: "iscsi", Shared: true, Content: []string{"none"}, Where: "iqn.2006-01.lab.test:pve1", Servers: []string{"203.0.113.200"}},
		},
		StorageOK: true,
		HA:        []HA{{ID: "vm:100", State: "started"}},
		Migration: &Migration{Type: "secure", Network: "203.0.113.0/24"},
		Notes:     []string{"pve3 could not be reached (dial 198.51.100.13:22: no route to host)"},
	}
	for i, name := range []string{"pve1", "pve2", "pve3"} {
		n := Node{Name: name, NodeID: i + 1, Votes: 1, Role: "voting member", SSH: "root@" + name + ".lab.test", FQDN: name + ".lab.test",
			Online: i < 2, Reached: i < 2, PVE: "9.1.1", Kernel: "6.17.2-1-pve", State: "quorate"}
		if i == 2 {
			n.State = "unreachable"
		}
		for l, net := range []string{"198.51.100.1", "203.0.113.1"} {
			n.Links = append(n.Links, Link{Number: l, Addr: net + string(rune('1'+i)), Interface: "vmbr" + string(rune('0'+l)) + " (bridge)", Devices: "eno" + string(rune('1'+l)) + ": 10 Gb/s, full duplex", MTU: 1500})
		}
		c.Nodes = append(c.Nodes, n)
	}
	c.Latencies = []Latency{
		{A: "pve1", B: "pve2", Link: 0, AveMS: 0.29, MaxMS: 0.48, Known: true},
		{A: "pve1", B: "pve2", Link: 1, AveMS: 0.31, MaxMS: 0.52, Known: true},
		{A: "pve1", B: "pve3", Link: 0, Down: true},
		{A: "pve2", B: "pve3", Link: 0, Down: true},
	}
	return c
}

func TestMarkdownGolden(t *testing.T) {
	golden(t, "sample.md", sample().Markdown("lab-e1.svg"))
}

func TestSVGParsesAndNamesEveryNode(t *testing.T) {
	c := sample()
	c.Name = `a<b & "c"`
	svg := c.SVG()
	texts := svgTexts(t, svg)
	for _, n := range c.Nodes {
		if !strings.Contains(texts, n.Name) {
			t.Errorf("the diagram does not name %s", n.Name)
		}
	}
	for _, want := range []string{"QDevice", "0.29 ms", "down", "link1: 203.0.113.0/24", `Cluster a<b & "c"`} {
		if !strings.Contains(texts, want) {
			t.Errorf("the diagram lacks %q", want)
		}
	}
	golden(t, "sample.svg", sample().SVG())
}

// svgTexts parses svg as XML and returns its character data.
func svgTexts(t *testing.T, svg string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var b strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG does not parse as XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = x.Name.Space + " " + x.Name.Local
			}
		case xml.CharData:
			b.Write(x)
			b.WriteString("\n")
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q", root)
	}
	return b.String()
}

// labValues matches the sample's own addresses and names, as words.
var labValues = regexp.MustCompile(`\b(198\.51\.100\.(11|12|13|50)|203\.0\.113\.(11|12|13|200)|198\.51\.100\.0/24|203\.0\.113\.0/24|pve[0-9]+|lab\.test|lab-e1|openfiler)\b`)

func TestRedactLeavesNoRealValue(t *testing.T) {
	red, r := sample().Redact()
	md, svg := r.Text(red.Markdown("cluster1.svg")), r.Text(red.SVG())
	for name, text := range map[string]string{"markdown": md, "svg": svg} {
		if m := labValues.FindAllString(text, -1); len(m) > 0 {
			t.Errorf("%s keeps real values %v", name, m)
		}
	}
	svgTexts(t, svg)
	golden(t, "sample-redacted.md", md)
	if !red.Redacted || red.Name != "cluster1" || red.Nodes[0].Name != "node1" || red.Nodes[2].SSH != "root@node3.example.net" {
		t.Errorf("redacted: %s %s %s", red.Name, red.Nodes[0].Name, red.Nodes[2].SSH)
	}
}

func TestRedactorIsStableAndAvoidsRealValues(t *testing.T) {
	real := []netip.Addr{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("10.0.0.5")}
	r := NewRedactor(real, []string{"node1", "pve1"})
	a := r.Addr(netip.MustParseAddr("198.51.100.11"))
	if a != r.Addr(netip.MustParseAddr("198.51.100.11")) {
		t.Error("the same address got two placeholders")
	}
	for _, x := range []string{"198.51.100.11", "198.51.100.12", "10.0.0.5", "10.0.0.6", "172.16.0.1"} {
		p := r.Addr(netip.MustParseAddr(x))
		if p == netip.MustParseAddr("192.0.2.1") || p == netip.MustParseAddr("198.51.100.11") || p == netip.MustParseAddr("10.0.0.5") {
			t.Errorf("%s -> %s, a real address", x, p)
		}
		if !inDocRange(p) {
			t.Errorf("%s -> %s, outside the documentation ranges", x, p)
		}
	}
	// Each real /24 keeps a network of its own: three real networks and one free
	// documentation /24 (203.0.113.0/24) make four /26s; an address not declared up front
	// (172.16.0.1) takes the next.
	for x, net := range map[string]string{"198.51.100.11": "203.0.113.0/26", "10.0.0.5": "203.0.113.64/26", "172.16.0.1": "203.0.113.128/26"} {
		if p := r.Addr(netip.MustParseAddr(x)); !netip.MustParsePrefix(net).Contains(p) {
			t.Errorf("%s -> %s, want it in %s", x, p, net)
		}
	}
	if got := r.Name("node", "pve1"); got != "node2" {
		t.Errorf("pve1 -> %s; node1 is a real name and must be skipped", got)
	}
	if got := r.Value("[2001:db8:77::1]:3260"); !strings.HasPrefix(got, "[2001:db8:") || strings.Contains(got, ":77:") {
		t.Errorf("IPv6 with a port -> %s", got)
	}
	if got := r.Text("pve1, pve10 and pve1.lab, 198.51.100.11:22 198.51.100.110."); got != "node2, pve10 and node2.lab, "+a.String()+":22 198.51.100.110." {
		t.Errorf("Text: %q", got)
	}
}

func inDocRange(a netip.Addr) bool {
	for _, n := range docNets {
		if n.Contains(a) {
			return true
		}
	}
	return netip.MustParsePrefix("2001:db8::/32").Contains(a)
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
