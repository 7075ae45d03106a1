package pve

import (
	"strings"
	"testing"

	"github.com/quorate/quorate/pve/pvetest"
)

func TestClassifyJoinGoldens(t *testing.T) {
	tests := []struct {
		golden string
		kind   FailureKind // "" means success
		line   string      // substring of Failure.Line
	}{
		{"join-success-tty.txt", "", ""},
		{"join-success-pipe.txt", "", ""},
		{"join-precheck-forced.txt", "", ""},
		{"join-precheck-guests.txt", FailPrecheck, "Check if node may join a cluster failed!"},
		{"join-precheck-all.txt", FailPrecheck, "Check if node may join"},
		{"join-eof.txt", FailPasswordEOF, "EOF while reading password"},
		{"join-auth.txt", FailPasswordRejected, "401 authentication failure"},
		{"join-fp-mismatch.txt", FailFingerprintMismatch, "not verified, abort!"},
		{"join-fp-not-verified.txt", FailFingerprintNotVerified, "Fingerprint not verified"},
		{"join-tfa.txt", FailTFA, "TFA-enabled login"},
		{"join-no-quorum.txt", FailNoQuorum, "cluster not ready - no quorum?"},
		{"join-existing.txt", FailNodeExists, "can't add existing node 'pve02'"},
		{"join-link-missing.txt", FailLinkMismatch, "link 1 exists in cluster config"},
		{"join-link-extra.txt", FailLinkMismatch, "link 1 specified for new node"},
		{"join-link-fallback.txt", FailLinkMismatch, "multiple links"},
		{"join-address-used.txt", FailAddressInUse, "address '192.168.202.179' already used"},
		{"join-no-links.txt", FailNoLinks, "no fallback ip"},
		{"join-old-joiner.txt", FailAPIVersion, "unsupported old API version"},
		{"join-api-incompatible.txt", FailAPIVersion, "Make sureall"},
		{"join-invalid-conf.txt", FailInvalidClusterConfig, "invalid corosync.conf"},
		{"join-remote-too-old.txt", FailRemoteTooOld, "use_ssh"},
		{"join-cwd.txt", FailWrongCwd, "Navigate out of /etc/pve"},
		{"join-ssh-copy-id.txt", FailSSH, "unable to copy ssh ID"},
		{"join-name-unresolved.txt", FailNameUnresolved, "did not find any IP address"},
		{"join-unknown.txt", FailUnknown, "something nobody has seen before"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			g := pvetest.Golden(t, tt.golden)
			jr, f := ClassifyJoin(g.Stdout, g.Stderr)
			if tt.kind == "" {
				if f != nil {
					t.Fatalf("failure %v", f)
				}
				if jr.Node != "pve02" {
					t.Errorf("node %q", jr.Node)
				}
				return
			}
			if f == nil {
				t.Fatalf("success %+v, want %s", jr, tt.kind)
			}
			if f.Kind != tt.kind || !strings.Contains(f.Line, tt.line) || f.Op != "join" {
				t.Errorf("kind %s line %q, want %s with %q", f.Kind, f.Line, tt.kind, tt.line)
			}
			if !strings.Contains(f.Error(), tt.line) {
				t.Errorf("Error() %q does not quote %q", f.Error(), tt.line)
			}
		})
	}
}

