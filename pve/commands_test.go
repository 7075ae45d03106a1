package pve

import (
	"strings"
	"testing"
)

const testFP = "8A:EF:6F:C1:81:6C:03:80:B5:B3:25:32:33:F3:15:66:30:7F:49:3E:7B:A1:33:1B:0F:21:7E:CF:65:7B:B9:C2"

func intPtr(n int) *int { return &n }

func TestJoinCommand(t *testing.T) {
	tests := []struct {
		name   string
		opts   JoinOpts
		line   string
		stdin  string
		secret bool
	}{
		{
			name:   "fingerprint and two links",
			opts:   JoinOpts{Target: "198.51.100.11", Password: "s3cret pass", Fingerprint: strings.ToLower(testFP), Links: []Link{{Number: 1, Addr: "203.0.113.12"}, {Number: 0, Addr: "198.51.100.12", Priority: 9}}},
			line:   "cd / && pvecm add 198.51.100.11 --fingerprint " + testFP + " --link0 198.51.100.12 --link1 203.0.113.12",
			stdin:  "s3cret pass\n",
			secret: true,
		},
		{
			name:   "no fingerprint: answer yes",
			opts:   JoinOpts{Target: "pve1.lab.test", Password: "pw"},
			line:   "cd / && pvecm add pve1.lab.test",
			stdin:  "pw\nyes\n",
			secret: true,
		},
		{
			name:   "nodeid, votes 0, force",
			opts:   JoinOpts{Target: "198.51.100.11", Password: "pw", Fingerprint: testFP, NodeID: 4, Votes: intPtr(0), Force: true},
			line:   "cd / && pvecm add 198.51.100.11 --fingerprint " + testFP + " --nodeid 4 --votes 0 --force 1",
			stdin:  "pw\n",
			secret: true,
		},
		{
			name: "use_ssh reads no password",
			opts: JoinOpts{Target: "198.51.100.11", UseSSH: true, Links: []Link{{Number: 0, Addr: "198.51.100.12"}}},
			line: "cd / && pvecm add 198.51.100.11 --link0 198.51.100.12 --use_ssh 1",
		},
		{
			name:   "IPv6 target",
			opts:   JoinOpts{Target: "fdd2:3918:5fad::1", Password: "pw", Fingerprint: testFP},
			line:   "cd / && pvecm add fdd2:3918:5fad::1 --fingerprint " + testFP,
			stdin:  "pw\n",
			secret: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := JoinCommand(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if cmd.Line != tt.line {
				t.Errorf("line\n got %s\nwant %s", cmd.Line, tt.line)
			}
			if string(cmd.Stdin) != tt.stdin {
				t.Errorf("stdin %q, want %q", cmd.Stdin, tt.stdin)
			}
			if tt.secret && (len(cmd.Secrets) != 1 || cmd.Secrets[0] != tt.opts.Password) {
				t.Errorf("secrets %q", cmd.Secrets)
			}
			if tt.opts.Password != "" && strings.Contains(cmd.Line, tt.opts.Password) {
				t.Error("password on the command line")
			}
		})
	}
}

