package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/playbooks"
	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
)

const testPassword = "s3cret-Pw-for-first-contact"

// fakePVEHost is an in-process SSH server that answers quorate's facts script (sent to
// `sh -s`) with the facts of a PVE node called hostname whose `ip -o addr` lines are
// ipOutput, rather than those of the test machine.
func fakePVEHost(t *testing.T, hostname, ipOutput string) *remotetest.Server {
	t.Helper()
	bin := t.TempDir()
	node, _, _ := strings.Cut(hostname, ".")
	var facts strings.Builder
	fmt.Fprintf(&facts, "quorate-facts v1\n[host]\nhostname=%s\nuname_n=%s\nnodename=%s\n[addresses]\n", node, hostname, node)
	for _, line := range strings.Split(strings.TrimRight(ipOutput, "\n"), "\n") {
		if line != "" {
			fmt.Fprintf(&facts, "addr=%s\n", line)
		}
	}
	facts.WriteString("quorate-facts end\n")
	// The transport's wrapper finds this sh first on PATH: `sh -s` (the facts script on
	// stdin) is answered from the text above; anything else is the real sh.
	script := "#!/bin/sh\nif [ \"$1\" = -s ]; then\ncat >/dev/null\ncat <<'OUT'\n" + facts.String() + "OUT\nexit 0\nfi\nexec /bin/sh \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return remotetest.Start(t, remotetest.Options{
		Password: testPassword,
		Env:      []string{"PATH=" + bin + ":/usr/bin:/bin"},
	})
}

// initEnv isolates a test from the user's ssh setup and state directory and gives it an ssh
// config with one alias per server, since all servers listen on 127.0.0.1.
type initEnv struct {
	dir, sshConfig, knownHosts, clusterFile string
}

func newInitEnv(t *testing.T, servers map[string]*remotetest.Server) initEnv {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	t.Setenv("SSH_AUTH_SOCK", "")
	t.Setenv("QUORATE_TEST_PW", testPassword)
	var cfg strings.Builder
	for alias, s := range servers {
		fmt.Fprintf(&cfg, "Host %s\n  HostName %s\n  Port %d\n", alias, s.Host(), s.Port())
	}
	e := initEnv{
		dir:         dir,
		sshConfig:   filepath.Join(dir, "ssh_config"),
		knownHosts:  filepath.Join(dir, "known_hosts"),
		clusterFile: filepath.Join(dir, "cluster.yaml"),
	}
	if err := os.WriteFile(e.sshConfig, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e initEnv) args(extra ...string) []string {
	return append([]string{"-c", e.clusterFile, "init", "--ssh-config", e.sshConfig,
		"--known-hosts", e.knownHosts, "--password-env", "QUORATE_TEST_PW"}, extra...)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

func TestInitRefusesUnknownHostKeyWithoutTheFlag(t *testing.T) {
	srv := fakePVEHost(t, "pve1", "")
	e := newInitEnv(t, map[string]*remotetest.Server{"pve-a": srv})

	out, stderr, code := runQuorate(t, e.args("pve-a")...)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, out, stderr)
	}
	fingerprint := remote.Fingerprint(srv.HostKey())
	if !strings.Contains(out, "FAILED pve-a: ") || !strings.Contains(out, "host key unknown") || !strings.Contains(out, fingerprint) || !strings.Contains(out, "--accept-new-host-keys") {
		t.Errorf("stdout does not show the refused key %s and how to accept it:\n%s", fingerprint, out)
	}
	if got := readFile(t, e.knownHosts); got != "" {
		t.Errorf("known_hosts written without --accept-new-host-keys:\n%s", got)
	}
	if _, err := os.Stat(e.clusterFile); !os.IsNotExist(err) {
		t.Errorf("cluster file written although a host failed (stat: %v)", err)
	}
	if !strings.Contains(stderr, "The log of this run is "+filepath.Join(e.dir, "state", "quorate")) {
		t.Errorf("stderr does not name the log file:\n%s", stderr)
	}
}