func TestJoinPrechecksByKind(t *testing.T) {
	g := pvetest.Golden(t, "join-precheck-all.txt")
	_, f := ClassifyJoin(g.Stdout, g.Stderr)
	if f == nil || f.Kind != FailPrecheck {
		t.Fatalf("got %v", f)
	}
	want := []Precheck{
		{Kind: PrecheckAuthkeyExists, Link: -1},
		{Kind: PrecheckClusterConfigExists, Link: -1},
		{Kind: PrecheckHasGuests, Link: -1},
		{Kind: PrecheckCorosyncRunning, Link: -1},
		{Kind: PrecheckLocalIPMissing, Link: -1, Addr: "192.168.202.179"},
		{Kind: PrecheckLinkIPMissing, Link: 1, Addr: "10.1.1.179"},
	}
	if len(f.Prechecks) != len(want) {
		t.Fatalf("prechecks %+v", f.Prechecks)
	}
	for i, w := range want {
		p := f.Prechecks[i]
		if p.Kind != w.Kind || p.Link != w.Link || p.Addr != w.Addr || p.Text == "" {
			t.Errorf("precheck %d = %+v, want %+v", i, p, w)
		}
	}
	if !strings.Contains(f.Error(), "this host already contains virtual guests") {
		t.Errorf("Error() = %q", f.Error())
	}
	unresolved := classifyPrecheck("link0: cannot use 'pve-x': address lookup for 'pve-x' did not find any IP address")
	if unresolved.Kind != PrecheckLinkUnresolvable || unresolved.Link != 0 || unresolved.Addr != "pve-x" {
		t.Errorf("unresolvable = %+v", unresolved)
	}
}

func TestJoinDetails(t *testing.T) {
	g := pvetest.Golden(t, "join-fp-mismatch.txt")
	_, f := ClassifyJoin(g.Stdout, g.Stderr)
	if f.ActualFingerprint != "8A:EF:6F:C1:81:6C:03:80:B5:B3:25:32:33:F3:15:66:30:7F:49:3E:7B:A1:33:1B:0F:21:7E:CF:65:7B:B9:C2" {
		t.Errorf("actual fingerprint %q", f.ActualFingerprint)
	}
	g = pvetest.Golden(t, "join-invalid-conf.txt")
	_, f = ClassifyJoin(g.Stdout, g.Stderr)
	if len(f.RemoteErrors) != 2 || !strings.Contains(f.RemoteErrors[0], "missing link 1") {
		t.Errorf("remote errors %q", f.RemoteErrors)
	}
	g = pvetest.Golden(t, "join-precheck-forced.txt")
	jr, _ := ClassifyJoin(g.Stdout, g.Stderr)
	if !jr.Forced || len(jr.Prechecks) != 1 || jr.Prechecks[0].Kind != PrecheckHasGuests {
		t.Errorf("forced join = %+v", jr)
	}
	g = pvetest.Golden(t, "join-unknown.txt")
	_, f = ClassifyJoin(g.Stdout, g.Stderr)
	if len(f.Tail) < 2 || !strings.Contains(f.Error(), "Request addition of this node") {
		t.Errorf("unknown failure does not quote pvecm's last lines: %q", f.Error())
	}
}

func TestJoinExitZeroWithoutSuccessLineIsFailure(t *testing.T) {
	// The half transcript of a join that stopped at the quorum wait: no success line, no
	// error text. Exit status 0 must not make this a success.
	out := pvetest.Golden(t, "join-success-pipe.txt").Stdout
	cut := out[:strings.Index(out, "waiting for quorum...")+len("waiting for quorum...")]
	if _, f := ClassifyJoin(cut, ""); f == nil || f.Kind != FailUnknown || f.Line != "waiting for quorum..." {
		t.Errorf("got %v", f)
	}
	if _, f := ClassifyJoin("", ""); f == nil {
		t.Error("empty output classified as success")
	}
	if _, f := ClassifyJoin("successfully added node 'x' to cluster. not really\n", ""); f == nil {
		t.Error("a line merely starting like the success line counted")
	}
}

