package pve

import (
	"strings"
	"testing"

	"github.com/quorate/quorate/pve/pvetest"
)

func TestParseCfgtoolStatus(t *testing.T) {
	l, err := ParseCfgtoolStatus(pvetest.Golden(t, "cfgtool-s.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if l.LocalNodeID != 1 || l.Transport != "knet" || len(l.Status) != 2 {
		t.Fatalf("got %+v", l)
	}
	s0 := l.Status[0]
	if s0.Link != 0 || s0.Transport != "udp" || s0.Addr != "192.168.100.80" || len(s0.Nodes) != 3 ||
		s0.Nodes[0].State != "localhost" || s0.Nodes[2].NodeID != 3 || s0.Nodes[2].State != "disconnected" {
		t.Errorf("link 0 %+v", s0)
	}
	old, err := ParseCfgtoolStatus(pvetest.Golden(t, "cfgtool-s-man.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Status) != 1 || len(old.Status[0].Nodes) != 3 || old.Status[0].Nodes[1].State != "connected" {
		t.Errorf("man page form %+v", old)
	}
}

func TestParseCfgtoolNodes(t *testing.T) {
	l, err := ParseCfgtoolNodes(pvetest.Golden(t, "cfgtool-n.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Peers) != 1 || l.Peers[0].NodeID != 2 || !l.Peers[0].Reachable || len(l.Peers[0].Links) != 3 {
		t.Fatalf("got %+v", l)
	}
	p := l.Peers[0].Links
	if !p[0].Connected || p[0].MTU != 1397 || p[0].Src != "192.168.1.101" || p[0].Dst != "192.168.1.102" || p[1].Connected || !p[1].Enabled {
		t.Errorf("links %+v", p)
	}
	withTransport, err := ParseCfgtoolNodes("Local node ID 1, transport knet\nnodeid: 2 reachable\n   LINK: 0 udp (10.0.0.1->10.0.0.2) enabled connected mtu: 1397\n")
	if err != nil || withTransport.Peers[0].Links[0].Transport != "udp" {
		t.Errorf("%+v %v", withTransport, err)
	}
}

func TestCfgtoolErrorsQuoteTheLine(t *testing.T) {
	for _, tt := range []struct {
		parse func(string) (Links, error)
		in    string
		quote string
	}{
		{ParseCfgtoolStatus, "LINK ID x\n", "LINK ID x"},
		{ParseCfgtoolStatus, "Local node ID 1, transport knet\nsomething else\n", "something else"},
		{ParseCfgtoolStatus, "", "neither"},
		{ParseCfgtoolNodes, "Local node ID 1, transport knet\n   LINK: 0 (a->b) enabled\n", "LINK before any nodeid"},
		{ParseCfgtoolNodes, "Local node ID 1, transport knet\nnodeid: 2 reachable\n   LINK: zero (a->b)\n", "LINK: zero"},
	} {
		_, err := tt.parse(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.quote) {
			t.Errorf("%q: %v", tt.in, err)
		}
	}
}

func TestParseKnetStats(t *testing.T) {
	ks, err := ParseKnetStats(pvetest.Golden(t, "cmapctl-knet.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 3 {
		t.Fatalf("got %+v", ks)
	}
	n2, n3 := ks[1], ks[2]
	if n2.NodeID != 2 || !n2.Connected || n2.MTU != 1397 || n2.LatencyAve != 142 || n2.LatencyMax != 610 || n2.Values["rx_data_packets"] != 18347 {
		t.Errorf("node2 %+v", n2)
	}
	if n3.Connected || !n3.Enabled || n3.DownCount != 4 {
		t.Errorf("node3 %+v", n3)
	}
	if _, err := ParseKnetStats("stats.knet.node2.link0.mtu = 1397\n"); err == nil || !strings.Contains(err.Error(), "stats.knet.node2.link0.mtu = 1397") {
		t.Errorf("error %v", err)
	}
}

func TestCertFingerprintParsers(t *testing.T) {
	certs, err := ParseCertInfo(pvetest.Golden(t, "pvenode-cert-info.json").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := ServedFingerprint(certs)
	if err != nil || fp != testFP {
		t.Errorf("served %q %v: pveproxy-ssl.pem must win and be upper-cased", fp, err)
	}
	fp, err = ServedFingerprint(certs[:2])
	if err != nil || !strings.HasPrefix(fp, "09:D6:DF:E9") {
		t.Errorf("without pveproxy-ssl.pem: %q %v", fp, err)
	}
	if _, err := ServedFingerprint(certs[:1]); err == nil {
		t.Error("CA certificate taken as the served one")
	}
	fp, err = ParseOpenSSLFingerprint(pvetest.Golden(t, "openssl-fingerprint.txt").Stdout)
	if err != nil || !strings.HasSuffix(fp, ":3D:C8") {
		t.Errorf("openssl %q %v", fp, err)
	}
	if _, err := ParseOpenSSLFingerprint("SHA256 Fingerprint=09:D6\n"); err == nil || !strings.Contains(err.Error(), "09:D6") {
		t.Errorf("short fingerprint: %v", err)
	}
}