func TestInitRecordsNewKeysAndWritesAValidFile(t *testing.T) {
	a := fakePVEHost(t, "pve1.lab.test", "2: vmbr0    inet 198.51.100.11/24 brd 198.51.100.255 scope global vmbr0\n")
	b := fakePVEHost(t, "pve2", "2: vmbr0    inet 198.51.100.12/24 scope global vmbr0\n3: vmbr0    inet6 2001:db8::12/64 scope global\n")
	e := newInitEnv(t, map[string]*remotetest.Server{"pve-a": a, "pve-b": b})

	out, stderr, code := runQuorate(t, e.args("--accept-new-host-keys", "--name", "homelab", "pve-a", "pve-b")...)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, s := range []*remotetest.Server{a, b} {
		fp := remote.Fingerprint(s.HostKey())
		if !strings.Contains(stderr, "new host key ssh-ed25519 "+fp) {
			t.Errorf("the new key %s was not shown before being recorded:\n%s", fp, stderr)
		}
		if !strings.Contains(out, fp+" (new, recorded in known_hosts)") {
			t.Errorf("stdout does not report %s:\n%s", fp, out)
		}
		if !strings.Contains(readFile(t, e.knownHosts), s.KnownHostsLine()) {
			t.Errorf("known_hosts lacks %s", s.KnownHostsLine())
		}
		if n := s.Connections(); n != 1 {
			t.Errorf("%s: %d connections, want 1", s.Addr(), n)
		}
	}
	for _, want := range []string{"pve-a: hostname pve1,", "pve-b: hostname pve2,", "198.51.100.12/24 (vmbr0)", "wrote " + e.clusterFile + " with 2 nodes"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	inv, err := inventory.Load(e.clusterFile, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if problems := inv.Validate(); problems != nil {
		t.Fatalf("the starter file does not validate:\n%v\n%s", problems, readFile(t, e.clusterFile))
	}
	if inv.Cluster.Name != "homelab" || len(inv.Nodes) != 2 ||
		inv.Nodes[0].Name != "pve1" || inv.Nodes[0].Address != "pve-a" || inv.Nodes[0].Links[0] != "198.51.100.11" ||
		inv.Nodes[1].Name != "pve2" || inv.Nodes[1].Links[0] != "198.51.100.12" {
		t.Errorf("starter file holds %+v %+v", inv.Cluster, inv.Nodes)
	}

	logs, _ := filepath.Glob(filepath.Join(e.dir, "state", "quorate", "*.log"))
	if len(logs) != 1 {
		t.Fatalf("want one run log, found %v", logs)
	}
	if log := readFile(t, logs[0]); strings.Contains(log, testPassword) || !strings.Contains(log, `"cmd":"sh -s"`) {
		t.Errorf("the run log must list the command and never the password:\n%s", log)
	}

	// A second run knows the keys now: nothing new is recorded, and the existing file stays
	// unless --force.
	before := readFile(t, e.clusterFile)
	out, _, code = runQuorate(t, e.args("pve-a", "pve-b")...)
	if code != exitFailed || !strings.Contains(out+readFile(t, e.clusterFile), before) {
		t.Fatalf("existing file: exit %d\n%s", code, out)
	}
	if a.Connections() != 1 {
		t.Errorf("init contacted a host although it was going to refuse to write (%d connections)", a.Connections())
	}
	out, stderr, code = runQuorate(t, append([]string{"--output", "json"}, e.args("--force", "pve-a", "pve-b")...)...)
	if code != exitOK {
		t.Fatalf("--force: exit %d\n%s\n%s", code, out, stderr)
	}
	var report playbooks.InitReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("--output json: %v\n%s", err, out)
	}
	if !report.Written || len(report.Hosts) != 2 || report.Hosts[0].NewKey || report.Hosts[0].Fingerprint != remote.Fingerprint(a.HostKey()) {
		t.Errorf("second run report = %+v", report)
	}
}

func TestInitRefusesAChangedHostKey(t *testing.T) {
	srv := fakePVEHost(t, "pve1", "")
	e := newInitEnv(t, map[string]*remotetest.Server{"pve-a": srv})
	other := remotetest.NewSigner(t)
	stale := strings.Replace(srv.KnownHostsLine(), strings.Fields(srv.KnownHostsLine())[2],
		strings.Fields(string(sshAuthorizedKey(other)))[1], 1)
	remotetest.WriteKnownHosts(t, e.knownHosts, stale)

	out, _, code := runQuorate(t, e.args("--accept-new-host-keys", "pve-a")...)
	if code != exitFailed || !strings.Contains(out, "host key changed") || !strings.Contains(out, remote.Fingerprint(srv.HostKey())) {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
	if got := readFile(t, e.knownHosts); got != stale+"\n" {
		t.Errorf("known_hosts changed:\n%s", got)
	}
}

func TestInitUsageErrors(t *testing.T) {
	e := newInitEnv(t, nil)
	for _, args := range [][]string{
		{},
		{"--name", "bad_name", "h1"},
		{"h1", "h1"},
		{"root@h1", "admin@h2"},
		{"h1:22", "h2:2222"},
		{"h1:notaport"},
		{"--password-env", "QUORATE_TEST_SURELY_UNSET", "h1"},
	} {
		full := append([]string{"-c", e.clusterFile, "init", "--ssh-config", "none"}, args...)
		_, stderr, code := runQuorate(t, full...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
}

func sshAuthorizedKey(s interface{ PublicKey() ssh.PublicKey }) []byte {
	return ssh.MarshalAuthorizedKey(s.PublicKey())
}

func TestInitLogFileFlag(t *testing.T) {
	srv := fakePVEHost(t, "pve1", "")
	e := newInitEnv(t, map[string]*remotetest.Server{"pve-a": srv})
	logFile := filepath.Join(e.dir, "logs", "run.log")
	_, stderr, code := runQuorate(t, append([]string{"--log-file", logFile}, e.args("pve-a")...)...)
	if code != exitFailed || !strings.Contains(stderr, "The log of this run is "+logFile) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if log := readFile(t, logFile); !strings.Contains(log, "host key unknown") {
		t.Errorf("the log does not record the refused connection:\n%s", log)
	}
}

// The starter file is read later from another directory: relative --known-hosts and -i paths
// given to init are written absolute.
func TestInitWritesAbsoluteSSHPaths(t *testing.T) {
	srv := fakePVEHost(t, "pve1", "2: vmbr0    inet 198.51.100.11/24 scope global vmbr0\n")
	e := newInitEnv(t, map[string]*remotetest.Server{"pve-a": srv})
	remotetest.NewIdentity(t, e.dir, "id_lab", "")
	t.Chdir(e.dir)
	out, stderr, code := runQuorate(t, "-c", e.clusterFile, "init", "--ssh-config", e.sshConfig,
		"--known-hosts", "known_hosts", "-i", "id_lab", "--password-env", "QUORATE_TEST_PW", "--accept-new-host-keys", "pve-a")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	inv, err := inventory.Load(e.clusterFile, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if inv.SSH.KnownHosts != e.knownHosts || inv.SSH.IdentityFile != filepath.Join(e.dir, "id_lab") {
		t.Errorf("ssh section holds known_hosts %q, identity_file %q; want them absolute under %s",
			inv.SSH.KnownHosts, inv.SSH.IdentityFile, e.dir)
	}
}

// Without a terminal, a failed login says what would have worked: the root password through
// --password-env, or the passphrase of an encrypted key through $QUORATE_SSH_PASSPHRASE.
func TestInitAuthFailureSaysWhatToGive(t *testing.T) {
	pubText, err := os.ReadFile(filepath.Join("remote", "testdata", "id_ed25519_encrypted.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	srv := remotetest.Start(t, remotetest.Options{Password: testPassword, AuthorizedKeys: []ssh.PublicKey{pub}})
	e := newInitEnv(t, map[string]*remotetest.Server{"pve-a": srv})
	remotetest.WriteKnownHosts(t, e.knownHosts, srv.KnownHostsLine())
	t.Setenv("QUORATE_SSH_PASSPHRASE", "")
	os.Unsetenv("QUORATE_SSH_PASSPHRASE")
	base := []string{"-c", e.clusterFile, "init", "--ssh-config", e.sshConfig, "--known-hosts", e.knownHosts}

	out, _, code := runQuorate(t, append(base, "pve-a")...)
	if code != exitFailed || !strings.Contains(out, "authentication failed") || !strings.Contains(out, "--password-env NAME") {
		t.Errorf("no key, no password: exit %d, stdout:\n%s", code, out)
	}

	key, err := filepath.Abs(filepath.Join("remote", "testdata", "id_ed25519_encrypted"))
	if err != nil {
		t.Fatal(err)
	}
	out, _, code = runQuorate(t, append(base, "-i", key, "pve-a")...)
	if code != exitFailed || !strings.Contains(out, "set QUORATE_SSH_PASSPHRASE") || !strings.Contains(out, "ssh-add "+key) {
		t.Errorf("encrypted key, no terminal: exit %d, stdout:\n%s", code, out)
	}
	if n := strings.Count(out, "not a terminal"); n != 1 {
		t.Errorf("the reason is given %d times, want once:\n%s", n, out)
	}
}

// Two hosts behind one new jump host: its key is shown once and recorded once.
func TestInitSharedJumpHostKeyShownOnce(t *testing.T) {
	a := fakePVEHost(t, "pve1", "2: vmbr0    inet 198.51.100.11/24 scope global vmbr0\n")
	b := fakePVEHost(t, "pve2", "2: vmbr0    inet 198.51.100.12/24 scope global vmbr0\n")
	e := newInitEnv(t, map[string]*remotetest.Server{"pve-a": a, "pve-b": b})
	id := remotetest.NewIdentity(t, e.dir, "id_hop", "")
	hop := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{id.PublicKey()}})
	out, stderr, code := runQuorate(t, e.args("--accept-new-host-keys", "-i", id.File, "--jump", hop.Addr(), "pve-a", "pve-b")...)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	hopFP := remote.Fingerprint(hop.HostKey())
	if n := strings.Count(stderr, hopFP); n != 1 {
		t.Errorf("the jump host's key was shown %d times, want once:\n%s", n, stderr)
	}
	known := readFile(t, e.knownHosts)
	if n := strings.Count(known, hop.KnownHostsLine()); n != 1 {
		t.Errorf("the jump host's key is recorded %d times, want once:\n%s", n, known)
	}
	if len(hop.Forwards()) != 2 {
		t.Errorf("jump host forwarded %v, want both hosts", hop.Forwards())
	}
}
