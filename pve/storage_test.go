package pve

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/pve/pvetest"
)

// storageLine is one storage as a test states it: id type shared servers where.
func storageLine(s Storage) string {
	shared := "local"
	if s.Shared {
		shared = "shared"
	}
	if s.Disabled {
		shared += ",disabled"
	}
	out := fmt.Sprintf("%s %s %s servers=%s where=%q content=%s", s.ID, s.Type, shared, strings.Join(s.Servers, ","), s.Where, strings.Join(s.Content, ","))
	if len(s.Nodes) > 0 {
		out += " nodes=" + strings.Join(s.Nodes, ",")
	}
	return out
}

func TestParseStorageConfigGoldens(t *testing.T) {
	for _, tc := range []struct {
		golden  string
		want    []string
		ignored []int // line numbers of the golden's content (its source line not counted)
	}{
		{golden: "storage-default.cfg", want: []string{
			`local dir local servers= where="/var/lib/vz" content=iso,vztmpl,backup`,
			`local-lvm lvmthin local servers= where="pve data" content=rootdir,images`,
			`local-zfs zfspool local servers= where="rpool/data" content=images,rootdir`,
		}},
		{golden: "storage-mixed.cfg", want: []string{
			`iso-templates nfs shared servers=10.0.0.10 where="/space/iso-templates" content=iso,vztmpl`,
			`backup cifs shared servers=10.0.0.11 where="VMData" content=backup`,
			`ceph-external rbd shared servers=10.1.1.20,10.1.1.21,10.1.1.22 where="ceph-external" content=images`,
			`cephfs-external cephfs shared servers=10.1.1.20,10.1.1.21,10.1.1.22 where="cephfs /mnt/pve/cephfs-external" content=backup`,
			`backup-pbs pbs shared servers=enya.proxmox.com where="main" content=backup`,
			`mynas iscsi shared servers=10.10.10.1 where="iqn.2006-01.openfiler.com:tsn.dcb5aaaddd" content=none`,
			`ceph-vm rbd shared servers= where="ceph-vm" content=images,rootdir`,
			`shared-nfs-mount dir shared,disabled servers= where="/mnt/shared" content=images nodes=pve1,pve2`,
			`san6 iscsi shared servers=2001:db8::20 where="iqn.2003-01.org.example:san6" content=none`,
		}},
		{golden: "storage-no-blank-line.cfg", want: []string{
			`local dir local servers= where="/var/lib/vz" content=iso,vztmpl,backup`,
			`local-lvm lvmthin local servers= where="pve data" content=`,
		}, ignored: []int{4, 8}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			g := pvetest.Golden(t, tc.golden)
			cfg := ParseStorageConfig(g.Stdout)
			var got []string
			for _, s := range cfg.Storages {
				got = append(got, storageLine(s))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("storages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			var lines []int
			for _, ig := range cfg.Ignored {
				lines = append(lines, ig.LineNo)
			}
			if !slices.Equal(lines, tc.ignored) {
				t.Errorf("ignored lines %v (%+v), want %v", lines, cfg.Ignored, tc.ignored)
			}
		})
	}
}

func TestParseSectionConfigFlagsAndTabsOrSpaces(t *testing.T) {
	text := "zfspool: a\n\tsparse\n\tpool rpool/data\n\ndir: b\n    shared 0\n    path /x  \n"
	secs, ignored := ParseSectionConfig(text)
	if len(secs) != 2 || len(ignored) != 0 {
		t.Fatalf("sections %+v ignored %+v", secs, ignored)
	}
	if !secs[0].Flag("sparse") || secs[1].Flag("shared") {
		t.Errorf("flags: sparse %v shared %v", secs[0].Flag("sparse"), secs[1].Flag("shared"))
	}
	if v, _ := secs[1].Get("path"); v != "/x" {
		t.Errorf("trailing blanks kept: %q", v)
	}
	if secs[1].Line != 5 {
		t.Errorf("line of b: %d", secs[1].Line)
	}
}

func TestParseDatacenterConfig(t *testing.T) {
	d := ParseDatacenterConfig(pvetest.Golden(t, "datacenter-migration.cfg").Stdout)
	if d.MigrationType != "secure" || d.MigrationNetwork != netip.MustParsePrefix("10.1.2.0/24") || d.Values["keyboard"] != "en-us" || len(d.Ignored) != 0 {
		t.Errorf("migration golden: %+v", d)
	}
	old := ParseDatacenterConfig(pvetest.Golden(t, "datacenter-old.cfg").Stdout)
	if old.MigrationType != "insecure" || old.MigrationNetwork.IsValid() || len(old.Ignored) != 1 || old.Ignored[0].LineNo != 3 {
		t.Errorf("old golden: %+v", old)
	}
	for text, want := range map[string]string{
		"migration: type=insecure,network=10.9.0.7/16": "insecure 10.9.0.0/16",
		"migration: network=fd00::/64,type=secure":     "secure fd00::/64",
		"migration: secure":                            "secure invalid Prefix",
		"migration: insecure,network=banana":           "insecure invalid Prefix",
	} {
		d := ParseDatacenterConfig(text)
		if got := d.MigrationType + " " + d.MigrationNetwork.String(); got != want {
			t.Errorf("%q: %s, want %s", text, got, want)
		}
	}
}

func TestParseHAResources(t *testing.T) {
	rs, ignored := ParseHAResources(pvetest.Golden(t, "ha-resources.cfg").Stdout)
	if len(rs) != 2 || rs[0] != (HAResource{ID: "vm:501", State: "started"}) || rs[1] != (HAResource{ID: "ct:102", State: "started"}) || len(ignored) != 0 {
		t.Errorf("resources %+v ignored %+v", rs, ignored)
	}
}

func TestParseCephMonHosts(t *testing.T) {
	got := ParseCephMonHosts(pvetest.Golden(t, "ceph-pve.conf").Stdout)
	if want := []string{"192.0.2.11", "192.0.2.12", "192.0.2.13"}; !slices.Equal(got, want) {
		t.Errorf("monitors %v, want %v", got, want)
	}
	v2 := ParseCephMonHosts("[global]\nmon host = [v2:192.0.2.1:3300/0,v1:192.0.2.1:6789/0] [v2:192.0.2.2:3300/0,v1:192.0.2.2:6789/0]\n")
	if want := []string{"192.0.2.1", "192.0.2.2"}; !slices.Equal(v2, want) {
		t.Errorf("messenger v2 list %v, want %v", v2, want)
	}
}

func TestParseHealthLab(t *testing.T) {
	h, err := ParseHealth(pvetest.Golden(t, "health-lab.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if h.Services["corosync"] != "active" || h.Services["pve-cluster"] != "active" || h.RuntimeConfigVersion != 3 {
		t.Errorf("services %v runtime version %d", h.Services, h.RuntimeConfigVersion)
	}
	if h.Storage == nil || len(h.Storage.Storages) != 3 || h.Storage.Storages[2].Servers[0] != "198.51.100.100" {
		t.Errorf("storage %+v", h.Storage)
	}
	if h.Datacenter == nil || h.Datacenter.MigrationNetwork.String() != "198.51.100.0/24" {
		t.Errorf("datacenter %+v", h.Datacenter)
	}
	if h.HAConfigured || h.CephConf || h.HAResources != nil || h.CephMonHosts != nil {
		t.Errorf("absent files read as present: %+v", h)
	}
}

func TestParseHealthRefusesCutShortOutput(t *testing.T) {
	_, err := ParseHealth(pvetest.Golden(t, "health-cut.txt").Stdout)
	if err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("cut-short output: %v", err)
	}
	if _, err := ParseHealth("Welcome!\n" + pvetest.Golden(t, "health-lab.txt").Stdout); err != nil {
		t.Errorf("a noisy login before the header: %v", err)
	}
}

func TestHealthSendsTheScriptOnStdin(t *testing.T) {
	r := newRunner(t)
	r.On("sh -s").WantStdin(healthScript).ReplyGolden("health-lab.txt").Required()
	h, err := NewNode(r).Health(context.Background())
	if err != nil || h.RuntimeConfigVersion != 3 {
		t.Fatalf("Health: %+v, %v", h, err)
	}
}

func TestParseRoutesLab(t *testing.T) {
	routes, err := ParseRoutes(pvetest.Golden(t, "routes-lab.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, fmt.Sprintf("%s %s dev=%s src=%s local=%v err=%q", r.Host, r.Addr, r.Dev, r.Src, r.Local, r.Error))
	}
	want := []string{
		`198.51.100.11 198.51.100.11 dev=lo src=198.51.100.11 local=true err=""`,
		`198.51.100.100 198.51.100.100 dev=vmbr0 src=198.51.100.11 local=false err=""`,
		`nosuch.example  dev= src= local=false err="does not resolve"`,
		`10.9.9.9 10.9.9.9 dev= src= local=false err="RTNETLINK answers: Network is unreachable"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cut := pvetest.Golden(t, "routes-lab.txt").Stdout
	if _, err := ParseRoutes(cut[:strings.Index(cut, "[host 10.9.9.9]")]); err == nil {
		t.Error("routes cut short accepted")
	}
}

func TestRoutesToQuotesAndRefusesHosts(t *testing.T) {
	r := newRunner(t)
	r.On("sh -s -- 198.51.100.100 nas.example").WantStdin(routesScript).ReplyGolden("routes-lab.txt").Required()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := NewNode(r).RoutesTo(ctx, []string{"198.51.100.100", "nas.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewNode(r).RoutesTo(ctx, []string{"x; rm -rf /"}); err == nil {
		t.Error("a host that is neither an address nor a name was sent")
	}
}

func TestUnreadableStatus(t *testing.T) {
	for _, tc := range []struct {
		golden string
		cut    func(string) string
		want   string // "" when readable
	}{
		{golden: "pvecm-status-quorate.txt", cut: func(s string) string { return s }},
		{golden: "pvecm-status-cut-rows.txt", cut: func(s string) string { return s }, want: "without rows"},
		{golden: "pvecm-status-no-nodeid.txt", cut: func(s string) string { return s }, want: "Node ID"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			st, err := ParseQuorumStatus(tc.cut(pvetest.Golden(t, tc.golden).Stdout))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = st.Unreadable()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("complete status called unreadable: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Unreadable() = %v, want %q", err, tc.want)
			}
		})
	}
	if err := (ClusterStatus{State: NotInCluster}).Unreadable(); err != nil {
		t.Errorf("standalone: %v", err)
	}
}

func FuzzParseSectionConfig(f *testing.F) {
	seed(f, "storage-*.cfg", "ha-*.cfg")
	f.Fuzz(func(t *testing.T, s string) {
		secs, _ := ParseSectionConfig(s)
		for _, sec := range secs {
			if sec.Type == "" || sec.ID == "" || strings.ContainsAny(sec.Type+sec.ID, " \t\n") {
				t.Errorf("section %q %q", sec.Type, sec.ID)
			}
			for _, p := range sec.Props {
				if p.Key == "" || strings.ContainsAny(p.Key, " \t\n") {
					t.Errorf("property key %q", p.Key)
				}
			}
		}
		cfg := ParseStorageConfig(s)
		if len(cfg.Storages) != len(secs) {
			t.Errorf("%d storages of %d sections", len(cfg.Storages), len(secs))
		}
		for _, st := range cfg.Storages {
			for _, srv := range st.Servers {
				if srv == "" || strings.ContainsAny(srv, " \t,;") {
					t.Errorf("server %q", srv)
				}
			}
		}
	})
}

func FuzzParseDatacenterConfig(f *testing.F) {
	seed(f, "datacenter-*.cfg")
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseDatacenterConfig(s)
		if d.MigrationNetwork.IsValid() && d.MigrationNetwork != d.MigrationNetwork.Masked() {
			t.Errorf("network %s not masked", d.MigrationNetwork)
		}
		_ = ParseCephMonHosts(s)
	})
}

func FuzzParseHealth(f *testing.F) {
	seed(f, "health-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHealth(s)
		if err == nil && !strings.Contains(s, healthEnd) {
			t.Error("accepted without the end line")
		}
		if err == nil && h.RuntimeConfigVersion < 0 {
			t.Errorf("config version %d", h.RuntimeConfigVersion)
		}
	})
}

func FuzzParseRoutes(f *testing.F) {
	seed(f, "routes-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		routes, err := ParseRoutes(s)
		for _, r := range routes {
			if err == nil && r.Local && r.Dev == "" {
				t.Errorf("a local route without its device: %+v", r)
			}
		}
	})
}