func TestHostileValuesNeverReachTheShell(t *testing.T) {
	hostile := []string{"x; reboot", "$(reboot)", "`reboot`", "a'b", "a\nb", "--force", "-x", "a b", "a|b", "a&&b", "",
		// netip takes anything after an IPv6 '%' as the zone.
		"fe80::1%x; reboot", "fe80::1%eth0,priority=9", "fe80::1%eth0"}
	for _, h := range hostile {
		if _, err := JoinCommand(JoinOpts{Target: h, Password: "pw"}); err == nil {
			t.Errorf("target %q accepted", h)
		}
		if _, err := JoinCommand(JoinOpts{Target: "198.51.100.11", Password: "pw", Fingerprint: h}); err == nil && h != "" {
			t.Errorf("fingerprint %q accepted", h)
		}
		if _, err := JoinCommand(JoinOpts{Target: "198.51.100.11", Password: "pw", Links: []Link{{Number: 0, Addr: h}}}); err == nil {
			t.Errorf("link address %q accepted", h)
		}
		if _, err := CreateCommand(CreateOpts{ClusterName: h}); err == nil {
			t.Errorf("cluster name %q accepted", h)
		}
		if _, err := DelNodeCommand(h); err == nil {
			t.Errorf("delnode name %q accepted", h)
		}
		if _, err := QDeviceSetupCommand(h, false); err == nil {
			t.Errorf("qdevice address %q accepted", h)
		}
	}
	// A password may hold anything but a line break; it never reaches the command line.
	cmd, err := JoinCommand(JoinOpts{Target: "198.51.100.11", Password: "'; reboot; echo '$(id)", Fingerprint: testFP})
	if err != nil || strings.Contains(cmd.Line, "reboot") || string(cmd.Stdin) != "'; reboot; echo '$(id)\n" {
		t.Errorf("line %q stdin %q err %v", cmd.Line, cmd.Stdin, err)
	}
	for _, pw := range []string{"a\nb", "a\rb", "a\x00b", ""} {
		if _, err := JoinCommand(JoinOpts{Target: "198.51.100.11", Password: pw}); err == nil {
			t.Errorf("password %q accepted", pw)
		}
	}
	if _, err := JoinCommand(JoinOpts{Target: "198.51.100.11", Password: "pw", Links: []Link{{Number: 0, Addr: "10.0.0.1"}, {Number: 0, Addr: "10.0.0.2"}}}); err == nil {
		t.Error("link 0 twice accepted")
	}
	if _, err := JoinCommand(JoinOpts{Target: "198.51.100.11", Password: "pw", Fingerprint: "SHA256:hK4AnfxxyANJXjPNlWcp4vgVyWHu4oXSH/9LV8//GCM"}); err == nil {
		t.Error("SSH-style fingerprint accepted")
	}
}

func TestCreateCommand(t *testing.T) {
	tests := []struct {
		opts CreateOpts
		line string
	}{
		{CreateOpts{ClusterName: "demo"}, "cd / && pvecm create demo"},
		{
			CreateOpts{ClusterName: "CLUSTERNAME", Links: []Link{{Number: 1, Addr: "10.20.20.1", Priority: 20}, {Number: 0, Addr: "10.10.10.1", Priority: 15}}},
			"cd / && pvecm create CLUSTERNAME --link0 10.10.10.1,priority=15 --link1 10.20.20.1,priority=20",
		},
		{
			CreateOpts{ClusterName: "demo", Links: []Link{{Number: 0, Addr: "198.51.100.11"}}, NodeID: 2, Votes: 3, TokenCoefficient: 125},
			"cd / && pvecm create demo --link0 198.51.100.11 --nodeid 2 --votes 3 --token-coefficient 125",
		},
	}
	for _, tt := range tests {
		cmd, err := CreateCommand(tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if cmd.Line != tt.line || cmd.Stdin != nil {
			t.Errorf("got %q, want %q", cmd.Line, tt.line)
		}
	}
}

func TestAdminCommands(t *testing.T) {
	cmd, _ := DelNodeCommand("pve3")
	if cmd.Line != "cd / && pvecm delnode pve3" {
		t.Errorf("delnode %q", cmd.Line)
	}
	if _, err := DelNodeCommand("198.51.100.13"); err == nil {
		t.Error("delnode by IP accepted; the CLI refuses it (docs/pve.md §3.4)")
	}
	if got := UpdateCertsCommand(UpdateCertsOpts{Force: true, UnmergeKnownHosts: true}).Line; got != "cd / && pvecm updatecerts --force 1 --unmerge-known-hosts 1" {
		t.Errorf("updatecerts %q", got)
	}
	cmd, _ = QDeviceSetupCommand("198.51.100.50", true)
	if cmd.Line != "cd / && pvecm qdevice setup 198.51.100.50 --force 1" {
		t.Errorf("qdevice %q", cmd.Line)
	}
}
