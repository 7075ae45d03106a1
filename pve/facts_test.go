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
