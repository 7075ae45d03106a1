// Package remotetest runs in-process SSH servers on 127.0.0.1 for tests of remote and of the
// packages above it. A Server executes exec requests with the local "sh -c" (as the test
// process's own user, on the test machine), serves SFTP, forwards direct-tcpip channels to
// loopback addresses (so it can be a ProxyJump hop), treats signal requests like sshd, and
// counts connections, sessions, commands and signals so tests can
// assert what the client did. A Proxy in front of a Server can make it go silent.
//
// A typical test:
//
//	dir := t.TempDir()
//	id := remotetest.NewIdentity(t, dir, "id_ed25519", "")
//	srv := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{id.PublicKey()}})
//	known := remotetest.WriteKnownHosts(t, filepath.Join(dir, "known_hosts"), srv.KnownHostsLine())
//	c, err := remote.Dial(ctx, srv.Addr(), remote.Config{SSHConfigFile: "none", AgentSocket: "none",
//		KnownHostsFile: known, IdentityFiles: []string{id.File}})
//
// To make a host answer like a PVE node, put scripts named like the commands (hostname, ip,
// pvecm) in a directory and prepend it to PATH with Options.Env; remote wraps every command
// line in a small sh supervisor, so match on the command, not on the exact exec string.
// Several servers all listen on 127.0.0.1: give each its own ssh config alias (Host/HostName/
// Port) when the code under test needs distinct host names.
package remotetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Options shape a Server. The zero value is a server with a fresh ed25519 host key that
// accepts nobody.
type Options struct {
	HostKey ssh.Signer // default: a fresh ed25519 key
	// ExtraHostKeys are offered too, as sshd offers one key per type (ed25519, ecdsa, rsa);
	// the client's algorithm preference picks which one it sees.
	ExtraHostKeys  []ssh.Signer
	AuthorizedKeys []ssh.PublicKey // public keys accepted for any user
	Password       string          // accepted password; "" disables password auth
	User           string          // the only user accepted; "" accepts any
	// StartupNoise is written to stdout and stderr of every exec session before the command
	// runs, as a chatty root .bashrc would.
	StartupNoise string
	// Shell is the login shell that runs each exec request as "Shell -c request", as sshd
	// does; default "sh". Point it at bash with BASH_ENV set in Env for a real .bashrc, or
	// at a script that prints a refusal and exits 1 for a nologin account.
	Shell string
	Env   []string // added to the environment of executed commands
	Dir   string   // working directory of commands and SFTP; default the test's cwd
	// StallHandshake accepts TCP connections and never speaks SSH (a hung sshd).
	StallHandshake bool
	// HonourSignals delivers "signal" requests to the session's process, as OpenSSH does for
	// users other than root. By default they are only recorded, as OpenSSH does for root
	// ("session signalling requires privilege separation").
	HonourSignals bool
	// CorruptUploads flips the last byte of every SFTP write before the server stores it, as
	// a faulty disk or transfer would: the file ends up with the right size and wrong bytes.
	CorruptUploads bool
}

// AuthAttempt is one authentication request the server saw.
type AuthAttempt struct {
	User   string
	Method string // "publickey" or "password"
	OK     bool
}

// Server is a running in-process SSH server. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	listener net.Listener
	hostKey  ssh.Signer
	config   *ssh.ServerConfig

	mu         sync.Mutex
	authorized []ssh.PublicKey
	conns      int
	sessions   int
	commands   []string
	signals    []string
	closed     int // sessions closed by the client while their command still ran
	auths      []AuthAttempt
	forwards   []string
	groups     []int // process groups of the commands started, killed when the server stops
	active     map[net.Conn]bool
	wg         sync.WaitGroup
}

// Start starts a server on 127.0.0.1 with an ephemeral port; it stops at the end of the test.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.HostKey == nil {
		opts.HostKey = NewSigner(t)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("remotetest: listen: %v", err)
	}
	s := &Server{opts: opts, listener: l, hostKey: opts.HostKey, active: map[net.Conn]bool{},
		authorized: slices.Clone(opts.AuthorizedKeys)}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: s.checkPublicKey,
		ServerVersion:     "SSH-2.0-remotetest",
	}
	if opts.Password != "" {
		s.config.PasswordCallback = s.checkPassword
	}
	s.config.AddHostKey(opts.HostKey)
	for _, k := range opts.ExtraHostKeys {
		s.config.AddHostKey(k)
	}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.stop)
	return s
}

