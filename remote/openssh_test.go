package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
)

// startOpenSSH runs the machine's real sshd on 127.0.0.1 as root, in a private mount
// namespace (for its /run/sshd), with a chatty BASH_ENV for every session. The in-process
// server imitates sshd; this checks the imitation where it matters: root sessions, whose
// signal requests OpenSSH refuses, and the login shell's output. Skipped unless root with
// sshd, unshare and bash at hand.
func startOpenSSH(t *testing.T) (addr, knownHosts, identity string) {
	t.Helper()
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("needs root (and not -short)")
	}
	for _, tool := range []string{"/usr/sbin/sshd", "unshare", "bash", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	id := remotetest.NewIdentity(t, dir, "id_ed25519", "")
	pub, _ := os.ReadFile(id.File + ".pub")
	writeFile(t, filepath.Join(dir, "authorized_keys"), string(pub))
	writeFile(t, filepath.Join(dir, "rc"), "echo 'Welcome to pve1'; echo 'rc: warning' >&2\n")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	writeFile(t, filepath.Join(dir, "sshd_config"), fmt.Sprintf(`ListenAddress %s
HostKey %s
AuthorizedKeysFile %s/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile none
Subsystem sftp internal-sftp
SetEnv BASH_ENV=%s/rc
`, addr, hostKey, dir, dir))

	sshd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs none /run && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f "+filepath.Join(dir, "sshd_config"))
	var log bytes.Buffer
	sshd.Stdout, sshd.Stderr = &log, &log
	if err := sshd.Start(); err != nil {
		t.Skipf("cannot start sshd: %v", err)
	}
	t.Cleanup(func() { sshd.Process.Kill(); sshd.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Skipf("sshd did not start: %s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	line, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	known := remotetest.WriteKnownHosts(t, filepath.Join(dir, "known_hosts"),
		fmt.Sprintf("[127.0.0.1]:%d %s", l.Addr().(*net.TCPAddr).Port, strings.TrimSpace(string(line))))
	return addr, known, id.File
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAgainstOpenSSH(t *testing.T) {
	t.Parallel()
	addr, known, identity := startOpenSSH(t)
	c, err := remote.Dial(context.Background(), addr, remote.Config{SSHConfigFile: "none", AgentSocket: "none",
		KnownHostsFile: known, IdentityFiles: []string{identity}, User: "root"})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()

	res, err := c.Run(context.Background(), remote.Command{Line: `echo "$LC_ALL"; cat; echo err >&2; exit 3`, Stdin: []byte("in\n")})
	if string(res.Stdout) != "C\nin\n" || string(res.Stderr) != "err\n" || res.ExitCode != 3 || err == nil {
		t.Errorf("Run = stdout %q stderr %q exit %d %v: want the command's own output and status", res.Stdout, res.Stderr, res.ExitCode, err)
	}

	start := time.Now()
	res, err = c.Run(context.Background(), remote.Command{Line: "sh -c 'echo $$; exec sleep 60'; echo never", Timeout: time.Second})
	if d := time.Since(start); err == nil || d > 2*time.Second {
		t.Errorf("timed-out Run = %v after %v", err, d)
	}
	if pid, perr := strconv.Atoi(strings.TrimSpace(string(res.Stdout))); perr != nil {
		t.Errorf("stdout %q: want a pid", res.Stdout)
	} else {
		remotetest.Eventually(t, 3*time.Second, "the root session's command ended", func() bool { return processGone(pid) })
	}

	target := filepath.Join(t.TempDir(), "uploaded")
	if err := c.Upload(context.Background(), target, []byte("data\n"), 0o640); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if got, err := c.Download(context.Background(), target); err != nil || string(got) != "data\n" {
		t.Errorf("Download = %q, %v", got, err)
	}
}
