package remotetest

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func dialServer(t *testing.T, addr string, srv *Server, id Identity) *ssh.Client {
	t.Helper()
	known := WriteKnownHosts(t, filepath.Join(t.TempDir(), "known_hosts"), srv.KnownHostsLineFor(addr))
	cb, err := knownhosts.New(known)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(id.Signer)},
		HostKeyCallback: cb, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The server must never become a way out of 127.0.0.0/8: forwarding elsewhere is refused
// before any packet is sent.
func TestForwardingIsLoopbackOnly(t *testing.T) {
	id := NewIdentity(t, t.TempDir(), "id", "")
	srv := Start(t, Options{AuthorizedKeys: []ssh.PublicKey{id.PublicKey()}})
	c := dialServer(t, srv.Addr(), srv, id)
	if _, err := c.Dial("tcp", "198.51.100.1:22"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("forwarding to 198.51.100.1 = %v, want a refusal", err)
	}
	conn, err := c.Dial("tcp", srv.Addr()) // loopback: allowed, e.g. to itself
	if err != nil {
		t.Fatalf("forwarding to %s: %v", srv.Addr(), err)
	}
	conn.Close()
	if got := srv.Forwards(); len(got) != 2 {
		t.Errorf("Forwards() = %v, want both requests recorded", got)
	}
}

func TestExecAndSignalsRecorded(t *testing.T) {
	id := NewIdentity(t, t.TempDir(), "id", "")
	srv := Start(t, Options{AuthorizedKeys: []ssh.PublicKey{id.PublicKey()}, StartupNoise: "noise\n",
		Env: []string{"REMOTETEST_VAR=set"}})
	c := dialServer(t, srv.Addr(), srv, id)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout = &out
	sess.Stdin = strings.NewReader("from stdin")
	if err := sess.Run(`cat; echo " $REMOTETEST_VAR"; exit 7`); err == nil {
		t.Error("exit 7 reported as success")
	} else if ee, ok := err.(*ssh.ExitError); !ok || ee.ExitStatus() != 7 {
		t.Errorf("Run = %v, want exit status 7", err)
	}
	if out.String() != "noise\nfrom stdin set\n" {
		t.Errorf("stdout = %q", out.String())
	}
	if got := srv.Commands(); len(got) != 1 || !strings.HasPrefix(got[0], "cat;") {
		t.Errorf("Commands() = %q", got)
	}
	if srv.Connections() != 1 || srv.Sessions() != 1 {
		t.Errorf("Connections %d Sessions %d, want 1 and 1", srv.Connections(), srv.Sessions())
	}
}

func TestProxyFreeze(t *testing.T) {
	id := NewIdentity(t, t.TempDir(), "id", "")
	srv := Start(t, Options{AuthorizedKeys: []ssh.PublicKey{id.PublicKey()}})
	p := StartProxy(t, srv.Addr())
	c := dialServer(t, p.Addr(), srv, id)
	p.Freeze()
	answered := make(chan error, 1)
	go func() { _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); answered <- err }()
	select {
	case err := <-answered:
		t.Fatalf("a frozen proxy passed a request through (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	p.Unfreeze()
	select {
	case <-answered:
	case <-time.After(3 * time.Second):
		t.Fatal("no answer after Unfreeze")
	}
}
