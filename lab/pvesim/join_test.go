package pvesim

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// member is a sandbox that has created cluster "demo" and serves the join API on a
// loopback port.
type member struct {
	*sandbox
	port int
	fp   string
}

func newMember(t *testing.T, shared string) *member {
	t.Helper()
	sb := newSandbox(t, shared, "pve1", "198.51.100.11", "9.1.1")
	if code, _, stderr := sb.run("", "pvecm", "create", "demo"); code != 0 || stderr != "" {
		t.Fatalf("create: %d %s", code, stderr)
	}
	// As on a real cluster, wait until the new cluster is quorate before joining (docs/pve.md §1.4).
	if !pollUntil(context.Background(), 10*time.Second, 20*time.Millisecond, sb.env("").Quorate) {
		t.Fatal("the new cluster did not become quorate")
	}
	nodeDir := filepath.Join(sb.root, "etc/pve/nodes/pve1")
	cert, err := tls.LoadX509KeyPair(filepath.Join(nodeDir, "pve-ssl.pem"), filepath.Join(nodeDir, "pve-ssl.key"))
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewUnstartedServer(&apiServer{env: sb.env(""), tickets: map[string]bool{}})
	server.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	server.StartTLS()
	t.Cleanup(server.Close)
	_, portText, _ := net.SplitHostPort(server.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	return &member{sandbox: sb, port: port, fp: Fingerprint(cert.Certificate[0])}
}

// join runs `pvecm add 127.0.0.1 args...` on sb against m.
func (m *member) join(sb *sandbox, stdin string, args ...string) (int, string, string) {
	env := sb.env(stdin)
	env.APIPort = m.port
	code := env.Run(context.Background(), append([]string{"pvecm", "add", "127.0.0.1"}, args...))
	return code, env.Stdout.(*bytes.Buffer).String(), env.Stderr.(*bytes.Buffer).String()
}

var backupLine = regexp.MustCompile(`backup old database to '/var/lib/pve-cluster/backup/config-\d+\.sql\.gz'`)

func TestJoinOverTheAPIPrintsThePVETranscript(t *testing.T) {
	shared := t.TempDir()
	m := newMember(t, shared)
	joiner := newSandbox(t, shared, "pve2", "198.51.100.12", "9.1.1")
	code, stdout, stderr := m.join(joiner, testPassword+"\nyes\n")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
	want := "Establishing API connection with host '127.0.0.1'\n" +
		"The authenticity of host '127.0.0.1' can't be established.\n" +
		"X509 SHA256 key fingerprint is " + m.fp + ".\n" +
		"Are you sure you want to continue connecting (yes/no)? " +
		"Login succeeded.\n" +
		"check cluster join API version\n" +
		"No cluster network links passed explicitly, fallback to local node IP '198.51.100.12'\n" +
		"Request addition of this node\n" +
		"Join request OK, finishing setup locally\n" +
		"stopping pve-cluster service\n" +
		"BACKUP\n" +
		"waiting for quorum...OK\n" +
		"(re)generate node files\n" +
		"generate new node certificate\n" +
		"merge authorized SSH keys\n" +
		"generated new node certificate, restart pveproxy and pvedaemon services\n" +
		"successfully added node 'pve2' to cluster.\n"
	if got := backupLine.ReplaceAllString(stdout, "BACKUP"); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	conf := joiner.read("/etc/corosync/corosync.conf")
	if !strings.Contains(conf, "    name: pve2\n    nodeid: 2\n    quorum_votes: 1\n    ring0_addr: 198.51.100.12\n") || !strings.Contains(conf, "config_version: 2\n") {
		t.Errorf("joiner's corosync.conf:\n%s", conf)
	}
	if joiner.read("/etc/pve/corosync.conf") != conf {
		t.Errorf("joiner does not see the cluster's /etc/pve")
	}
	if joiner.read("/etc/corosync/authkey") != m.read("/etc/corosync/authkey") {
		t.Errorf("authkey differs from the cluster's")
	}
	if !joiner.exists("/etc/pve/nodes/pve2/pve-ssl.pem") || !m.exists("/etc/pve/nodes/pve2/pve-ssl.pem") {
		t.Errorf("joiner's certificate is not in the shared /etc/pve")
	}

	// The same name again is refused by the cluster node.
	again := newSandbox(t, shared, "pve2", "198.51.100.22", "9.1.1")
	code, stdout, stderr = m.join(again, testPassword+"\n", "--fingerprint", strings.ToLower(m.fp))
	if code != 0 || stderr != "Cluster join aborted!\n" || !strings.HasSuffix(stdout, "Request addition of this node\nAn error occurred on the cluster node: can't add existing node 'pve2'\n") {
		t.Errorf("duplicate join: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
}

func TestJoinFailuresUseTheRealTexts(t *testing.T) {
	shared := t.TempDir()
	m := newMember(t, shared)
	joiner := newSandbox(t, shared, "pve2", "198.51.100.12", "9.1.1")
	wrongFP := strings.Repeat("AB:", 31) + "AB"
	cases := []struct {
		name, stdin    string
		args           []string
		stdout, stderr string
	}{
		{"closed stdin", "", nil, "", "EOF while reading password\n"},
		{"fingerprint refused", testPassword + "\nno\n", nil,
			"Establishing API connection with host '127.0.0.1'\nThe authenticity of host '127.0.0.1' can't be established.\nX509 SHA256 key fingerprint is " + m.fp + ".\nAre you sure you want to continue connecting (yes/no)? ",
			"Fingerprint not verified, abort!\n"},
		{"wrong fingerprint", testPassword + "\n", []string{"--fingerprint", wrongFP},
			"Establishing API connection with host '127.0.0.1'\n", "fingerprint '" + m.fp + "' not verified, abort!\n"},
		{"wrong password", "nope\n", []string{"--fingerprint", m.fp},
			"Establishing API connection with host '127.0.0.1'\n", "401 authentication failure\n"},
	}
	for _, tc := range cases {
		code, stdout, stderr := m.join(joiner, tc.stdin, tc.args...)
		if code != 0 || stdout != tc.stdout || stderr != tc.stderr {
			t.Errorf("%s: exit %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q", tc.name, code, stdout, tc.stdout, stderr, tc.stderr)
		}
	}
	if joiner.exists("/etc/corosync/authkey") {
		t.Errorf("a failed join left an authkey")
	}
}

func TestJoinUnreachableHost(t *testing.T) {
	joiner := newSandbox(t, t.TempDir(), "pve2", "198.51.100.12", "9.1.1")
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(listener.Addr().String())
	listener.Close()
	env := joiner.env(testPassword + "\n")
	env.APIPort, _ = strconv.Atoi(port)
	code := env.Run(context.Background(), []string{"pvecm", "add", "127.0.0.1"})
	stderr := env.Stderr.(*bytes.Buffer).String()
	if want := "500 Can't connect to 127.0.0.1:" + port + " (Connection refused)\n"; code != 0 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
}

func TestJoinChecksTheNodeFirst(t *testing.T) {
	joiner := newSandbox(t, t.TempDir(), "pve2", "198.51.100.12", "9.1.1")
	joiner.write("/etc/corosync/authkey", "x")
	if code, _, stderr := joiner.run("", "pvesim", "fault", "guests"); code != 0 {
		t.Fatalf("fault guests: %s", stderr)
	}
	joiner.write("/fake/quorumtool.rc", "0")
	joiner.write("/etc/hosts", "127.0.0.1 localhost\n198.51.100.99 pve2\n")
	code, stdout, stderr := joiner.run("pw\n", "pvecm", "add", "198.51.100.11")
	want := "detected the following error(s):\n" +
		"* authentication key '/etc/corosync/authkey' already exists\n" +
		"* this host already contains virtual guests\n" +
		"* corosync is already running, is this node already in a cluster?!\n" +
		"* local node address: cannot use IP '198.51.100.99', not found on local node!\n\n"
	if code != 0 || stdout != want || stderr != "Check if node may join a cluster failed!\n" {
		t.Errorf("exit %d\nstdout %q\nwant   %q\nstderr %q", code, stdout, want, stderr)
	}

	env := joiner.env("pw\n")
	env.Cwd = "/etc/pve/nodes"
	code = env.Run(context.Background(), []string{"pvecm", "add", "198.51.100.11"})
	if stderr := env.Stderr.(*bytes.Buffer).String(); code == 0 || stderr != "Navigate out of /etc/pve before running 'pvecm add', for example by running 'cd'.\n" {
		t.Errorf("cwd rule: exit %d, stderr %q", code, stderr)
	}
	os.Remove(filepath.Join(joiner.root, "etc/corosync/authkey"))
}
