package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOverlapsLab(t *testing.T) {
	for p, want := range map[string]bool{
		"192.0.2.0/24": false, "198.51.100.0/24": true, "198.51.100.7/32": true, "198.51.0.0/16": true,
		"203.0.113.128/25": true, "10.0.0.0/8": false, "0.0.0.0/1": false, "128.0.0.0/1": true,
	} {
		if got := overlapsLab(netip.MustParsePrefix(p)); got != want {
			t.Errorf("overlapsLab(%s) = %v", p, got)
		}
	}
}

func TestOptionsRejectBadInput(t *testing.T) {
	for _, o := range []Options{{Name: "Bad"}, {Name: "toolongname"}, {Hosts: 16}, {Hosts: -1}, {Links: 3}} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestGeneratedFiles compares what a lab writes with testdata (go test -update rewrites).
func TestGeneratedFiles(t *testing.T) {
	s := &state{Name: "demo", Dir: "/work/main/.lab", Password: "pw", Links: 2}
	for _, h := range machinesFor(2, 2, true) {
		s.Machines = append(s.Machines, machineState{Host: h, Links: linksOf(h), Keys: []string{"ssh-ed25519 AAAA" + h.Name}})
	}
	all := []Host{}
	for _, m := range s.Machines {
		all = append(all, m.Host)
	}
	got := map[string]string{
		"cluster.yaml":    clusterYAML(s),
		"known_hosts":     knownHosts(s),
		"hosts.pve1":      hostsFile(s.Machines[1].Host, all, ""),
		"hosts.ctl":       hostsFile(s.Machines[0].Host, all, ""),
		"interfaces.pve1": interfacesFile(s.Machines[1].Links, s.Machines[1].Addrs, linkShape{}),
		"interfaces.pve1.wifi-mtu": interfacesFile(append([]linkState{{NIC: wifiIface, Bridge: "vmbr0"}}, s.Machines[1].Links[1:]...),
			s.Machines[1].Addrs, linkShape{wifi: true, mtu: 1400}),
		"interfaces.qnetd": interfacesFile(s.Machines[3].Links, s.Machines[3].Addrs, linkShape{}),
		"sshd_config.pve1": sshdConfig(s.Machines[1].Host),
		"chrony.conf.pve1": chronyConf(s.Machines[1].Host, s.Machines[0].Host),
		"chrony.conf.ctl":  chronyConf(s.Machines[0].Host, s.Machines[0].Host),
	}
	for name, content := range got {
		path := filepath.Join("testdata", "generated", name)
		if os.Getenv("UPDATE_GOLDEN") != "" {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (UPDATE_GOLDEN=1 go test -run TestGeneratedFiles writes it)", err)
		}
		if string(want) != content {
			t.Errorf("%s:\n--- got\n%s--- want\n%s", name, content, want)
		}
	}
}

func TestRootOverlaps(t *testing.T) {
	addrs := `[{"ifname":"lo","addr_info":[{"local":"127.0.0.1","prefixlen":8}]},
	{"ifname":"eth0","addr_info":[{"local":"192.0.2.2","prefixlen":24},{"local":"fd00::2","prefixlen":64}]}]`
	routes := `[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},{"dst":"192.0.2.0/24","dev":"eth0"}]`
	if got, err := rootOverlaps([]byte(addrs), []byte(routes)); err != nil || len(got) != 0 {
		t.Errorf("this machine's uplink: %q, %v", got, err)
	}
	addrs = `[{"ifname":"eth1","addr_info":[{"local":"198.51.100.7","prefixlen":24}]}]`
	routes = `[{"dst":"203.0.0.0/16","dev":"eth2"},{"dst":"203.0.113.9","dev":"eth3"}]`
	got, err := rootOverlaps([]byte(addrs), []byte(routes))
	if err != nil || len(got) != 3 {
		t.Errorf("overlapping root namespace: %q, %v", got, err)
	}
}

// TestUpRefusesOverlappingRanges runs Up (in the test binary) inside a fresh network
// namespace that has an address in the lab's range, standing in for a root namespace
// that overlaps: Up must refuse before it creates anything.
func TestUpRefusesOverlappingRanges(t *testing.T) {
	t.Parallel()
	needLab(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare missing")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("o%x", os.Getpid()%0x1000000)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c",
		`ip link set lo up && ip addr add 198.51.100.5/24 dev lo && exec "$@"`, "sh",
		"env", probeEnv+"=up", self, "-test.run=^$", name).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "refusing to start") || !strings.Contains(string(out), "address 198.51.100.5/24 on lo") {
		t.Errorf("Up with 198.51.100.5/24 in its namespace: %v\n%s", err, out)
	}
	if _, err := os.Stat(labDir(name)); err == nil {
		t.Errorf("the refused lab left %s", labDir(name))
	}
	if list, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(list), netnsName(name, "")) {
		t.Errorf("the refused lab left a network namespace:\n%s", list)
	}
}
