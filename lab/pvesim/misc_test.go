package pvesim

import (
	"strings"
	"testing"
)

func TestCorosyncConfRoundTrip(t *testing.T) {
	text := "totem {\n  version: 2\n  cluster_name: x\n  interface {\n    linknumber: 1\n  }\n  interface {\n    linknumber: 0\n  }\n}\n\nnodelist {\n  node {\n    ring0_addr: 10.0.0.2\n    name: b\n    nodeid: 2\n  }\n  node {\n    name: a\n    nodeid: 1\n  }\n}\n"
	conf, err := ParseCorosyncConf(text)
	if err != nil {
		t.Fatal(err)
	}
	want := "nodelist {\n  node {\n    name: a\n    nodeid: 1\n  }\n  node {\n    name: b\n    nodeid: 2\n    ring0_addr: 10.0.0.2\n  }\n}\n\ntotem {\n  cluster_name: x\n  interface {\n    linknumber: 0\n  }\n  interface {\n    linknumber: 1\n  }\n  version: 2\n}\n\n"
	if got := conf.Format(); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
	if _, err := ParseCorosyncConf("totem {\n"); err == nil {
		t.Error("unbalanced braces accepted")
	}
}

func TestUsageErrors(t *testing.T) {
	sb := newSandbox(t, t.TempDir(), "pve1", "198.51.100.11", "7.3-3")
	cases := []struct {
		argv   []string
		stderr string
	}{
		{[]string{"pvecm", "add", "a", "b"}, "400 too many arguments\npvecm add <hostname> [OPTIONS]\n"},
		{[]string{"pvecm", "create", "demo", "--token-coefficient", "125"}, "Unknown option: token-coefficient\n400 unable to parse option\npvecm create <clustername> [OPTIONS]\n"},
		{[]string{"pvecm", "delnode", "198.51.100.12"}, "400 Parameter verification failed.\nnode: invalid format - value does not look like a valid node name\n\npvecm delnode <node>\n"},
		{[]string{"pvecm", "delnode", "pve1"}, "Cannot delete myself from cluster!\n"},
		{[]string{"pvecm", "keygen", "/etc/pvesim/host.json"}, "key file '/etc/pvesim/host.json' already exists\n"},
	}
	for _, tc := range cases {
		code, stdout, stderr := sb.run("", tc.argv...)
		if code != 255 || stdout != "" || stderr != tc.stderr {
			t.Errorf("%v: exit %d, stdout %q\nstderr %q\nwant   %q", tc.argv, code, stdout, stderr, tc.stderr)
		}
	}
	if code, stdout, _ := sb.run("", "pvecm", "apiver"); code != 0 || stdout != "1\n" {
		t.Errorf("apiver: %d %q", code, stdout)
	}
}

func TestDelnodeAndAddnodeOnTheClusterSide(t *testing.T) {
	m := newMember(t, t.TempDir())
	code, stdout, stderr := m.run("", "pvecm", "addnode", "pve2", "--new_node_ip", "198.51.100.12", "--apiversion", "1")
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("addnode: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = m.run("", "pvecm", "addnode", "pve2", "--force", "1", "--new_node_ip", "198.51.100.12")
	if code != 0 || stdout != "forcing overwrite of configured node 'pve2'\n" {
		t.Errorf("forced addnode: %d %q %q", code, stdout, stderr)
	}
	code, _, stderr = m.run("", "pvecm", "addnode", "pve3", "--link0", "198.51.100.12")
	if code != 255 || stderr != "corosync: address '198.51.100.12' already used on link ring0_addr by node 'pve2'\n" {
		t.Errorf("duplicate address: %d %q", code, stderr)
	}
	code, _, stderr = m.run("", "pvecm", "addnode", "pve3", "--link0", "198.51.100.13", "--link1", "203.0.113.13")
	if code != 255 || stderr != "corosync: link 1 specified for new node doesn't exist in cluster config\n" {
		t.Errorf("extra link: %d %q", code, stderr)
	}
	code, stdout, stderr = m.run("", "pvecm", "delnode", "pve2")
	if code != 0 || stdout != "cfgtool -k 2\n" || stderr != "" {
		t.Errorf("delnode: %d %q %q", code, stdout, stderr)
	}
	conf := m.read("/etc/pve/corosync.conf")
	if strings.Contains(conf, "pve2") || !strings.Contains(conf, "config_version: 4\n") {
		t.Errorf("after delnode:\n%s", conf)
	}
	code, _, stderr = m.run("", "pvecm", "delnode", "pve2")
	if code != 255 || stderr != "Node/IP: pve2 is not a known host of the cluster.\n" {
		t.Errorf("second delnode: %d %q", code, stderr)
	}
}

func TestUpdatecerts(t *testing.T) {
	m := newMember(t, t.TempDir())
	before := m.read("/etc/pve/nodes/pve1/pve-ssl.pem")
	code, stdout, stderr := m.run("", "pvecm", "updatecerts", "--force")
	if code != 0 || stderr != "" || stdout != "(re)generate node files\ngenerate new node certificate\nmerge authorized SSH keys\n" {
		t.Errorf("updatecerts --force: %d %q %q", code, stdout, stderr)
	}
	if m.read("/etc/pve/nodes/pve1/pve-ssl.pem") == before {
		t.Error("--force kept the old certificate")
	}
	if code, stdout, _ := m.run("", "pvecm", "updatecerts", "--silent"); code != 0 || stdout != "" {
		t.Errorf("updatecerts --silent: %d %q", code, stdout)
	}
}

func TestSystemctlUnknownUnits(t *testing.T) {
	sb := newSandbox(t, t.TempDir(), "pve1", "198.51.100.11", "9.1.1")
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"start", "nginx"}, 5, "", "Failed to start nginx.service: Unit nginx.service not found.\n"},
		{[]string{"restart", "nginx.service"}, 5, "", "Failed to restart nginx.service: Unit nginx.service not found.\n"},
		{[]string{"status", "nginx"}, 4, "", "Unit nginx.service could not be found.\n"},
		{[]string{"is-active", "nginx"}, 3, "inactive\n", ""},
		{[]string{"is-active", "pvedaemon"}, 0, "active\n", ""},
	}
	for _, tc := range cases {
		code, stdout, stderr := sb.run("", append([]string{"systemctl"}, tc.args...)...)
		if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
			t.Errorf("systemctl %v: %d %q %q", tc.args, code, stdout, stderr)
		}
	}
}
