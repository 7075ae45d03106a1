package remote_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
	"golang.org/x/crypto/ssh"
)

func TestProxyJump(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{User: "root"})
	hop1 := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{f.id.PublicKey()}, User: "jumper"})
	hop2 := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{f.id.PublicKey()}, User: "jumper"})
	remotetest.WriteKnownHosts(t, f.known, f.srv.KnownHostsLine(), hop1.KnownHostsLine(), hop2.KnownHostsLine())
	f.cfg.User = "root"
	f.cfg.Jump = "jumper@" + hop1.Addr() + ",jumper@" + hop2.Addr()

	c := f.dial(t)
	for range 3 {
		res, err := c.Run(context.Background(), remote.Command{Line: "echo through"})
		if err != nil || string(res.Stdout) != "through\n" {
			t.Fatalf("Run through two hops = %q, %v", res.Stdout, err)
		}
	}
	for name, got := range map[string][]string{
		"hop1 forwards": hop1.Forwards(), "hop2 forwards": hop2.Forwards(),
	} {
		if len(got) != 1 {
			t.Errorf("%s: %v, want exactly one forwarded connection", name, got)
		}
	}
	if hop1.Forwards()[0] != hop2.Addr() || hop2.Forwards()[0] != f.srv.Addr() {
		t.Errorf("forwarding chain hop1->%v hop2->%v, want hop1->hop2->target", hop1.Forwards(), hop2.Forwards())
	}
	for name, srv := range map[string]*remotetest.Server{"hop1": hop1, "hop2": hop2, "target": f.srv} {
		if n := srv.Connections(); n != 1 {
			t.Errorf("%s saw %d connections, want 1", name, n)
		}
	}
	if !strings.Contains(logLine(f.log.String(), "ssh connected"), "jumper@"+hop1.Addr()) {
		t.Errorf("connection log does not name the jump hosts:\n%s", f.log.String())
	}
}

func TestProxyJumpHostKeyIsVerified(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	hop := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{f.id.PublicKey()}})
	f.cfg.Jump = hop.Addr() // the fixture's known_hosts knows the target only
	_, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	var unknown *remote.HostKeyUnknownError
	if !errors.As(err, &unknown) || unknown.Addr != hop.Addr() || !strings.Contains(err.Error(), "jump host") {
		t.Fatalf("Dial error = %v, want the jump host's key reported unknown", err)
	}
	if n := f.srv.Connections(); n != 0 {
		t.Errorf("target saw %d connections through an unverified jump host", n)
	}
}

// The target's root password is for the target: a jump host never sees it.
func TestProxyJumpNeverGetsThePassword(t *testing.T) {
	t.Parallel()
	const pw = "root-pw-of-the-target"
	f := newFixture(t, remotetest.Options{Password: pw})
	hop := remotetest.Start(t, remotetest.Options{Password: pw}) // accepts no key
	remotetest.WriteKnownHosts(t, f.known, f.srv.KnownHostsLine(), hop.KnownHostsLine())
	f.cfg.Jump = hop.Addr()
	f.cfg.Password = func() (string, error) { return pw, nil }
	_, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	if !errors.Is(err, remote.ErrAuth) || !strings.Contains(err.Error(), "jump host") {
		t.Fatalf("Dial error = %v, want ErrAuth at the jump host", err)
	}
	for _, a := range hop.AuthAttempts() {
		if a.Method == "password" {
			t.Errorf("the jump host was offered a password: %+v", hop.AuthAttempts())
		}
	}
}

// ~/.ssh/config is honoured: Host alias, HostName, Port, User, IdentityFile,
// UserKnownHostsFile and ProxyJump through another alias.
func TestSSHConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{User: "admin"})
	hop := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{f.id.PublicKey()}, User: "jumper"})
	known := remotetest.WriteKnownHosts(t, filepath.Join(f.dir, "hosts"), f.srv.KnownHostsLine(), hop.KnownHostsLine())
	sshConfig := fmt.Sprintf(`# a user's ssh config
Host pve1 pve1.lab
    HostName %s
    Port %d
    User admin
    IdentityFile %s
    UserKnownHostsFile %s
    ProxyJump bastion

Host bastion
    HostName 127.0.0.1
    Port %d
    User jumper

Host *
    IdentityFile %s
    IdentityFile %s
`, f.srv.Host(), f.srv.Port(), f.id.File, known, hop.Port(), filepath.Join(f.dir, "does-not-exist"), f.id.File)
	cfgFile := filepath.Join(f.dir, "config")
	if err := os.WriteFile(cfgFile, []byte(sshConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := remote.Config{SSHConfigFile: cfgFile, AgentSocket: "none", Log: f.cfg.Log}
	c, err := remote.Dial(context.Background(), "pve1", cfg)
	if err != nil {
		t.Fatalf("Dial pve1 via ssh config: %v", err)
	}
	defer c.Close()
	if res, err := c.Run(context.Background(), remote.Command{Line: "echo hi"}); err != nil || string(res.Stdout) != "hi\n" {
		t.Errorf("Run = %q, %v", res.Stdout, err)
	}
	if c.Host() != "pve1" {
		t.Errorf("Host() = %q, want the alias", c.Host())
	}
	if len(hop.Forwards()) != 1 || hop.Forwards()[0] != f.srv.Addr() {
		t.Errorf("ProxyJump bastion not used: forwards %v", hop.Forwards())
	}
	// An explicit Config value wins over the ssh config.
	cfg.User = "nobody"
	if _, err := remote.Dial(context.Background(), "pve1", cfg); !errors.Is(err, remote.ErrAuth) {
		t.Errorf("Dial as Config.User nobody = %v, want ErrAuth (server accepts admin only)", err)
	}
}

func TestSSHConfigMissingExplicitFile(t *testing.T) {
	t.Parallel()
	cfg := remote.Config{SSHConfigFile: filepath.Join(t.TempDir(), "nope")}
	if _, err := remote.Dial(context.Background(), "pve1", cfg); err == nil || !strings.Contains(err.Error(), "ssh config") {
		t.Errorf("Dial with a missing ssh config = %v, want an error naming it", err)
	}
}

// quorate init --accept-new-host-keys through a jump host records both keys, each shown first.
func TestProxyJumpAcceptNewHostKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	hop := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{f.id.PublicKey()}})
	f.cfg.KnownHostsFile = filepath.Join(f.dir, "fresh_known_hosts")
	f.cfg.Jump = hop.Addr()
	f.cfg.AcceptNewHostKeys = true
	var shown []string
	f.cfg.OnNewHostKey = func(host string, key ssh.PublicKey) error {
		shown = append(shown, host)
		return nil
	}
	c := f.dial(t)
	c.Close()
	if len(shown) != 2 {
		t.Errorf("OnNewHostKey saw %v, want the jump host and the target", shown)
	}
	data, err := os.ReadFile(f.cfg.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{hop.KnownHostsLine(), f.srv.KnownHostsLine()} {
		if !strings.Contains(string(data), line+"\n") {
			t.Errorf("known_hosts lacks %q:\n%s", line, data)
		}
	}
}