func TestClassifyCreate(t *testing.T) {
	tests := []struct {
		golden string
		kind   FailureKind
		keygen bool
	}{
		{"create-keygen.txt", "", true},
		{"create-reuse-key.txt", "", false},
		{"create-exists.txt", FailClusterExists, false},
		{"create-name-too-long.txt", FailBadParameter, false},
		{"create-pmxcfs-down.txt", FailPmxcfsDown, false},
		{"create-lock.txt", FailLocked, false},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			g := pvetest.Golden(t, tt.golden)
			cr, f := ClassifyCreate(g.Stdout, g.Stderr)
			if tt.kind == "" {
				if f != nil || cr.KeyGenerated != tt.keygen {
					t.Errorf("result %+v, failure %v", cr, f)
				}
				return
			}
			if f == nil || f.Kind != tt.kind {
				t.Fatalf("failure %v, want %s", f, tt.kind)
			}
		})
	}
	g := pvetest.Golden(t, "create-name-too-long.txt")
	_, f := ClassifyCreate(g.Stdout, g.Stderr)
	if !strings.Contains(f.Line, "clustername: value may only be 15 characters long") {
		t.Errorf("bad parameter line %q", f.Line)
	}
	// Restart line printed, then the worker died on stderr: not a success.
	ok := pvetest.Golden(t, "create-keygen.txt").Stdout
	if _, f := ClassifyCreate(ok, "Job for corosync.service failed.\n"); f == nil || f.Kind != FailUnknown {
		t.Errorf("failed restart = %v", f)
	}
}

func TestClassifyAdmin(t *testing.T) {
	del := []struct {
		golden string
		code   int
		kind   FailureKind
	}{
		{"delnode-ok.txt", 0, ""},
		{"delnode-self.txt", 255, FailDeleteSelf},
		{"delnode-no-quorum.txt", 255, FailNoQuorum},
		{"delnode-unknown-node.txt", 255, FailUnknownNode},
		{"delnode-ip.txt", 255, FailBadParameter},
	}
	for _, tt := range del {
		g := pvetest.Golden(t, tt.golden)
		r, f := ClassifyDelNode(g.Stdout, g.Stderr, tt.code)
		if (f == nil) != (tt.kind == "") || (f != nil && f.Kind != tt.kind) {
			t.Errorf("%s: failure %v, want %q", tt.golden, f, tt.kind)
		}
		if tt.golden == "delnode-ok.txt" && r.Killed {
			t.Error("Could not kill node read as killed")
		}
	}
	if r, f := ClassifyDelNode("Killing node 3\n", "", 0); f != nil || !r.Killed {
		t.Errorf("a node that was still up: %+v %v", r, f)
	}
	if _, f := ClassifyDelNode("", "something odd\n", 2); f == nil || f.Kind != FailUnknown {
		t.Errorf("non-zero exit with unknown text = %v", f)
	}

	g := pvetest.Golden(t, "updatecerts-force.txt")
	if f := ClassifyUpdateCerts(g.Stdout, g.Stderr, 0); f != nil {
		t.Errorf("updatecerts: %v", f)
	}
	g = pvetest.Golden(t, "updatecerts-no-quorum.txt")
	if f := ClassifyUpdateCerts(g.Stdout, g.Stderr, 255); f == nil || f.Kind != FailNoQuorum {
		t.Errorf("updatecerts no quorum: %v", f)
	}

	qd := []struct {
		golden, op string
		code       int
		kind       FailureKind
	}{
		{"qdevice-setup-ok.txt", "qdevice setup", 0, ""},
		{"qdevice-setup-exists.txt", "qdevice setup", 255, FailQDeviceExists},
		{"qdevice-setup-odd.txt", "qdevice setup", 255, FailOddNodeCount},
		{"qdevice-setup-offline.txt", "qdevice setup", 255, FailNodeOffline},
		{"qdevice-remove-ok.txt", "qdevice remove", 0, ""},
		{"qdevice-remove-none.txt", "qdevice remove", 255, FailQDeviceMissing},
		{"qdevice-remove-ok.txt", "qdevice setup", 0, FailUnknown}, // remove's output is not a setup
	}
	for _, tt := range qd {
		g := pvetest.Golden(t, tt.golden)
		f := ClassifyQDevice(tt.op, g.Stdout, g.Stderr, tt.code)
		if (f == nil) != (tt.kind == "") || (f != nil && f.Kind != tt.kind) {
			t.Errorf("%s as %s: failure %v, want %q", tt.golden, tt.op, f, tt.kind)
		}
	}
}
