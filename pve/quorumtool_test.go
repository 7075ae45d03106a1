package pve

import (
	"strings"
	"testing"

	"github.com/quorate/quorate/pve/pvetest"
)

func TestParseQuorumStatusGoldens(t *testing.T) {
	tests := []struct {
		golden                  string
		state                   State
		expected, total, quorum int
		flags                   string
		members                 int
		localAddr               string
		qdevice                 bool
		firstQDeviceFlags       string
	}{
		{"pvecm-status-quorate.txt", Quorate, 2, 2, 2, "Quorate", 2, "192.168.202.179", false, ""},
		{"pvecm-status-qdevice.txt", Quorate, 3, 3, 2, "Quorate Qdevice", 2, "192.168.202.121", true, "A,V,NMW"},
		{"pvecm-status-not-quorate.txt", NotQuorate, 2, 1, 2, "", 1, "192.168.202.179", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			st, err := ParseQuorumStatus(pvetest.Golden(t, tt.golden).Stdout)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tt.state || st.ExpectedVotes != tt.expected || st.TotalVotes != tt.total || st.Quorum != tt.quorum {
				t.Errorf("state %v expected %d total %d quorum %d", st.State, st.ExpectedVotes, st.TotalVotes, st.Quorum)
			}
			if st.Name != "krnn" || st.ConfigVersion != 2 || st.Source != SourcePvecm || !st.VotesKnown {
				t.Errorf("name %q version %d source %q", st.Name, st.ConfigVersion, st.Source)
			}
			if got := strings.Join(st.Flags, " "); got != tt.flags {
				t.Errorf("flags %q, want %q", got, tt.flags)
			}
			if len(st.Members) != tt.members {
				t.Fatalf("%d members, want %d: %+v", len(st.Members), tt.members, st.Members)
			}
			local, ok := st.Local()
			if !ok || local.Addr != tt.localAddr || local.Name != "" || !local.Online {
				t.Errorf("local = %+v", local)
			}
			if (st.QDevice != nil) != tt.qdevice {
				t.Fatalf("qdevice = %+v", st.QDevice)
			}
			if tt.qdevice {
				if st.QDevice.Votes != 1 || !st.QDevice.Voting || st.Members[0].QDevice != tt.firstQDeviceFlags {
					t.Errorf("qdevice %+v, member flags %q", st.QDevice, st.Members[0].QDevice)
				}
			}
		})
	}
}

func TestQuorateAndNotQuorateNeverConfused(t *testing.T) {
	// Both exit 2 on a real node; the text is the only difference.
	not, _ := ParseQuorumStatus(pvetest.Golden(t, "pvecm-status-not-quorate.txt").Stdout)
	if not.State != NotQuorate || not.HasFlag("Quorate") {
		t.Errorf("not-quorate golden read as %v", not.State)
	}
	if _, err := ParseQuorumStatus(pvetest.Golden(t, "pvecm-status-no-cluster.txt").Stderr); err == nil {
		t.Error("the no-cluster text parsed as a status")
	}
}

func TestQuorumtoolWithoutPvecmHeader(t *testing.T) {
	full := pvetest.Golden(t, "pvecm-status-quorate.txt").Stdout
	_, qt, _ := strings.Cut(full, "\n\n") // corosync-quorumtool -siH: no Cluster information
	st, err := ParseQuorumStatus(qt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Source != SourceQuorumtool || st.State != Quorate || st.LocalNodeID != 2 || len(st.Members) != 2 {
		t.Errorf("got %+v", st)
	}
}

func TestQDeviceNotVoting(t *testing.T) {
	in := strings.Replace(pvetest.Golden(t, "pvecm-status-qdevice.txt").Stdout,
		"0x00000000          1            Qdevice", "0x00000000          0            Qdevice (votes 1)", 1)
	st, err := ParseQuorumStatus(in)
	if err != nil {
		t.Fatal(err)
	}
	if st.QDevice == nil || st.QDevice.Voting || st.QDevice.Votes != 1 {
		t.Errorf("qdevice = %+v", st.QDevice)
	}
}

func TestParsePvecmNodes(t *testing.T) {
	ms, err := ParsePvecmNodes(pvetest.Golden(t, "pvecm-nodes.txt").Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].NodeID != 1 || ms[0].Name != "debian-proxmox-01" || !ms[0].Local || ms[1].Local || ms[1].Votes != 1 {
		t.Errorf("got %+v", ms)
	}
}

func TestQuorumStatusErrorsQuoteTheLine(t *testing.T) {
	tests := []struct{ in, quoted string }{
		{"Quorum information\n------------------\nQuorate:          Maybe\n", "Quorate:          Maybe"},
		{"Quorum information\n------------------\nQuorate: Yes\n\nMembership information\n----------------------\n    Nodeid      Votes Name\nzz 1 pve1\n", "zz 1 pve1"},
		{"Membership information\n----------------------\n    Nodeid Weight Name\n", "Nodeid Weight Name"},
		{"garbage first\n", "garbage first"},
	}
	for _, tt := range tests {
		_, err := ParseQuorumStatus(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.quoted) {
			t.Errorf("%q: error %v does not quote %q", tt.in, err, tt.quoted)
		}
	}
	if _, err := ParsePvecmNodes("\nMembership information\n----------------------\n    Nodeid      Votes Name\n         x          1 a\n"); err == nil || !strings.Contains(err.Error(), "x          1 a") {
		t.Errorf("nodes error = %v", err)
	}
}

// corosync-quorumtool prints an empty name for a member whose address it cannot get; the row
// still counts, and "(local)" must not be taken for a name.
func TestMemberWithoutAName(t *testing.T) {
	full := pvetest.Golden(t, "pvecm-status-quorate.txt").Stdout
	full = strings.Replace(full, "0x00000002          1 192.168.202.179 (local)", "0x00000002          1  (local)", 1)
	full = strings.Replace(full, "0x00000001          1 192.168.202.121", "0x00000001          1 ", 1)
	st, err := ParseQuorumStatus(full)
	if err != nil {
		t.Fatal(err)
	}
	local, ok := st.Local()
	if len(st.Members) != 2 || !ok || local.NodeID != 2 || local.Name != "" || local.Addr != "" || st.Members[0].Name != "" {
		t.Errorf("members %+v", st.Members)
	}
}
