package lab_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/lab"
)

const notInCluster = "Error: Corosync config '/etc/pve/corosync.conf' does not exist - is this node part of a cluster?\n"

// TestPvesimCluster builds a 3-node cluster by running pvecm by hand over ssh, as in
// docs/pve.md, and checks the transcripts, real corosync quorum and its loss.
func TestPvesimCluster(t *testing.T) {
	t.Parallel()
	l := pvesimLab(t, 3)
	pw := password(t, l)

	t.Run("a node outside a cluster says so", func(t *testing.T) {
		for _, cmd := range []string{"pvecm status", "pvecm nodes"} {
			r := sshRun(t, l, "pve2", "", cmd)
			if r.Code != 2 || r.Stdout != "" || r.Stderr != notInCluster {
				t.Errorf("%s: exit %d, stdout %q, stderr %q", cmd, r.Code, r.Stdout, r.Stderr)
			}
		}
		r := sshRun(t, l, "pve2", "", "pvesh get /cluster/status --output-format json")
		want := `[{"id":"node/pve2","ip":"198.51.100.12","level":"","local":1,"name":"pve2","nodeid":0,"online":1,"type":"node"}]` + "\n"
		if r.Code != 0 || r.Stdout != want {
			t.Errorf("standalone /cluster/status: exit %d, %q", r.Code, r.Stdout)
		}
	})

	t.Run("create", func(t *testing.T) {
		r := sshRun(t, l, "pve1", "", "pvecm create demo")
		want := "Corosync Cluster Engine Authentication key generator.\n" +
			"Gathering 2048 bits for key from /dev/urandom.\n" +
			"Writing corosync key to /etc/corosync/authkey.\n" +
			"Writing corosync config to /etc/pve/corosync.conf\n" +
			"Restart corosync and cluster filesystem\n"
		if r.Code != 0 || r.Stdout != want || r.Stderr != "" {
			t.Fatalf("create: exit %d\nstdout %q\nstderr %q", r.Code, r.Stdout, r.Stderr)
		}
		r = sshRun(t, l, "pve1", "", "pvecm create demo")
		if r.Code == 0 || r.Stderr != "cluster config '/etc/pve/corosync.conf' already exists\n" {
			t.Errorf("second create: exit %d, stderr %q", r.Code, r.Stderr)
		}
		eventually(t, 20*time.Second, "pve1 quorate", func() (bool, string) {
			r := sshRun(t, l, "pve1", "", "pvecm status")
			return r.Code == 0 && strings.HasPrefix(r.Stdout, "Cluster information\n-------------------\nName:             demo\nConfig Version:   1\nTransport:        knet\nSecure auth:      on\n\nQuorum information\n") &&
				strings.Contains(r.Stdout, "Quorate:          Yes\n"), r.Stdout + r.Stderr
		})
	})

	fp := apiFingerprint(t, l, "pve1")

	t.Run("join failures without a terminal", func(t *testing.T) {
		cases := []struct{ name, stdin, cmd, stdout, stderr string }{
			{"closed stdin", "", "pvecm add 198.51.100.11", "", "EOF while reading password\n"},
			{"wrong password", "wrong\n", "pvecm add 198.51.100.11 --fingerprint " + fp,
				"Establishing API connection with host '198.51.100.11'\n", "401 authentication failure\n"},
			{"wrong fingerprint", pw + "\n", "pvecm add 198.51.100.11 --fingerprint " + strings.Repeat("00:", 31) + "00",
				"Establishing API connection with host '198.51.100.11'\n", "fingerprint '" + fp + "' not verified, abort!\n"},
			{"fingerprint refused", pw + "\nno\n", "pvecm add 198.51.100.11",
				"Establishing API connection with host '198.51.100.11'\nThe authenticity of host '198.51.100.11' can't be established.\nX509 SHA256 key fingerprint is " + fp + ".\nAre you sure you want to continue connecting (yes/no)? ",
				"Fingerprint not verified, abort!\n"},
		}
		for _, tc := range cases {
			r := sshRun(t, l, "pve2", tc.stdin, tc.cmd)
			if r.Code != 0 || r.Stdout != tc.stdout || r.Stderr != tc.stderr {
				t.Errorf("%s: exit %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", tc.name, r.Code, r.Stdout, tc.stdout, r.Stderr, tc.stderr)
			}
		}
		r := sshRun(t, l, "pve2", pw+"\n", "cd /etc/pve && pvecm add 198.51.100.11")
		if r.Code == 0 || r.Stderr != "Navigate out of /etc/pve before running 'pvecm add', for example by running 'cd'.\n" {
			t.Errorf("cwd rule: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})

	t.Run("join without a terminal", func(t *testing.T) {
		start := time.Now()
		r := sshRun(t, l, "pve2", pw+"\nyes\n", "pvecm add 198.51.100.11")
		t.Logf("join of pve2 took %s", time.Since(start).Round(time.Millisecond))
		got := backupLine.ReplaceAllString(r.Stdout, "BACKUP")
		if want := joinTranscript("198.51.100.11", fp, "198.51.100.12", "pve2"); r.Code != 0 || got != want || r.Stderr != "" {
			t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr %q", r.Code, got, want, r.Stderr)
		}
	})

	t.Run("join with a terminal", func(t *testing.T) {
		term := startTerminal(t, l, "pve3", "pvecm add 198.51.100.11")
		term.expect(t, "Please enter superuser (root) password for '198.51.100.11': ")
		term.send(t, pw+"\r")
		term.expect(t, "(yes/no)? ")
		term.send(t, "yes\r")
		term.expect(t, "Connection to pve3 closed.")
		term.stdin.Close()
		code, out := term.wait(t)
		out = strings.TrimSuffix(strings.ReplaceAll(out, "\r\n", "\n"), "Connection to pve3 closed.\n")
		wantPrompt := "Please enter superuser (root) password for '198.51.100.11': " + strings.Repeat("*", len(pw)) + "\n"
		want := wantPrompt + strings.Replace(joinTranscript("198.51.100.11", fp, "198.51.100.13", "pve3"), "(yes/no)? ", "(yes/no)? yes\n", 1)
		if got := backupLine.ReplaceAllString(out, "BACKUP"); code != 0 || got != want {
			t.Fatalf("exit %d\noutput:\n%q\nwant:\n%q", code, got, want)
		}
	})

	t.Run("three nodes are quorate in corosync", func(t *testing.T) {
		eventually(t, 30*time.Second, "3 members", func() (bool, string) {
			r := sshRun(t, l, "pve1", "", "pvecm nodes")
			want := "\nMembership information\n----------------------\n    Nodeid      Votes Name\n         1          1 pve1 (local)\n         2          1 pve2\n         3          1 pve3\n"
			return r.Code == 0 && r.Stdout == want, r.Stdout + r.Stderr
		})
		r := sshRun(t, l, "pve3", "", "pvecm status")
		for _, piece := range []string{"Config Version:   3\n", "Nodes:            3\n", "Quorate:          Yes\n", "Quorum:           2  \n", "Flags:            Quorate \n", "0x00000003          1 198.51.100.13 (local)\n"} {
			if r.Code != 0 || !strings.Contains(r.Stdout, piece) {
				t.Errorf("pve3 status lacks %q (exit %d):\n%s", piece, r.Code, r.Stdout)
			}
		}
		r = sshRun(t, l, "pve2", "", "pvesh get /cluster/status --output-format json")
		var status []map[string]any
		if err := json.Unmarshal([]byte(r.Stdout), &status); err != nil || len(status) != 4 || status[0]["quorate"] != 1.0 || status[0]["version"] != 3.0 {
			t.Errorf("/cluster/status: %v %s", err, r.Stdout)
		}
		for _, host := range []string{"pve1", "pve2", "pve3"} {
			conf := sshRun(t, l, host, "", "cat /etc/corosync/corosync.conf").Stdout
			if !strings.Contains(conf, "config_version: 3\n") || !strings.Contains(conf, "name: pve3\n") {
				t.Errorf("%s did not get the cluster's corosync.conf:\n%s", host, conf)
			}
		}
	})

	t.Run("openssl sees the certificate pvenode reports, renewed by the join", func(t *testing.T) {
		want := apiFingerprint(t, l, "pve2")
		r, err := l.Exec(testCtx(t, 30*time.Second), "ctl", nil, "sh", "-c",
			"openssl s_client -connect 198.51.100.12:8006 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256")
		if err != nil || r.Stdout != "sha256 Fingerprint="+want+"\n" {
			t.Errorf("openssl: %v %q, pvenode says %s", err, r.Stdout, want)
		}
		if r := sshRun(t, l, "pve1", "", "pvesh get /cluster/config/join --output-format json"); !strings.Contains(r.Stdout, `"pve_fp":"`+want+`"`) {
			t.Errorf("join info lacks pve2's fingerprint %s: %s", want, r.Stdout)
		}
	})

	t.Run("a forced re-join lists what is wrong with the node", func(t *testing.T) {
		r := sshRun(t, l, "pve3", pw+"\n", "cd / && pvecm add 198.51.100.11 --force --fingerprint "+fp)
		if r.Code != 0 || !strings.HasSuffix(r.Stdout, "successfully added node 'pve3' to cluster.\n") || !strings.Contains(r.Stdout, "detected the following error(s):\n* authentication key '/etc/corosync/authkey' already exists\n* cluster config '/etc/pve/corosync.conf' already exists\n* corosync is already running, is this node already in a cluster?!\n\nWARNING : detected error but forced to continue!\n\n") {
			t.Errorf("forced re-join: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("udp-drop splits the corosync membership", func(t *testing.T) {
		if err := l.Fault(testCtx(t, 30*time.Second), "pve3", "udp-drop"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "pve3 alone", func() (bool, string) {
			r := sshRun(t, l, "pve3", "", "pvecm status")
			return r.Code == 2 && strings.Contains(r.Stdout, "Quorate:          No\n"), r.Stdout
		})
		eventually(t, 30*time.Second, "pve1 with pve2", func() (bool, string) {
			r := sshRun(t, l, "pve1", "", "pvecm nodes")
			return r.Code == 0 && !strings.Contains(r.Stdout, "pve3"), r.Stdout
		})
		if err := l.Clear(testCtx(t, 30*time.Second), "pve3"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "pve3 back", func() (bool, string) {
			r := sshRun(t, l, "pve3", "", "pvecm status")
			return r.Code == 0, r.Stdout
		})
	})

	t.Run("two crashed hosts take quorum and /etc/pve writes away", func(t *testing.T) {
		for _, host := range []string{"pve2", "pve3"} {
			if err := l.Fault(testCtx(t, 30*time.Second), host, "crash"); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 30*time.Second, "pve1 not quorate", func() (bool, string) {
			r := sshRun(t, l, "pve1", "", "pvecm status")
			return r.Code == 2 && strings.Contains(r.Stdout, "Quorum:           2 Activity blocked\n"), r.Stdout
		})
		eventually(t, 10*time.Second, "/etc/pve read-only", func() (bool, string) {
			r := sshRun(t, l, "pve1", "", "touch /etc/pve/probe")
			return r.Code != 0 && strings.Contains(r.Stderr, "Read-only file system"), r.Stderr
		})
		r := sshRun(t, l, "pve1", "", "pvecm delnode pve3")
		if r.Code == 0 || r.Stderr != "cluster not ready - no quorum?\n" {
			t.Errorf("delnode without quorum: exit %d, stderr %q", r.Code, r.Stderr)
		}
		// The documented way out: lower the expected votes, then /etc/pve is writable again.
		if r := sshRun(t, l, "pve1", "", "pvecm expected 1"); r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
			t.Errorf("expected 1: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
		}
		eventually(t, 10*time.Second, "/etc/pve writable", func() (bool, string) {
			r := sshRun(t, l, "pve1", "", "touch /etc/pve/probe")
			return r.Code == 0, r.Stderr
		})
	})

	t.Run("restarted hosts boot back into the cluster", func(t *testing.T) {
		for _, host := range []string{"pve2", "pve3"} {
			if err := l.Fault(testCtx(t, 60*time.Second), host, "restart"); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 40*time.Second, "3 members again", func() (bool, string) {
			r := sshRun(t, l, "pve3", "", "pvecm status")
			return r.Code == 0 && strings.Contains(r.Stdout, "Nodes:            3\n"), r.Stdout
		})
		// pmxcfs on pve2 makes /etc/pve writable once it has seen quorum itself, which can
		// be a poll later than pve3's view.
		eventually(t, 10*time.Second, "pve2 sees and writes the cluster's /etc/pve", func() (bool, string) {
			r := sshRun(t, l, "pve2", "", "cat /etc/pve/probe && touch /etc/pve/probe2")
			return r.Code == 0, r.Stderr
		})
	})
}

// TestPvesimJoinRefusals: an 8006 drop on the member fails a join with LWP's text, an
// --use_ssh join fails without key trust, and the Proxmox-level faults trip the pre-join
// checks.
func TestPvesimJoinRefusals(t *testing.T) {
	t.Parallel()
	l := pvesimLab(t, 2)
	pw := password(t, l)
	if r := sshRun(t, l, "pve1", "", "pvecm create demo"); r.Code != 0 {
		t.Fatalf("create: %d %s", r.Code, r.Stderr)
	}

	t.Run("8006 dropped", func(t *testing.T) {
		if err := l.Fault(testCtx(t, 30*time.Second), "pve1", "port-drop", "8006"); err != nil {
			t.Fatal(err)
		}
		defer l.Clear(testCtx(t, 30*time.Second), "pve1")
		// LWP gives up after 60 s; PVESIM_API_TIMEOUT shortens the wait, not the text.
		r := sshRun(t, l, "pve2", pw+"\nyes\n", "PVESIM_API_TIMEOUT=3 pvecm add 198.51.100.11")
		if r.Code != 0 || r.Stdout != "Establishing API connection with host '198.51.100.11'\n" || r.Stderr != "500 Can't connect to 198.51.100.11:8006 (Connection timed out)\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
		r = sshRun(t, l, "pve2", "", "pvecm nodes")
		if r.Code != 2 || r.Stderr != notInCluster {
			t.Errorf("pve2 after the failed join: exit %d, %q", r.Code, r.Stderr)
		}
	})

	t.Run("use_ssh without key trust", func(t *testing.T) {
		r := sshRun(t, l, "pve2", "", "pvecm add 198.51.100.11 --use_ssh")
		if r.Code != 0 || r.Stdout != "" || r.Stderr != "unable to copy ssh ID: exit code 1\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("guests and a half-done join", func(t *testing.T) {
		for _, kind := range []string{"guests", "half-joined"} {
			if err := l.Fault(testCtx(t, 30*time.Second), "pve2", kind); err != nil {
				t.Fatal(err)
			}
		}
		r := sshRun(t, l, "pve2", pw+"\n", "pvecm add 198.51.100.11")
		want := "detected the following error(s):\n* authentication key '/etc/corosync/authkey' already exists\n* this host already contains virtual guests\n* corosync is already running, is this node already in a cluster?!\n"
		if r.Code != 0 || r.Stdout != want || r.Stderr != "Check if node may join a cluster failed!\n" {
			t.Errorf("exit %d\nstdout %q\nstderr %q", r.Code, r.Stdout, r.Stderr)
		}
		if r := sshRun(t, l, "pve2", "", "qm list; pct list"); !strings.Contains(r.Stdout, " 100 vm100 ") || !strings.Contains(r.Stdout, "101        stopped") {
			t.Errorf("guest lists: %q", r.Stdout)
		}
		if err := l.Clear(testCtx(t, 30*time.Second), "pve2"); err != nil {
			t.Fatal(err)
		}
		if r := sshRun(t, l, "pve2", "", "qm list; ls /etc/corosync/authkey; corosync-quorumtool -l"); r.Stdout != "" || r.Code == 0 {
			t.Errorf("clear left something: exit %d %q", r.Code, r.Stdout)
		}
	})

	testForeignCluster(t, l)

	t.Run("with corosync blocked a join waits for quorum for ever", func(t *testing.T) {
		if err := l.Fault(testCtx(t, 30*time.Second), "pve2", "udp-drop"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		r, err := l.Exec(ctx, "ctl", strings.NewReader(pw+"\nyes\n"), "ssh", "-o", "BatchMode=yes", "root@pve2", "pvecm add 198.51.100.11")
		if err == nil || !strings.HasSuffix(r.Stdout, "stopping pve-cluster service\n"+backupLine.FindString(r.Stdout)+"\nwaiting for quorum...") {
			t.Errorf("join under udp-drop: %v, exit %d\n%s\n%s", err, r.Code, r.Stdout, r.Stderr)
		}
		// Once corosync can talk, the join that was left running completes.
		if err := l.Clear(testCtx(t, 30*time.Second), "pve2"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 40*time.Second, "pve2 in the cluster", func() (bool, string) {
			r := sshRun(t, l, "pve1", "", "pvecm nodes")
			return r.Code == 0 && strings.Contains(r.Stdout, " pve2\n"), r.Stdout
		})
	})
}

func testForeignCluster(t *testing.T, l *lab.Lab) {
	t.Run("a foreign cluster", func(t *testing.T) {
		if err := l.Fault(testCtx(t, 30*time.Second), "pve2", "foreign-cluster"); err != nil {
			t.Fatal(err)
		}
		r := sshRun(t, l, "pve2", "", "pvecm status")
		if r.Code != 2 || !strings.Contains(r.Stdout, "Name:             foreign\n") || !strings.Contains(r.Stdout, "Quorate:          No\n") {
			t.Errorf("status in the foreign cluster: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		if err := l.Clear(testCtx(t, 30*time.Second), "pve2"); err != nil {
			t.Fatal(err)
		}
		if r := sshRun(t, l, "pve2", "", "pvecm status"); r.Code != 2 || r.Stderr != notInCluster {
			t.Errorf("status after clear: exit %d %q", r.Code, r.Stderr)
		}
	})
}
