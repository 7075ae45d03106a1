package preflight

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/quorate/quorate/remote"
)

const memberConf = `[file /etc/pve/corosync.conf]
line=nodelist {
line=  node {
line=    name: pve1
line=    nodeid: 1
line=    quorum_votes: 1
line=    ring0_addr: 198.51.100.11
line=  }
line=  node {
line=    name: pve3
line=    nodeid: 3
line=    quorum_votes: 1
line=    ring0_addr: 198.51.100.13
line=  }
line=}
line=totem {
line=  cluster_name: %s
line=  config_version: 3
line=  interface {
line=    linknumber: 0
line=  }
line=}

[pve]
`

const quorumLines = `[quorum]
line=Quorum information
line=------------------
line=Nodes:            %[1]d
line=Node ID:          0x00000001
line=Quorate:          %[2]s
line=
line=Votequorum information
line=----------------------
line=Expected votes:   2
line=Total votes:      %[1]d
line=Quorum:           2
line=
line=Membership information
line=----------------------
line=    Nodeid      Votes Name
line=0x00000001          1 198.51.100.11 (local)

[pve]
`

// member makes the facts those of pve1 as a member of cluster name (whose nodelist also lists
// pve3), with corosync running.
func member(name string, quorate bool) func(string) string {
	return func(s string) string {
		s = strings.Replace(s, "file=absent /etc/pve/corosync.conf", "file=present /etc/pve/corosync.conf", 1)
		s = strings.Replace(s, "corosync=stopped", "corosync=running", 1)
		s = strings.Replace(s, "quorumtool=fail", "quorumtool=ok", 1)
		q := "Yes"
		votes := 2
		if !quorate {
			q, votes = "No", 1
		}
		return strings.Replace(s, "[time]\n", fmt.Sprintf(memberConf, name)+fmt.Sprintf(quorumLines, votes, q)+"[time]\n", 1)
	}
}

