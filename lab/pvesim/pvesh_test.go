package pvesim

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPveshShapes(t *testing.T) {
	shared := t.TempDir()
	m := newMember(t, shared)
	joiner := newSandbox(t, shared, "pve2", "198.51.100.12", "9.1.1")
	if code, _, stderr := m.join(joiner, testPassword+"\nyes\n"); code != 0 || stderr != "" {
		t.Fatalf("join: %d %s", code, stderr)
	}

	code, stdout, _ := joiner.run("", "pvesh", "get", "/cluster/config/nodes", "--output-format", "json")
	want := `[{"name":"pve1","node":"pve1","nodeid":"1","quorum_votes":"1","ring0_addr":"198.51.100.11"},{"name":"pve2","node":"pve2","nodeid":"2","quorum_votes":"1","ring0_addr":"198.51.100.12"}]` + "\n"
	if code != 0 || stdout != want {
		t.Errorf("/cluster/config/nodes:\n%s\nwant:\n%s", stdout, want)
	}

	code, stdout, _ = joiner.run("", "pvesh", "get", "/cluster/config/join", "--output-format", "json")
	var join struct {
		ConfigDigest  string              `json:"config_digest"`
		Nodelist      []map[string]string `json:"nodelist"`
		PreferredNode string              `json:"preferred_node"`
		Totem         map[string]any      `json:"totem"`
	}
	if err := json.Unmarshal([]byte(stdout), &join); err != nil || code != 0 {
		t.Fatalf("/cluster/config/join: %v %q", err, stdout)
	}
	if join.PreferredNode != "pve2" || len(join.ConfigDigest) != 40 || len(join.Nodelist) != 2 ||
		join.Nodelist[0]["pve_fp"] != m.fp || join.Nodelist[0]["pve_addr"] != "198.51.100.11" ||
		join.Totem["config_version"] != "2" || join.Totem["interface"].(map[string]any)["0"].(map[string]any)["linknumber"] != "0" {
		t.Errorf("join info: %s", stdout)
	}

	code, stdout, _ = joiner.run("", "pvesh", "get", "/cluster/status", "--output-format", "json")
	if code != 0 || !strings.HasPrefix(stdout, `[{"id":"cluster","name":"demo","nodes":2,"quorate":1,"type":"cluster","version":2},{"id":"node/pve1","ip":"198.51.100.11","level":"","local":0,"name":"pve1","nodeid":1,`) {
		t.Errorf("/cluster/status: %s", stdout)
	}

	standalone := newSandbox(t, t.TempDir(), "pve9", "198.51.100.19", "9.1.1")
	code, stdout, stderr := standalone.run("", "pvesh", "get", "/cluster/config/join", "--output-format", "json")
	if code == 0 || stdout != "" || stderr != "424 node is not in a cluster, no join info available! at /usr/share/perl5/PVE/API2/ClusterConfig.pm line 585\n" {
		t.Errorf("standalone join info: exit %d %q %q", code, stdout, stderr)
	}
	if code, stdout, _ = standalone.run("", "pvesh", "get", "/version", "--output-format", "json"); stdout != `{"release":"9.1","repoid":"42db4a6cf33dac83","version":"9.1.1"}`+"\n" {
		t.Errorf("/version: %d %q", code, stdout)
	}
	standalone.run("", "pvesim", "fault", "guests")
	if _, stdout, _ = standalone.run("", "pvesh", "get", "/nodes/pve9/lxc", "--output-format", "json"); stdout != `[{"name":"ct101","status":"stopped","type":"lxc","vmid":101}]`+"\n" {
		t.Errorf("/nodes/pve9/lxc: %q", stdout)
	}
}

func TestPveversion(t *testing.T) {
	sb := newSandbox(t, t.TempDir(), "pve1", "198.51.100.11", "9.1.1")
	if _, stdout, _ := sb.run("", "pveversion"); stdout != "pve-manager/9.1.1/42db4a6cf33dac83 (running kernel: 6.17.2-1-pve)\n" {
		t.Errorf("pveversion: %q", stdout)
	}
	_, stdout, _ := sb.run("", "pveversion", "-v")
	if !strings.HasPrefix(stdout, "proxmox-ve: 9.1.0 (running kernel: 6.17.2-1-pve)\npve-manager: 9.1.1 (running version: 9.1.1/42db4a6cf33dac83)\nproxmox-kernel-helper: ") ||
		!strings.Contains(stdout, "\ncorosync: 3.1.9-pve2\n") {
		t.Errorf("pveversion -v:\n%s", stdout)
	}
	if code, _, stderr := sb.run("", "pveversion", "--bogus"); code != 255 || stderr != "USAGE: pveversion [--verbose]\n" {
		t.Errorf("usage: %d %q", code, stderr)
	}
	sb.run("", "pvesim", "fault", "pveversion", "7.3-3")
	if _, stdout, _ := sb.run("", "pveversion"); stdout != "pve-manager/7.3-3/42db4a6c (running kernel: 5.15.74-1-pve)\n" {
		t.Errorf("pveversion after the fault: %q", stdout)
	}
	_, stdout, _ = sb.run("", "pveversion", "-v")
	if !strings.HasPrefix(stdout, "proxmox-ve: 7.3-1 (running kernel: 5.15.74-1-pve)\npve-manager: 7.3-3 (running version: 7.3-3/42db4a6c)\npve-kernel-5.15: ") {
		t.Errorf("pveversion -v on 7.3:\n%s", stdout)
	}
	sb.run("", "pvesim", "fault", "clear")
	if _, stdout, _ := sb.run("", "pveversion"); !strings.HasPrefix(stdout, "pve-manager/9.1.1/") {
		t.Errorf("pveversion after clear: %q", stdout)
	}
}

func TestCertInfoMatchesTheServedCertificate(t *testing.T) {
	m := newMember(t, t.TempDir())
	_, stdout, _ := m.run("", "pvenode", "cert", "info", "--output-format", "json")
	var certs []map[string]any
	if err := json.Unmarshal([]byte(stdout), &certs); err != nil || len(certs) != 2 {
		t.Fatalf("cert info: %v %s", err, stdout)
	}
	if certs[1]["filename"] != "pve-ssl.pem" || certs[1]["fingerprint"] != m.fp || certs[1]["public-key-type"] != "rsaEncryption" ||
		certs[1]["subject"] != "/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=pve1.lab.test" ||
		!strings.HasPrefix(certs[1]["issuer"].(string), "/CN=Proxmox Virtual Environment/OU=") {
		t.Errorf("pve-ssl.pem entry: %v", certs[1])
	}
	san, _ := json.Marshal(certs[1]["san"])
	if want := `["127.0.0.1","0000:0000:0000:0000:0000:0000:0000:0001","localhost","pve1","pve1.lab.test","198.51.100.11"]`; string(san) != want {
		t.Errorf("san %s, want %s", san, want)
	}
}
