package pvesim

import (
	"strings"
	"testing"
)

func TestCreatePrintsTheTranscriptAndWritesPVEsConfig(t *testing.T) {
	sb := newSandbox(t, t.TempDir(), "pve1", "198.51.100.11", "9.1.1")
	code, stdout, stderr := sb.run("", "pvecm", "create", "demo")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	want := "Corosync Cluster Engine Authentication key generator.\n" +
		"Gathering 2048 bits for key from /dev/urandom.\n" +
		"Writing corosync key to /etc/corosync/authkey.\n" +
		"Writing corosync config to /etc/pve/corosync.conf\n" +
		"Restart corosync and cluster filesystem\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	wantConf := `logging {
  debug: off
  to_syslog: yes
}

nodelist {
  node {
    name: pve1
    nodeid: 1
    quorum_votes: 1
    ring0_addr: 198.51.100.11
  }
}

quorum {
  provider: corosync_votequorum
}

totem {
  cluster_name: demo
  config_version: 1
  interface {
    linknumber: 0
  }
  ip_version: ipv4-6
  link_mode: passive
  secauth: on
  token_coefficient: 125
  version: 2
}

`
	if got := sb.read("/etc/pve/corosync.conf"); got != wantConf {
		t.Errorf("/etc/pve/corosync.conf:\n%s\nwant:\n%s", got, wantConf)
	}
	if got := sb.read("/etc/corosync/corosync.conf"); got != wantConf {
		t.Errorf("pmxcfs did not copy corosync.conf to /etc/corosync:\n%s", got)
	}
	if key := sb.read("/etc/corosync/authkey"); len(key) != 256 {
		t.Errorf("authkey has %d bytes, want 256", len(key))
	}
	if !strings.HasPrefix(sb.read("/var/lib/pve-cluster/cluster-id"), "demo-") {
		t.Errorf("node did not move to a shared cluster file system")
	}
	if !sb.exists("/etc/pve/local/pve-ssl.pem") {
		t.Errorf("node certificate missing after create")
	}

	code, stdout, stderr = sb.run("", "pvecm", "create", "demo")
	if code == 0 || stdout != "" || stderr != "cluster config '/etc/pve/corosync.conf' already exists\n" {
		t.Errorf("second create: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestCreateReusesAnAuthkeyAndHonoursLinksAndVersion(t *testing.T) {
	sb := newSandbox(t, t.TempDir(), "pve1", "198.51.100.11", "7.3-3")
	sb.write("/etc/corosync/authkey", strings.Repeat("k", 256))
	code, stdout, stderr := sb.run("", "pvecm", "create", "Lab-2", "--link0", "198.51.100.11,priority=15", "--link1", "address=203.0.113.11,priority=20", "--nodeid", "3")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if want := "Writing corosync config to /etc/pve/corosync.conf\nRestart corosync and cluster filesystem\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	conf := sb.read("/etc/pve/corosync.conf")
	for _, piece := range []string{
		"    nodeid: 3\n", "    ring0_addr: 198.51.100.11\n    ring1_addr: 203.0.113.11\n",
		"  interface {\n    knet_link_priority: 15\n    linknumber: 0\n  }\n  interface {\n    knet_link_priority: 20\n    linknumber: 1\n  }\n",
	} {
		if !strings.Contains(conf, piece) {
			t.Errorf("corosync.conf lacks %q:\n%s", piece, conf)
		}
	}
	if strings.Contains(conf, "token_coefficient") {
		t.Errorf("PVE 7 wrote token_coefficient:\n%s", conf)
	}
}

func TestCreateValidatesTheClusterName(t *testing.T) {
	sb := newSandbox(t, t.TempDir(), "pve1", "198.51.100.11", "9.1.1")
	cases := map[string]string{
		"bad_name":         "400 Parameter verification failed.\nclustername: invalid format - value does not look like a valid node name\n\npvecm create <clustername> [OPTIONS]\n",
		"abcdefghijklmnop": "400 Parameter verification failed.\nclustername: value may only be 15 characters long\npvecm create <clustername> [OPTIONS]\n",
	}
	for name, want := range cases {
		code, stdout, stderr := sb.run("", "pvecm", "create", name)
		if code != 255 || stdout != "" || stderr != want {
			t.Errorf("create %q: exit %d, stdout %q, stderr:\n%s\nwant:\n%s", name, code, stdout, stderr, want)
		}
	}
	code, _, stderr := sb.run("", "pvecm", "create", "a", "b")
	if code != 255 || stderr != "400 too many arguments\npvecm create <clustername> [OPTIONS]\n" {
		t.Errorf("too many arguments: exit %d, stderr %q", code, stderr)
	}
	if sb.exists("/etc/pve/corosync.conf") {
		t.Errorf("a rejected create wrote corosync.conf")
	}
}

func TestStatusOutsideAClusterSaysSo(t *testing.T) {
	sb := newSandbox(t, t.TempDir(), "pve1", "198.51.100.11", "9.1.1")
	for _, cmd := range [][]string{{"status"}, {"nodes"}, {"expected", "1"}} {
		code, stdout, stderr := sb.run("", append([]string{"pvecm"}, cmd...)...)
		want := "Error: Corosync config '/etc/pve/corosync.conf' does not exist - is this node part of a cluster?\n"
		if code != 2 || stdout != "" || stderr != want {
			t.Errorf("pvecm %v: exit %d, stdout %q, stderr %q", cmd, code, stdout, stderr)
		}
	}
}

func TestStatusPrintsTheHeaderThenRunsQuorumtool(t *testing.T) {
	sb := newSandbox(t, t.TempDir(), "pve1", "198.51.100.11", "9.1.1")
	if code, _, stderr := sb.run("", "pvecm", "create", "demo"); code != 0 || stderr != "" {
		t.Fatalf("create: %d %s", code, stderr)
	}
	code, stdout, _ := sb.run("", "pvecm", "status")
	want := "Cluster information\n-------------------\nName:             demo\nConfig Version:   1\nTransport:        knet\nSecure auth:      on\n\nquorumtool -siH\n"
	if code != 0 || stdout != want {
		t.Errorf("status: exit %d, stdout:\n%s\nwant:\n%s", code, stdout, want)
	}
	sb.write("/fake/quorumtool.rc", "2")
	if code, stdout, _ := sb.run("", "pvecm", "nodes"); code != 2 || stdout != "quorumtool -l\n" {
		t.Errorf("nodes: exit %d, stdout %q (want quorumtool's exit code 2)", code, stdout)
	}
	if code, _, _ := sb.run("", "pvecm", "apiver"); code != 0 {
		t.Errorf("apiver exit %d", code)
	}
}
