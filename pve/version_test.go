package pve

import (
	"errors"
	"strings"
	"testing"

	"github.com/quorate/quorate/pve/pvetest"
)

func TestParseManagerVersion(t *testing.T) {
	tests := []struct {
		golden              string
		major, minor, patch int
		repo, kernel        string
	}{
		{"pveversion-9.txt", 9, 1, 1, "42db4a6cf33dac83", "6.17.2-1-pve"},
		{"pveversion-7.txt", 7, 3, 3, "c3928077", ""},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			mv, err := ParseManagerVersion(pvetest.Golden(t, tt.golden).Stdout)
			if err != nil {
				t.Fatal(err)
			}
			v := mv.Version
			if v.Major != tt.major || v.Minor != tt.minor || v.Patch != tt.patch || mv.RepoID != tt.repo || mv.Kernel != tt.kernel {
				t.Errorf("got %+v", mv)
			}
		})
	}
}

func TestParsePackageVersions(t *testing.T) {
	pv, err := ParsePackageVersions(pvetest.Golden(t, "pveversion-v-9.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if got := pv.Manager.Version.String(); got != "9.1.1" || pv.Manager.RepoID != "42db4a6cf33dac83" || pv.Manager.Kernel != "6.17.2-1-pve" {
		t.Errorf("manager = %+v", pv.Manager)
	}
	if v, ok := pv.Lookup("corosync"); !ok || v != "3.1.9-pve2" {
		t.Errorf("corosync = %q, %v", v, ok)
	}
	if len(pv.Packages) != 8 {
		t.Errorf("%d packages, want 8", len(pv.Packages))
	}

	old, err := ParsePackageVersions(pvetest.Golden(t, "pveversion-v-7.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if old.Manager.Version.Major != 7 || old.Manager.Version.Minor != 3 || old.Manager.Version.Patch != 3 || old.Manager.RepoID != "c3928077" {
		t.Errorf("old manager = %+v", old.Manager)
	}
	if v, _ := old.Lookup("pve-cluster"); v != "7.3-1" {
		t.Errorf("pve-cluster = %q", v)
	}
}

func TestVersionCompareAcrossShapes(t *testing.T) {
	parse := func(s string) Version {
		v, err := ParseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		a, b string
		want int
	}{
		{"9.1.1", "9.1.1", 0},
		{"7.3-3", "9.1.1", -1},
		{"9.1", "9.0.9", 1},
		{"8.0.6", "8.0.10", -1},
		{"19.2.3-pve2", "19.2.3", 0},
	}
	for _, tt := range tests {
		if got := parse(tt.a).Compare(parse(tt.b)); got != tt.want {
			t.Errorf("%s vs %s = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestVersionErrorsQuoteTheLine(t *testing.T) {
	for _, in := range []string{"", "bash: pveversion: command not found\n", "pve-manager/abc/123\n", "pve-manager/9.1.1\n"} {
		_, err := ParseManagerVersion(in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: error %v is not a ParseError", in, err)
			continue
		}
		if first := strings.SplitN(in, "\n", 2)[0]; first != "" && !strings.Contains(err.Error(), first) {
			t.Errorf("%q: error %q does not quote the line", in, err)
		}
	}
	_, err := ParsePackageVersions("proxmox-ve: 9.1.0\nthis is not a package line\n")
	if err == nil || !strings.Contains(err.Error(), "this is not a package line") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error = %v", err)
	}
}