// Each scenario is one fault on one host (or one shape of the cluster): exactly the listed
// checks report it, on the listed node, and no other check says anything but pass.
func TestChecksScenarios(t *testing.T) {
	clean := func(t *testing.T) []fakeNode { return labNodes(t, 3) }
	edit := func(i int, edits ...func(string) string) func(*testing.T, []fakeNode) {
		return func(t *testing.T, ns []fakeNode) { ns[i-1].facts = labFacts(t, i, edits...) }
	}
	meshOf := func(m mesh) func(*testing.T, []fakeNode) {
		return func(t *testing.T, ns []fakeNode) {
			for i := range ns {
				if ns[i].dialErr == nil {
					ns[i].agent = m.out(i)
				}
			}
		}
	}
	for _, tt := range []struct {
		name    string
		nodes   int
		yaml    string
		opts    Options
		setup   []func(*testing.T, []fakeNode)
		want    []string
		message map[string]string // "check node" -> a part of its message or fix
	}{
		{name: "clean"},
		{name: "noisy login", setup: []func(*testing.T, []fakeNode){edit(2, func(s string) string { return "Welcome!\n" + s })}},
		{name: "unreachable", setup: []func(*testing.T, []fakeNode){func(t *testing.T, ns []fakeNode) {
			ns[2] = fakeNode{dialErr: fmt.Errorf("dial: %w", remote.ErrUnreachable)}
			meshOf(mesh{n: 3, skip: map[int]bool{2: true}})(t, ns)
		}}, want: []string{"ssh-access pve3 error"}, message: map[string]string{"ssh-access pve3": "port 22 is reachable"}},
		{name: "auth fails", setup: []func(*testing.T, []fakeNode){func(t *testing.T, ns []fakeNode) {
			ns[1] = fakeNode{dialErr: fmt.Errorf("dial: %w", remote.ErrAuth)}
			meshOf(mesh{n: 3, skip: map[int]bool{1: true}})(t, ns)
		}}, want: []string{"ssh-access pve2 error"}, message: map[string]string{"ssh-access pve2": "--password-env"}},
		{name: "not root", setup: []func(*testing.T, []fakeNode){edit(2, replace("uid=0", "uid=1000"), replace("user=root", "user=admin"))},
			want: []string{"ssh-access pve2 error"}, message: map[string]string{"ssh-access pve2": "as admin (uid 1000)"}},
		{name: "no PVE", setup: []func(*testing.T, []fakeNode){edit(3, replace("pveversion=pve-manager/9.1.1/42db4a6cf33dac83 (running kernel: 6.17.2-1-pve)\n", ""),
			inSection("host", "missing=pveversion\n"))},
			want: []string{"pve-installed pve3 error"}, message: map[string]string{"pve-installed pve3": "not a Proxmox VE host"}},
		{name: "hostname on 127.0.1.1", setup: []func(*testing.T, []fakeNode){edit(3, replace("addr=198.51.100.13\n[addresses]", "addr=127.0.1.1\n[addresses]"))},
			want:    []string{"hostname-resolves pve3 error"},
			message: map[string]string{"hostname-resolves pve3": `replace the 127.0.1.1 line by "198.51.100.13 pve3.lab.test pve3"`}},
		{name: "hostname foreign", setup: []func(*testing.T, []fakeNode){edit(3, replace("addr=198.51.100.13\n[addresses]", "addr=198.51.100.250\n[addresses]"))},
			want: []string{"hostname-resolves pve3 error"}, message: map[string]string{"hostname-resolves pve3": "198.51.100.250"}},
		{name: "pmxcfs down", setup: []func(*testing.T, []fakeNode){edit(2, replace("pmxcfs=mounted", "pmxcfs=unmounted"))},
			want: []string{"pve-installed pve2 error"}},
		{name: "node name", setup: []func(*testing.T, []fakeNode){edit(2, replace("nodename=pve2", "nodename=pve9"))},
			want: []string{"node-name pve2 error"}, message: map[string]string{"node-name pve2": "cluster.yaml:"}},
		{name: "link address not local", yaml: strings.Replace(labYAML(3, ""), "address: 198.51.100.12\n", "address: 198.51.100.12\n    links: [198.51.100.99]\n", 1),
			setup: []func(*testing.T, []fakeNode){func(t *testing.T, ns []fakeNode) {
				ns[1].agent = "quorate-probe v1 me=1\nbind 0 error 198.51.100.99 5405 Cannot assign requested address\n" +
					"tcp 0 198.51.100.11 22 ok 0.3\ntcp 0 198.51.100.11 8006 ok 0.3\ntcp 2 198.51.100.13 22 ok 0.3\ntcp 2 198.51.100.13 8006 ok 0.3\nend 1\n"
			}},
			want: []string{"corosync-udp pve2 warning", "link-addresses pve2 error"}},
		{name: "guests", setup: []func(*testing.T, []fakeNode){edit(2, inSection("pve", "vm=100\nct=101\n"))},
			want: []string{"guests pve2 error"}, message: map[string]string{"guests pve2": "VM 100, CT 101"}},
		{name: "guests on the creator", setup: []func(*testing.T, []fakeNode){edit(1, inSection("pve", "vm=100\n"))}},
		{name: "foreign cluster", setup: []func(*testing.T, []fakeNode){edit(3, member("foreign", true))},
			want: []string{"cluster-membership pve3 error"}, message: map[string]string{"cluster-membership pve3": `"foreign"`}},
		{name: "half-joined", setup: []func(*testing.T, []fakeNode){edit(3, replace("file=absent /etc/corosync/authkey", "file=present /etc/corosync/authkey"),
			replace("corosync=stopped", "corosync=running"))},
			want: []string{"cluster-membership pve3 error"}, message: map[string]string{"cluster-membership pve3": "authkey and corosync running"}},
		{name: "member, joins go through it", setup: []func(*testing.T, []fakeNode){edit(1, member("demo", true)), edit(3, member("demo", true), replace("nodeid: 1\nline=    quorum_votes: 1\nline=    ring0_addr: 198.51.100.11", "nodeid: 1\nline=    quorum_votes: 1\nline=    ring0_addr: 198.51.100.11"))}},
		{name: "reinstalled", setup: []func(*testing.T, []fakeNode){edit(1, member("demo", true))},
			want: []string{"cluster-membership pve3 error"}, message: map[string]string{"cluster-membership pve3": "quorate rebuild pve3"}},
		{name: "member not quorate", nodes: 2, setup: []func(*testing.T, []fakeNode){edit(1, member("demo", false))},
			want: []string{"cluster-membership pve1 error", "node-count cluster warning"}},
		{name: "no time service", setup: []func(*testing.T, []fakeNode){edit(2, func(s string) string {
			i, j := strings.Index(s, "[time]\n"), strings.Index(s, "[ssh]\n")
			return s[:i+7] + s[j:]
		})}, want: []string{"time-sync pve2 warning"}},
		{name: "wifi", setup: []func(*testing.T, []fakeNode){edit(3, replace("wireless=0\nphysical=1\nmaster=vmbr0", "wireless=1\nphysical=1\nmaster=vmbr0"))},
			want: []string{"link-interface pve3 warning"}, message: map[string]string{"link-interface pve3": "Wi-Fi"}},
		{name: "half duplex", setup: []func(*testing.T, []fakeNode){edit(3, replace("duplex=full", "duplex=half"))},
			want: []string{"link-interface pve3 warning"}, message: map[string]string{"link-interface pve3": "eno1 runs half duplex"}},
		{name: "dhcp", setup: []func(*testing.T, []fakeNode){edit(2, replace("iface vmbr0 inet static", "iface vmbr0 inet dhcp"))},
			want: []string{"dhcp-address pve2 warning"}},
		{name: "mtu 1400", setup: []func(*testing.T, []fakeNode){edit(3, replace("mtu=1500", "mtu=1400"))},
			want: []string{"mtu pve3 warning"}, message: map[string]string{"mtu pve3": "MTU 1400 on pve3, 1500 on pve1 and pve2"}},
		{name: "same host keys", setup: []func(*testing.T, []fakeNode){func(t *testing.T, ns []fakeNode) {
			ns[2].facts = strings.ReplaceAll(ns[2].facts, "SHA256:3", "SHA256:2")
			ns[2].hostKey = ns[1].hostKey
		}}, want: []string{"unique-identity pve2 warning", "unique-identity pve3 warning"}},
		{name: "same machine-id", setup: []func(*testing.T, []fakeNode){edit(3, replace("machine_id=3", "machine_id=2"))},
			want: []string{"unique-identity pve2 warning", "unique-identity pve3 warning"}},
		{name: "another major version", setup: []func(*testing.T, []fakeNode){edit(3, replace("pve-manager/9.1.1/", "pve-manager/8.4.1/"))},
			want: []string{"versions pve3 error"}},
		{name: "another minor version", setup: []func(*testing.T, []fakeNode){edit(1, replace("pve-manager/9.1.1/", "pve-manager/9.0.5/"))},
			want: []string{"versions pve1 warning"}},
		{name: "corosync udp dropped on pve2", setup: []func(*testing.T, []fakeNode){
			meshOf(mesh{n: 3, blocked: map[[2]int]bool{{0, 1}: true, {1, 0}: true, {2, 1}: true, {1, 2}: true}}),
			edit(2, inSection("firewall", "rule=nft inet/qlab_udp_drop input input udp dport 5405-5412 drop\n")),
		}, want: []string{"corosync-udp pve2 error", "firewall pve2 warning"},
			message: map[string]string{"corosync-udp pve2": "does not arrive from pve1 and pve3"}},
		{name: "corosync udp blocked by something outside", setup: []func(*testing.T, []fakeNode){
			meshOf(mesh{n: 3, blocked: map[[2]int]bool{{0, 2}: true, {1, 2}: true}}),
		}, want: []string{"corosync-udp pve3 error"}, message: map[string]string{"corosync-udp pve3": "let UDP 5405-5412 pass"}},
		{name: "8006 dropped on the joiner", setup: []func(*testing.T, []fakeNode){meshOf(mesh{n: 3, tcp: func(from, to, port int) string {
			if from == 1 && port == 8006 {
				return "timeout"
			}
			return "ok"
		}})}, want: []string{"api-port pve2 error"}},
		{name: "8006 dropped on the target", setup: []func(*testing.T, []fakeNode){meshOf(mesh{n: 3, tcp: func(from, to, port int) string {
			if to == 0 && port == 8006 {
				return "timeout"
			}
			return "ok"
		}})}, want: []string{"api-port pve1 error"}},
		{name: "pveproxy down", setup: []func(*testing.T, []fakeNode){meshOf(mesh{n: 3, tcp: func(from, to, port int) string {
			if to == 0 && port == 8006 {
				return "refused"
			}
			return "ok"
		}})}, want: []string{"api-port pve1 error"}, message: map[string]string{"api-port pve1": "systemctl restart pveproxy"}},
		{name: "ssh between nodes blocked", setup: []func(*testing.T, []fakeNode){meshOf(mesh{n: 3, tcp: func(from, to, port int) string {
			if to == 2 && port == 22 {
				return "timeout"
			}
			return "ok"
		}})}, want: []string{"api-port pve3 warning"}},
		{name: "15 ms delay on pve3", setup: []func(*testing.T, []fakeNode){meshOf(mesh{n: 3, rttUS: func(a, b int) []int {
			if a == 2 || b == 2 {
				return []int{30500, 30600, 30400, 31000, 30500, 30700}
			}
			return []int{300, 310, 290, 305}
		}})}, want: []string{"latency pve3 warning"}},
		{name: "latency above 10 ms with 5 nodes", nodes: 5, setup: []func(*testing.T, []fakeNode){meshOf(mesh{n: 5, rttUS: func(a, b int) []int {
			if a == 4 || b == 4 {
				return []int{20500, 20600, 20400}
			}
			return []int{300, 310, 290}
		}})}, want: []string{"latency pve5 error"}},
		{name: "latency between two nodes", nodes: 2, yaml: labYAML(2, "qdevice:\n  address: 198.51.100.50\n"), setup: []func(*testing.T, []fakeNode){meshOf(mesh{n: 2, rttUS: func(a, b int) []int {
			return []int{7000, 7100}
		}})}, want: []string{"latency pve1 warning", "latency pve2 warning"}},
		{name: "clock 5 s ahead", setup: []func(*testing.T, []fakeNode){func(t *testing.T, ns []fakeNode) { ns[2].offsetMS = 5003 }},
			want: []string{"clock-offset pve3 error"}},
		{name: "clock 200 ms behind", setup: []func(*testing.T, []fakeNode){func(t *testing.T, ns []fakeNode) { ns[0].offsetMS = -200 }},
			want: []string{"clock-offset pve1 warning"}, message: map[string]string{"clock-offset pve1": "behind"}},
		{name: "no perl", setup: []func(*testing.T, []fakeNode){func(t *testing.T, ns []fakeNode) { ns[1].agent = "" }},
			want: []string{"api-port pve2 warning", "corosync-udp pve2 warning"}},
		{name: "one node", nodes: 1, want: []string{"node-count cluster warning"}},
		{name: "two nodes", nodes: 2, want: []string{"node-count cluster warning"}, message: map[string]string{"node-count cluster": "QDevice"}},
		{name: "two nodes and a qdevice", nodes: 2, yaml: labYAML(2, "qdevice:\n  address: 198.51.100.50\n")},
		{name: "four nodes", nodes: 4, want: []string{"node-count cluster warning"}},
		{name: "ignored", opts: Options{Ignore: []string{"guests"}}, setup: []func(*testing.T, []fakeNode){edit(2, inSection("pve", "vm=100\n"))},
			want: []string{"guests pve2 warning"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.nodes
			if n == 0 {
				n = 3
			}
			yaml := tt.yaml
			if yaml == "" {
				yaml = labYAML(n, "")
			}
			ns := clean(t)
			if n != 3 {
				ns = labNodes(t, n)
			}
			for _, s := range tt.setup {
				s(t, ns)
			}
			e := buildEnv(t, parseInv(t, yaml), ns, tt.opts)
			fs := e.findings()
			if got := verdicts(fs); !slices.Equal(got, tt.want) {
				t.Errorf("findings that are not a pass:\n  %s\nwant:\n  %s\nall:\n%s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "), dump(fs))
			}
			for key, part := range tt.message {
				found := false
				for _, f := range fs {
					node := f.Node
					if node == "" {
						node = "cluster"
					}
					if f.Check+" "+node == key && f.Severity != Pass && (strings.Contains(f.Message, part) || strings.Contains(f.Fix, part)) {
						found = true
					}
				}
				if !found {
					t.Errorf("no %s finding saying %q:\n%s", key, part, dump(fs))
				}
			}
			for _, f := range fs {
				if f.Message == "" || (f.Severity != Pass && f.Fix == "") {
					t.Errorf("finding without a message or a fix: %+v", f)
				}
				if f.Severity == Warning && f.Ignored != slices.Contains(tt.opts.Ignore, f.Check) {
					t.Errorf("ignored %v: %+v", f.Ignored, f)
				}
			}
		})
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s %s: %s | %s\n", f.Check, f.Node, f.Severity, f.Message, f.Fix)
	}
	return b.String()
}

