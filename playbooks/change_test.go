package playbooks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/pve/pvetest"
)

func tarGz(t *testing.T, entries map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		body := entries[name]
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Size, h.Mode = tar.TypeDir, 0, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestUnpackUnder(t *testing.T) {
	data := tarGz(t, map[string]string{
		"etc/pve/corosync.conf":                    "totem {}\n",
		"etc/pve/nodes/pve2/":                      "",
		"etc/pve/nodes/pve2/qemu-server/100.conf":  "name: vm100\n",
		"etc/pve/nodes/pve20/qemu-server/200.conf": "not pve2's\n",
		"etc/pve/priv/authorized_keys":             "ssh-rsa AAAA root@pve1\n",
	})
	dir := t.TempDir()
	n, err := unpackUnder(data, "etc/pve/nodes/pve2/", dir)
	if err != nil || n != 2 {
		t.Fatalf("unpackUnder: %d entries, %v; want the directory and one file", n, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "qemu-server", "100.conf")); string(got) != "name: vm100\n" {
		t.Errorf("100.conf: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "pve20")); err == nil {
		t.Error("another node's directory was unpacked")
	}
	all := t.TempDir()
	if n, err := unpackUnder(data, "", all); err != nil || n != 5 {
		t.Errorf("everything: %d, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(all, "etc", "pve", "priv", "authorized_keys")); err != nil {
		t.Errorf("files keep their paths: %v", err)
	}
	evil := tarGz(t, map[string]string{"../../escape": "x"})
	if _, err := unpackUnder(evil, "", t.TempDir()); err == nil {
		t.Error("an entry outside the directory was accepted")
	}
}

func TestChangeBackupsCoverWhatEachStepChanges(t *testing.T) {
	for _, tc := range []struct {
		step bootstrap.ChangeStep
		on   string
		want []string
	}{
		{bootstrap.ChangeStep{Step: bootstrap.Step{Kind: bootstrap.StepDelNode, Node: "pve2", Through: "pve1"}}, "pve1",
			[]string{"/etc/pve/corosync.conf", "/etc/pve/nodes/pve2", "/etc/pve/priv/authorized_keys"}},
		{bootstrap.ChangeStep{Step: bootstrap.Step{Kind: bootstrap.StepCleanup, Node: "pve2", Through: "pve1"}}, "pve1",
			[]string{"/etc/pve/nodes/pve2", "/etc/pve/priv/known_hosts"}},
		{bootstrap.ChangeStep{Step: bootstrap.Step{Kind: bootstrap.StepJoin, Node: "pve2", Through: "pve1"}}, "pve2",
			[]string{"/etc/corosync/authkey", "/var/lib/pve-cluster/config.db"}},
		{bootstrap.ChangeStep{Step: bootstrap.Step{Kind: bootstrap.StepQDeviceSetup, Node: "pve1"}}, "pve1",
			[]string{"/etc/pve/corosync.conf", "/etc/corosync/qdevice"}},
		{bootstrap.ChangeStep{Step: bootstrap.Step{Kind: bootstrap.StepSeparate, Node: "pve3"}}, "pve3",
			[]string{"/etc/corosync", "/var/lib/pve-cluster/config.db"}},
	} {
		if got := tc.step.RunsOn(); got != tc.on {
			t.Errorf("%s runs on %s, want %s", tc.step.Kind, got, tc.on)
		}
		got := changeBackups(tc.step)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s backs up %v, not %s", tc.step.Kind, got, w)
			}
		}
	}
}

// TestLearnTheClusterFromAMember: the view comes from the quorate member's corosync.conf
// and status: the nodelist with node ids and votes, who is online, listed, reachable, and
// the QDevice.
func TestLearnTheClusterFromAMember(t *testing.T) {
	conf := pvetest.Golden(t, "corosync-qdevice.conf").Stdout
	inv := &inventory.Inventory{File: "cluster.yaml", Cluster: inventory.Cluster{Name: "demo"},
		Nodes:   []inventory.Node{{Name: "pve1"}, {Name: "pve2"}},
		QDevice: &inventory.QDevice{Address: "198.51.100.50"}}
	st := &pve.ClusterStatus{State: pve.Quorate, Name: "demo", ConfigVersion: 3, Members: []pve.Member{
		{NodeID: 1, Name: "pve1", Online: true, Local: true}, {NodeID: 2, Name: "pve2"}, {NodeID: 3, Name: "pve3", Online: true}}}
	r := &changeRun{clusterRun: &clusterRun{inv: inv, nodes: map[string]*pve.Node{"pve1": pve.NewNode(pvetest.NewRunner(t, "pve1"))},
		seen: []bootstrap.Seen{
			{Node: "pve1", Facts: &pve.Facts{PVECorosyncConf: conf}, Status: st},
			{Node: "pve2", Err: errors.New("no route to host")},
		}}}
	r.learn()
	v := r.view
	if v.Name != "demo" || v.Through != "pve1" || !v.Quorate || v.WantQDevice != "198.51.100.50" || v.QDevice == nil || v.QDevice.Host != "198.51.100.50" {
		t.Errorf("view %+v", v)
	}
	var got []string
	for _, n := range v.Nodes {
		got = append(got, strings.Join([]string{n.Name, map[bool]string{true: "online", false: "offline"}[n.Online],
			map[bool]string{true: "listed", false: "unlisted"}[n.Listed], map[bool]string{true: "reachable", false: "unreachable"}[n.Reachable]}, " "))
	}
	want := []string{"pve1 online listed reachable", "pve2 offline listed unreachable", "pve3 online unlisted unreachable"}
	if !slices.Equal(got, want) {
		t.Errorf("nodes %q, want %q", got, want)
	}
	if len(v.Nodes) == 3 && (v.Nodes[2].NodeID != 3 || !slices.Equal(v.Nodes[2].Addrs, []string{"198.51.100.13", "203.0.113.13"})) {
		t.Errorf("pve3: %+v", v.Nodes[2])
	}
}

func TestAcceptHostKey(t *testing.T) {
	hk := HostKeyChange{Node: "pve2", Old: "SHA256:old", New: "SHA256:new", File: "known_hosts"}
	s := &Session{}
	for _, tc := range []struct {
		flag, how, reason string
	}{
		{AcceptAnyKey, "--accept-new-host-key pve2", ""},
		{"SHA256:new", "--accept-new-host-key pve2=SHA256:new", ""},
		{"SHA256:other", "", "names SHA256:other, not this key"},
		{"", "", "stdin is not a terminal"},
	} {
		how, err := s.acceptHostKey(RebuildRequest{Node: "pve2", AcceptHostKey: tc.flag}, hk)
		var na *HostKeyNotAcceptedError
		switch {
		case tc.reason == "" && (err != nil || how != tc.how):
			t.Errorf("%q: %q, %v; want %q", tc.flag, how, err, tc.how)
		case tc.reason != "" && (!errors.As(err, &na) || !strings.Contains(err.Error(), tc.reason)):
			t.Errorf("%q: %v, want a refusal saying %q", tc.flag, err, tc.reason)
		case tc.reason != "" && !strings.Contains(err.Error(), "SHA256:old") || tc.reason != "" && !strings.Contains(err.Error(), "--accept-new-host-key pve2"):
			t.Errorf("%q: the refusal lacks the fingerprints or the flag: %v", tc.flag, err)
		}
	}
}

func TestPreflightSubsetOfAnAdd(t *testing.T) {
	plan := bootstrap.ChangePlan{Steps: []bootstrap.ChangeStep{
		{Step: bootstrap.Step{Kind: bootstrap.StepQDeviceRemove, Node: "pve1", Members: []string{"pve1", "pve2"}}},
		{Step: bootstrap.Step{Kind: bootstrap.StepJoin, Node: "pve4", Through: "pve1", Members: []string{"pve1", "pve2", "pve4"}}},
	}}
	if got := planNodes(plan); !slices.Equal(got, []string{"pve1", "pve2", "pve4"}) {
		t.Errorf("planNodes %v", got)
	}
	inv := &inventory.Inventory{Nodes: []inventory.Node{{Name: "pve1"}, {Name: "pve2"}, {Name: "pve3"}, {Name: "pve4"}}}
	conns := &Conns{}
	for _, n := range inv.Nodes {
		conns.list = append(conns.list, &Conn{Target: Target{Name: n.Name}})
	}
	r := &changeRun{clusterRun: &clusterRun{inv: inv, conns: conns}}
	sub, sc := r.subset([]string{"pve4", "pve1", "pve2"})
	var names, connNames []string
	for i, n := range sub.Nodes {
		names = append(names, n.Name)
		connNames = append(connNames, sc.All()[i].Name)
	}
	if want := []string{"pve1", "pve2", "pve4"}; !slices.Equal(names, want) || !slices.Equal(connNames, want) || len(inv.Nodes) != 4 {
		t.Errorf("subset %v with connections %v (the file keeps %d nodes)", names, connNames, len(inv.Nodes))
	}
}
