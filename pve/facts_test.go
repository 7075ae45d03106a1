package pve

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/pve/pvetest"
)

func TestParseFactsGolden(t *testing.T) {
	f, err := ParseFacts(pvetest.Golden(t, "facts-pve1.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if f.Hostname != "pve1" || f.FQDN != "pve1.lab.test" || f.NodeName != "pve1" || f.MachineID == "" {
		t.Errorf("host %+v", f)
	}
	if !f.RemoteTime.Equal(time.Unix(1786452293, 250000000)) {
		t.Errorf("remote time %v", f.RemoteTime)
	}
	if a, ok := f.PrimaryAddress(); !ok || a.String() != "198.51.100.11" || !f.HasAddress(a) {
		t.Errorf("primary address %v %v", a, ok)
	}
	if f.PVEVersion == nil || f.PVEVersion.Version.String() != "9.1.1" || !f.PmxcfsMounted || f.CorosyncRunning || f.QuorumtoolAnswers {
		t.Errorf("pve %+v", f)
	}
	if f.Files != (ClusterFiles{}) {
		t.Errorf("files %+v", f.Files)
	}
	if len(f.VMs) != 2 || f.VMs[0] != 100 || len(f.CTs) != 1 || f.CTs[0] != 200 {
		t.Errorf("guests %v %v", f.VMs, f.CTs)
	}
	if len(f.Missing) != 1 || f.Missing[0] != "pve-firewall" {
		t.Errorf("missing %v", f.Missing)
	}
	byName := map[string]Interface{}
	for _, i := range f.Interfaces {
		byName[i.Name] = i
	}
	eth0, eth1, wlan, lo := byName["eth0"], byName["eth1"], byName["wlan0"], byName["lo"]
	if eth0.Kind != KindEthernet || eth0.SpeedMbps != 10000 || eth0.Duplex != "full" || eth0.MTU != 1500 {
		t.Errorf("eth0 %+v", eth0)
	}
	if len(eth0.Addrs) != 2 || eth0.Addrs[0].Method != MethodStatic || eth0.Addrs[1].Method != MethodAuto {
		t.Errorf("eth0 addrs %+v", eth0.Addrs)
	}
	if eth1.MTU != 9000 || eth1.Master != "vmbr1" || eth0.Master != "" || len(eth1.Addrs) != 1 || eth1.Addrs[0].Method != MethodDHCP || !eth1.Addrs[0].Dynamic {
		t.Errorf("eth1 %+v", eth1)
	}
	if wlan.Kind != KindWiFi || wlan.SpeedMbps != -1 || wlan.Addrs[0].Method != MethodDHCP {
		t.Errorf("wlan0 %+v", wlan)
	}
	if lo.Kind != KindLoopback {
		t.Errorf("lo %+v", lo)
	}
	ts := f.Time
	if !ts.Synchronized() || ts.Chrony == nil || ts.Chrony.Stratum != 4 || ts.Chrony.Offset != -0.000012345 || len(ts.Daemons) != 1 {
		t.Errorf("time %+v %+v", ts, ts.Chrony)
	}
	if len(f.SSHHostKeys) != 2 || f.SSHHostKeys[0].Type != "ED25519" || !strings.HasPrefix(f.SSHHostKeys[0].Fingerprint, "SHA256:") {
		t.Errorf("host keys %+v", f.SSHHostKeys)
	}
	fw := f.Firewall
	if fw.ClusterEnabled == nil || *fw.ClusterEnabled || fw.HostEnabled != nil || fw.NftDropRules != 0 || fw.IptablesDropRules != 2 {
		t.Errorf("firewall %+v", fw)
	}
}

func TestFactsLoopbackOnlyResolution(t *testing.T) {
	in := strings.Replace(pvetest.Golden(t, "facts-pve1.txt").Stdout, "addr=198.51.100.11\n", "addr=127.0.1.1\n", 1)
	f, err := ParseFacts(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.PrimaryAddress(); ok {
		t.Error("127.0.1.1 taken as the node address")
	}
	if f.HasAddress(netip.MustParseAddr("10.9.9.9")) {
		t.Error("HasAddress of a foreign address")
	}
}

func TestFactsErrors(t *testing.T) {
	good := pvetest.Golden(t, "facts-pve1.txt").Stdout
	tests := []struct{ in, want string }{
		{"", "no \"quorate-facts v1\" line"},
		{"quorate-facts v2\n", "unsupported facts version"},
		{strings.Replace(good, "quorate-facts end\n", "", 1), "cut short"},
		{strings.Replace(good, "[ssh]\n", "this line is wrong\n[ssh]\n", 1), "this line is wrong"},
		{strings.Replace(good, "vm=100", "vm=1oo", 1), "vm=1oo"},
		{strings.Replace(good, "addr=198.51.100.11\n", "addr=not-an-ip\n", 1), "addr=not-an-ip"},
	}
	for _, tt := range tests {
		_, err := ParseFacts(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
	// Keys a later script adds are ignored, not errors.
	if _, err := ParseFacts(strings.Replace(good, "[ssh]\n", "[ssh]\nnew_key=1\n[new section]\nx=y\n[ssh]\n", 1)); err != nil {
		t.Errorf("unknown keys: %v", err)
	}
}

func TestFactsScriptRunsUnderPOSIXShells(t *testing.T) {
	// The script must parse under every sh a node might have; running it here also shows it
	// tolerates missing PVE tools. dash is Debian's /bin/sh.
	for _, shell := range []string{"sh", "dash", "busybox"} {
		path, err := exec.LookPath(shell)
		if err != nil {
			continue
		}
		args := []string{"-s"}
		if shell == "busybox" {
			args = []string{"sh", "-s"}
		}
		cmd := exec.Command(path, args...)
		cmd.Stdin = strings.NewReader(factsScript)
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: %v", shell, err)
			continue
		}
		f, err := ParseFacts(string(out))
		if err != nil {
			t.Errorf("%s: %v", shell, err)
			continue
		}
		if f.NodeName == "" || len(f.Interfaces) == 0 {
			t.Errorf("%s: facts %+v", shell, f)
		}
	}
}

// The host firewall's rules apply unless host.fw says "enable: 0" (pve-firewall's default);
// the cluster firewall is off unless cluster.fw says "enable: 1".
func TestFirewallDefaults(t *testing.T) {
	base := pvetest.Golden(t, "facts-pve1.txt").Stdout
	for _, tt := range []struct {
		host    string
		hostOn  bool
		cluster string
		clOn    bool
	}{
		{"", true, "", false},
		{"0", false, "1", true},
		{"1", true, "0", false},
	} {
		in := strings.Replace(base, "enable=/etc/pve/firewall/cluster.fw 0\n",
			"enable=/etc/pve/firewall/cluster.fw "+tt.cluster+"\nenable=/etc/pve/nodes/pve1/host.fw "+tt.host+"\n", 1)
		f, err := ParseFacts(in)
		if err != nil {
			t.Fatal(err)
		}
		fw := f.Firewall
		if fw.HostEnabled == nil || *fw.HostEnabled != tt.hostOn || fw.ClusterEnabled == nil || *fw.ClusterEnabled != tt.clOn {
			t.Errorf("host.fw enable %q, cluster.fw enable %q: host %v cluster %v", tt.host, tt.cluster, fw.HostEnabled, fw.ClusterEnabled)
		}
	}
}

func TestParseFactsMember(t *testing.T) {
	f, err := ParseFacts(pvetest.Golden(t, "facts-member.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if f.UID != 0 || f.User != "root" {
		t.Errorf("uid %d user %q", f.UID, f.User)
	}
	byName := map[string]Interface{}
	for _, i := range f.Interfaces {
		byName[i.Name] = i
	}
	if b := byName["bond0"]; b.Kind != KindBond || b.BondMode != "802.3ad" || b.Master != "vmbr0" {
		t.Errorf("bond0 %+v", b)
	}
	if v := byName["bond0.20"]; v.Kind != KindVLAN || len(v.Lower) != 1 || v.Lower[0] != "bond0" || len(v.Addrs) != 1 {
		t.Errorf("bond0.20 %+v", v)
	}
	if br := byName["vmbr0"]; br.Kind != KindBridge || br.Addrs[0].Method != MethodStatic {
		t.Errorf("vmbr0 %+v", br)
	}
	conf, err := f.ClusterConf()
	if err != nil || conf == nil || conf.ClusterName() != "demo" {
		t.Fatalf("cluster conf %v %v", conf, err)
	}
	if nodes, _ := conf.Nodes(); len(nodes) != 3 || nodes[2].Links[1] != "203.0.113.13" {
		t.Errorf("nodelist %+v", nodes)
	}
	if f.LocalCorosyncConf != "" {
		t.Errorf("local corosync.conf %q", f.LocalCorosyncConf)
	}
	if f.Quorum == nil || f.Quorum.State != Quorate || f.Quorum.LocalNodeID != 1 || len(f.Quorum.Members) != 3 {
		t.Errorf("quorum %+v (%s)", f.Quorum, f.QuorumError)
	}
	// vm and ct keys after the [file] and [quorum] sections still land in [pve].
	if !f.PmxcfsMounted || !f.CorosyncRunning {
		t.Errorf("pve %+v", f)
	}
	fw := f.Firewall
	if fw.PVEStatus != "Status: enabled/running" || fw.ClusterEnabled == nil || !*fw.ClusterEnabled || len(fw.Rules) != 7 {
		t.Fatalf("firewall %+v", fw)
	}
	type probe struct {
		proto string
		port  int
	}
	for i, tt := range []struct {
		policy   bool
		hook     string
		verdict  string
		negated  bool
		matches  []probe
		misses   []probe
		contains string
	}{
		{policy: true, hook: "input", verdict: "drop", misses: []probe{{"udp", 5405}}, contains: "policy drop"},
		{hook: "input", verdict: "drop", misses: []probe{{"udp", 5405}, {"tcp", 22}}, contains: "ct state invalid"},
		{hook: "input", verdict: "drop", matches: []probe{{"udp", 5405}, {"udp", 5412}}, misses: []probe{{"tcp", 5405}, {"udp", 5413}}},
		{hook: "input", verdict: "reject", matches: []probe{{"tcp", 22}, {"tcp", 8006}}, misses: []probe{{"udp", 22}, {"tcp", 23}}},
		{hook: "input", verdict: "reject", matches: []probe{{"tcp", 22}, {"tcp", 8006}}, misses: []probe{{"tcp", 80}}},
		{hook: "", verdict: "drop", matches: []probe{{"udp", 5404}, {"udp", 5405}}, misses: []probe{{"udp", 5413}}, contains: "PVEFW-HOST-IN"},
		{policy: true, hook: "forward", verdict: "drop"},
	} {
		r := fw.Rules[i]
		if r.Policy != tt.policy || r.Hook != tt.hook || r.Verdict != tt.verdict || r.Negated != tt.negated {
			t.Errorf("rule %d %+v", i, r)
		}
		for _, p := range tt.matches {
			if !r.MatchesPort(p.proto, p.port) {
				t.Errorf("rule %d (%s) does not match %s %d", i, r, p.proto, p.port)
			}
		}
		for _, p := range tt.misses {
			if r.MatchesPort(p.proto, p.port) {
				t.Errorf("rule %d (%s) matches %s %d", i, r, p.proto, p.port)
			}
		}
		if !strings.Contains(r.String(), tt.contains) {
			t.Errorf("rule %d: %q lacks %q", i, r, tt.contains)
		}
	}
}

func TestParseFactsHalfJoined(t *testing.T) {
	f, err := ParseFacts(pvetest.Golden(t, "facts-halfjoined.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if f.UID != 1000 || f.User != "admin" || !f.RemoteTime.Equal(time.Unix(1786452293, 0)) {
		t.Errorf("host %+v", f)
	}
	if f.PVECorosyncConf != "" || f.LocalCorosyncConf == "" || !f.Files.CorosyncAuthkey || f.Files.PVECorosyncConf {
		t.Errorf("files %+v", f.Files)
	}
	conf, err := f.ClusterConf()
	if err != nil || conf.ClusterName() != "halfjoined" {
		t.Errorf("conf %v %v", conf, err)
	}
	if f.Quorum == nil || f.Quorum.State != NotQuorate {
		t.Errorf("quorum %+v", f.Quorum)
	}
	if len(f.VMs) != 1 || f.PVEVersion == nil || f.PVEVersion.Version.Major != 8 {
		t.Errorf("pve %+v %+v", f.VMs, f.PVEVersion)
	}
	if _, ok := f.PrimaryAddress(); ok {
		t.Error("127.0.1.1 taken as the node address")
	}
	w := f.Interfaces[1]
	if w.Kind != KindWiFi || w.Addrs[0].Method != MethodDHCP {
		t.Errorf("wifi %+v", w)
	}
}

func TestFactsQuorumUnreadable(t *testing.T) {
	in := strings.Replace(pvetest.Golden(t, "facts-member.txt").Stdout, "line=Quorate:          Yes\n", "line=Cannot initialize QUORUM service\n", 1)
	f, err := ParseFacts(in)
	if err != nil {
		t.Fatal(err)
	}
	if f.Quorum != nil || !strings.Contains(f.QuorumError, "0x00000003") {
		t.Errorf("quorum %+v, error %q", f.Quorum, f.QuorumError)
	}
}

func TestFirewallRuleWords(t *testing.T) {
	for _, tt := range []struct {
		val      string
		proto    string
		port     int
		match    bool
		negated  bool
		wantHook string
	}{
		{"nft inet/f in input udp dport != 5405 drop", "udp", 5405, false, true, "input"},
		{"nft inet/f in input meta l4proto udp th dport 5405-5406 drop", "udp", 5406, true, false, "input"},
		{"nft inet/f in input tcp dport ssh drop", "tcp", 22, true, false, "input"},
		{"nft inet/f in - tcp sport 22 drop", "tcp", 22, true, false, ""},
		{"iptables ip/filter OUTPUT - -A OUTPUT -p udp -m udp --sport 5405 -j DROP", "udp", 5405, true, false, "output"},
		{"iptables ip/filter INPUT - -A INPUT -p tcp -m tcp ! --dport 22 -j DROP", "tcp", 22, false, true, "input"},
		{"iptables ip/filter INPUT - -A INPUT -p tcp -m tcp --dport 8000: -j DROP", "tcp", 8006, true, false, "input"},
		{"iptables ip/filter INPUT - -A INPUT -p tcp -m tcp --dport :1024 -j DROP", "tcp", 22, true, false, "input"},
		{"iptables ip/filter INPUT - -A INPUT -p tcp -m tcp --dport 9:1 -j DROP", "tcp", 5, false, false, "input"},
	} {
		r, err := parseFirewallRule(tt.val, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.MatchesPort(tt.proto, tt.port) != tt.match || r.Negated != tt.negated || r.Hook != tt.wantHook || r.Verdict != "drop" {
			t.Errorf("%q: %+v", tt.val, r)
		}
	}
	if _, err := parseFirewallRule("nft only", false); err == nil {
		t.Error("short rule accepted")
	}
}

// The lab's hosts have a real install's shape: the address on vmbr0 over a NIC.
func TestParseFactsLab(t *testing.T) {
	f, err := ParseFacts(pvetest.Golden(t, "facts-lab.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Interface{}
	for _, i := range f.Interfaces {
		byName[i.Name] = i
	}
	br, nic := byName["vmbr0"], byName["eno1"]
	if br.Kind != KindBridge || len(br.Addrs) != 1 || br.Addrs[0].Method != MethodStatic || nic.Master != "vmbr0" || nic.Kind != KindEthernet {
		t.Errorf("vmbr0 %+v, eno1 %+v", br, nic)
	}
	if f.UID != 0 || !f.Time.Synchronized() || f.Firewall.PVEStatus == "" || f.CorosyncRunning || len(f.Time.Daemons) != 1 {
		t.Errorf("facts %+v", f)
	}
}