// Every check yields a finding for every node it ran on, so that the table has no hole
// where a check was quiet.
func TestEveryCheckSpeaks(t *testing.T) {
	e := buildEnv(t, parseInv(t, labYAML(3, "")), labNodes(t, 3), Options{})
	fs := e.findings()
	for _, c := range Checks() {
		for _, node := range []string{"pve1", "pve2", "pve3"} {
			if !slices.ContainsFunc(fs, func(f Finding) bool { return f.Check == c && (f.Node == node || f.Node == "") }) {
				t.Errorf("no %s finding for %s", c, node)
			}
		}
	}
}

func TestValidateIgnore(t *testing.T) {
	if err := ValidateIgnore([]string{"guests", "latency"}); err != nil {
		t.Error(err)
	}
	err := ValidateIgnore([]string{"guest", "latency", "nope"})
	if !errors.Is(err, ErrUnknownCheck) || !strings.Contains(err.Error(), `"guest"`) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("error %v", err)
	}
	if _, err := Run(t.Context(), parseInv(t, labYAML(1, "")), nil, Options{Ignore: []string{"x"}}); !errors.Is(err, ErrUnknownCheck) {
		t.Errorf("Run: %v", err)
	}
	names := Checks()
	if len(names) != 20 || names[0] != "ssh-access" || names[19] != "ip-family" {
		t.Errorf("checks %v", names)
	}
}