// NewSigner returns a fresh ed25519 signer.
func NewSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Addr is "127.0.0.1:port".
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Host is "127.0.0.1".
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the listening port.
func (s *Server) Port() int { return s.listener.Addr().(*net.TCPAddr).Port }

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsLine is the known_hosts line for this server, "[127.0.0.1]:port ssh-ed25519 ...".
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey())
}

// KnownHostsLineFor is the known_hosts line for this server reached at addr, e.g. through
// a Proxy.
func (s *Server) KnownHostsLineFor(addr string) string {
	return knownhosts.Line([]string{knownhosts.Normalize(addr)}, s.HostKey())
}

// Connections is the number of TCP connections accepted so far.
func (s *Server) Connections() int { s.mu.Lock(); defer s.mu.Unlock(); return s.conns }

// Sessions is the number of session channels opened so far.
func (s *Server) Sessions() int { s.mu.Lock(); defer s.mu.Unlock(); return s.sessions }

// Commands are the exec requests received, in order, exactly as sent.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// Signals are the signal names ("TERM", "KILL") received on sessions, in order.
func (s *Server) Signals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.signals)
}

// ClosedWhileRunning counts sessions the client closed before their command ended.
func (s *Server) ClosedWhileRunning() int { s.mu.Lock(); defer s.mu.Unlock(); return s.closed }

// AuthAttempts are the authentication requests seen, in order.
func (s *Server) AuthAttempts() []AuthAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auths)
}

// Forwards are the "host:port" targets of direct-tcpip channels opened through this server.
func (s *Server) Forwards() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.forwards)
}

// Eventually waits until cond holds, failing the test after timeout. For assertions on
// what the server saw, which it records asynchronously.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("remotetest: after %v still not true: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) stop() {
	s.listener.Close()
	s.mu.Lock()
	for c := range s.active {
		c.Close()
	}
	for _, pgid := range s.groups {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		s.active[conn] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.active, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			s.serveConn(conn)
		}()
	}
}

func (s *Server) serveConn(conn net.Conn) {
	if s.opts.StallHandshake {
		buf := make([]byte, 1024)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}
	sc, chans, reqs, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			s.mu.Lock()
			s.sessions++
			s.mu.Unlock()
			ch, chReqs, err := nc.Accept()
			if err != nil {
				continue
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serveSession(ch, chReqs) }()
		case "direct-tcpip":
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.forward(nc) }()
		default:
			nc.Reject(ssh.UnknownChannelType, "unsupported channel type")
		}
	}
}

// Authorize adds a public key accepted from now on.
func (s *Server) Authorize(key ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorized = append(s.authorized, key)
}

func (s *Server) checkPublicKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	s.mu.Lock()
	known := slices.ContainsFunc(s.authorized, func(k ssh.PublicKey) bool {
		return string(k.Marshal()) == string(key.Marshal())
	})
	s.mu.Unlock()
	ok := s.userOK(meta.User()) && known
	s.recordAuth(meta.User(), "publickey", ok)
	if !ok {
		return nil, fmt.Errorf("key %s not authorized", ssh.FingerprintSHA256(key))
	}
	return nil, nil
}

func (s *Server) checkPassword(meta ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	ok := s.userOK(meta.User()) && string(pw) == s.opts.Password
	s.recordAuth(meta.User(), "password", ok)
	if !ok {
		return nil, fmt.Errorf("wrong password")
	}
	return nil, nil
}

func (s *Server) userOK(user string) bool { return s.opts.User == "" || user == s.opts.User }

func (s *Server) recordAuth(user, method string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auths = append(s.auths, AuthAttempt{User: user, Method: method, OK: ok})
}

// forward serves a direct-tcpip channel, the building block of ProxyJump. Only loopback
// targets are allowed: a test must not reach beyond 127.0.0.0/8.
func (s *Server) forward(nc ssh.NewChannel) {
	var req struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &req); err != nil {
		nc.Reject(ssh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	target := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
	s.mu.Lock()
	s.forwards = append(s.forwards, target)
	s.mu.Unlock()
	if ip := net.ParseIP(req.Host); req.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		nc.Reject(ssh.Prohibited, "remotetest forwards to loopback addresses only")
		return
	}
	conn, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { copyAndClose(conn, ch); done <- struct{}{} }()
	go func() { copyAndClose(ch, conn); done <- struct{}{} }()
	<-done
	conn.Close()
	ch.Close()
	<-done
}
