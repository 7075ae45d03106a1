package lab_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/lab"
)

// pvesimLab brings up a lab for a test of the PVE stand-in and downs it afterwards.
func pvesimLab(t *testing.T, hosts int) *lab.Lab {
	t.Helper()
	return pvesimLabWith(t, lab.Options{Hosts: hosts})
}

func pvesimLabWith(t *testing.T, o lab.Options) *lab.Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root (namespaces, mounts)")
	}
	for _, tool := range []string{"ip", "nsenter", "nft", "ssh", "/usr/sbin/sshd", "/usr/sbin/corosync", "corosync-quorumtool", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("lab: %s missing: install the packages of .ci/deps", tool)
		}
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o.Name = "s" + hex.EncodeToString(suffix)
	l, err := lab.Up(ctx, o)
	if err != nil {
		t.Fatalf("lab.Up: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Down(context.Background()); err != nil {
			t.Errorf("lab.Down: %v", err)
		}
	})
	return l
}

func testCtx(t *testing.T, limit time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

// sshRun runs cmd on host by real ssh from the controller, feeding stdin (no terminal).
func sshRun(t *testing.T, l *lab.Lab, host, stdin, cmd string) lab.Result {
	t.Helper()
	r, err := l.Exec(testCtx(t, 90*time.Second), "ctl", strings.NewReader(stdin), "ssh", "-o", "BatchMode=yes", "root@"+host, cmd)
	if err != nil {
		t.Fatalf("ssh %s %q: %v", host, cmd, err)
	}
	return r
}

func password(t *testing.T, l *lab.Lab) string {
	t.Helper()
	pw, err := l.Password()
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

// apiFingerprint is what `pvenode cert info --output-format json` reports for the
// certificate pveproxy serves.
func apiFingerprint(t *testing.T, l *lab.Lab, host string) string {
	t.Helper()
	r := sshRun(t, l, host, "", "pvenode cert info --output-format json")
	var certs []struct {
		Filename    string `json:"filename"`
		Fingerprint string `json:"fingerprint"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &certs); err != nil {
		t.Fatalf("pvenode cert info on %s: %v: %q %q", host, err, r.Stdout, r.Stderr)
	}
	found := ""
	for _, c := range certs {
		if c.Filename == "pveproxy-ssl.pem" || (c.Filename == "pve-ssl.pem" && found == "") {
			found = c.Fingerprint
		}
	}
	if found == "" {
		t.Fatalf("no API certificate in %s", r.Stdout)
	}
	return found
}

// eventually polls check until it holds or the limit passes.
func eventually(t *testing.T, limit time.Duration, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, detail := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s", what, limit, detail)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var backupLine = regexp.MustCompile(`backup old database to '/var/lib/pve-cluster/backup/config-\d+\.sql\.gz'`)

// joinTranscript is docs/pve.md §2.2's transcript for a join without --fingerprint.
func joinTranscript(member, fp, joinerIP, joiner string) string {
	return "Establishing API connection with host '" + member + "'\n" +
		"The authenticity of host '" + member + "' can't be established.\n" +
		"X509 SHA256 key fingerprint is " + fp + ".\n" +
		"Are you sure you want to continue connecting (yes/no)? " +
		"Login succeeded.\n" +
		"check cluster join API version\n" +
		"No cluster network links passed explicitly, fallback to local node IP '" + joinerIP + "'\n" +
		"Request addition of this node\n" +
		"Join request OK, finishing setup locally\n" +
		"stopping pve-cluster service\n" +
		"BACKUP\n" +
		"waiting for quorum...OK\n" +
		"(re)generate node files\n" +
		"generate new node certificate\n" +
		"merge authorized SSH keys\n" +
		"generated new node certificate, restart pveproxy and pvedaemon services\n" +
		"successfully added node '" + joiner + "' to cluster.\n"
}

// terminal drives a command that runs under `ssh -tt` (a remote pty) like a person:
// it waits for a prompt before it types.
type terminal struct {
	stdin  *io.PipeWriter
	mu     sync.Mutex
	output bytes.Buffer
	done   chan struct{}
	code   int
	err    error
}

func startTerminal(t *testing.T, l *lab.Lab, host, cmd string) *terminal {
	t.Helper()
	stdinR, stdinW := io.Pipe()
	term := &terminal{stdin: stdinW, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		term.code, term.err = l.Run(testCtx(t, 2*time.Minute), "ctl", lab.Stdio{Stdin: stdinR, Stdout: term, Stderr: term},
			"ssh", "-tt", "-o", "BatchMode=yes", "root@"+host, cmd)
	}()
	t.Cleanup(func() { stdinW.Close() })
	return term
}

func (term *terminal) Write(p []byte) (int, error) {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.output.Write(p)
}

func (term *terminal) text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.output.String()
}

func (term *terminal) expect(t *testing.T, prompt string) {
	t.Helper()
	eventually(t, 30*time.Second, "prompt "+prompt, func() (bool, string) {
		return strings.Contains(term.text(), prompt), term.text()
	})
}

func (term *terminal) send(t *testing.T, text string) {
	t.Helper()
	if _, err := term.stdin.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
}

func (term *terminal) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-term.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("terminal session did not end: %q", term.text())
	}
	if term.err != nil {
		t.Fatal(term.err)
	}
	return term.code, term.text()
}
