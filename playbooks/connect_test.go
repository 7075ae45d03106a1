package playbooks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/crypto/ssh"

	"github.com/quorate/quorate/playbooks"
	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
)

// hosts is a set of in-process SSH servers, each reached through its own ssh config alias
// (they all listen on 127.0.0.1), with a client key they accept and a known_hosts file.
type hosts struct {
	dir       string
	id        remotetest.Identity
	sshConfig strings.Builder
	known     []string
}

func newHosts(t *testing.T) *hosts {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir) // nothing of the user running the tests
	t.Setenv("SSH_AUTH_SOCK", "")
	return &hosts{dir: dir, id: remotetest.NewIdentity(t, dir, "id_ed25519", "")}
}

// server starts a server and gives it alias; known says whether known_hosts has its key.
func (h *hosts) server(t *testing.T, alias string, known bool) *remotetest.Server {
	t.Helper()
	s := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{h.id.PublicKey()}})
	h.alias(alias, s.Addr())
	if known {
		h.known = append(h.known, s.KnownHostsLine())
	}
	return s
}

func (h *hosts) alias(alias, addr string) {
	host, port, _ := net.SplitHostPort(addr)
	fmt.Fprintf(&h.sshConfig, "Host %s\n  HostName %s\n  Port %s\n", alias, host, port)
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// config writes the ssh config and known_hosts and returns a Config using only them.
func (h *hosts) config(t *testing.T) remote.Config {
	t.Helper()
	cfgFile := filepath.Join(h.dir, "ssh_config")
	if err := os.WriteFile(cfgFile, []byte(h.sshConfig.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(h.dir, "known_hosts")
	if err := os.WriteFile(known, []byte(strings.Join(h.known, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return remote.Config{
		SSHConfigFile:  cfgFile,
		AgentSocket:    "none",
		KnownHostsFile: known,
		IdentityFiles:  []string{h.id.File},
		DialTimeout:    10 * time.Second,
		Retries:        -1, // a refused connection fails at once
	}
}

func (h *hosts) knownHosts(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(h.dir, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func connect(t *testing.T, s *playbooks.Session, cfg remote.Config, targets ...playbooks.Target) *playbooks.Conns {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns := s.Connect(ctx, cfg, targets)
	t.Cleanup(conns.Close)
	return conns
}

func run(t *testing.T, c *remote.Client, line string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Run(ctx, remote.Command{Line: line})
	return string(res.Stdout), err
}

// barrier holds every TCP connection made to its fronts until n of them are open at once,
// then lets each through to its server. Hosts dialled one after another never get there:
// the first handshake waits for connections that are not made until it is over.
type barrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, all: make(chan struct{})} }

// front listens on 127.0.0.1 and relays to target through the barrier.
func (b *barrier) front(t *testing.T, target string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			if b.arrived++; b.arrived == b.n {
				close(b.all)
			}
			b.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer client.Close()
				select {
				case <-b.all:
				case <-time.After(5 * time.Second):
					return // dialled one at a time: this handshake fails
				}
				server, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer server.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(server, client); done <- struct{}{} }()
				go func() { io.Copy(client, server); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return l.Addr().String()
}

func TestConnectDialsInParallelOneConnectionPerHost(t *testing.T) {
	h := newHosts(t)
	b := newBarrier(3)
	var servers []*remotetest.Server
	var targets []playbooks.Target
	for i, name := range []string{"pve1", "pve2", "pve3"} {
		s := remotetest.Start(t, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{h.id.PublicKey()}})
		front := b.front(t, s.Addr())
		alias := fmt.Sprintf("host-%c", 'a'+i)
		h.alias(alias, front)
		h.known = append(h.known, s.KnownHostsLineFor(front))
		servers = append(servers, s)
		targets = append(targets, playbooks.Target{Name: name, Address: alias})
	}
	conns := connect(t, &playbooks.Session{}, h.config(t), targets...)
	if err := conns.Err(); err != nil {
		t.Fatalf("Connect: %v (were the hosts dialled one after another?)", err)
	}
	all := conns.All()
	if len(all) != 3 {
		t.Fatalf("%d connections for 3 targets", len(all))
	}
	for i, c := range all {
		if c.Target != targets[i] || c.Client == nil || c.Err != nil || c.NewKey {
			t.Errorf("connection %d: %+v, want %+v connected with a known key", i, c, targets[i])
		}
	}
	// A run asks each host many things: over its one connection.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 3 {
		err := conns.Each(ctx, func(ctx context.Context, c *playbooks.Conn) error {
			out, err := run(t, c.Client, "echo "+c.Name)
			if err == nil && out != c.Name+"\n" {
				err = fmt.Errorf("got %q", out)
			}
			return err
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	for i, s := range servers {
		if n := s.Connections(); n != 1 {
			t.Errorf("%s: %d SSH connections for a run of 3 commands, want 1", targets[i].Name, n)
		}
		if n := len(s.Commands()); n != 3 {
			t.Errorf("%s: %d commands, want 3", targets[i].Name, n)
		}
	}
}

func TestConnectUnreachableHost(t *testing.T) {
	const raw = "the closed port itself"
	tests := []struct {
		name   string
		target playbooks.Target
		label  string
	}{
		{name: "named by its node name", target: playbooks.Target{Name: "pve3", Address: "host-c"}, label: "pve3"},
		{name: "named by its address, an alias", target: playbooks.Target{Address: "host-c"}, label: "host-c"},
		{name: "named by its address, an IP and port", target: playbooks.Target{Address: raw}, label: raw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHosts(t)
			a, b := h.server(t, "host-a", true), h.server(t, "host-b", true)
			closed := closedPort(t)
			h.alias("host-c", closed)
			if tt.target.Address == raw {
				tt.target.Address, tt.label = closed, closed
			}
			conns := connect(t, &playbooks.Session{}, h.config(t),
				playbooks.Target{Name: "pve1", Address: "host-a"}, playbooks.Target{Name: "pve2", Address: "host-b"}, tt.target)

			down := conns.All()[2]
			var he *playbooks.HostError
			if down.Client != nil || !errors.As(down.Err, &he) || he.Host != tt.label {
				t.Fatalf("unreachable host: client %v, error %#v; want a *HostError for %s", down.Client, down.Err, tt.label)
			}
			// "pve3 (127.0.0.1:N): ..." says where a host named otherwise was dialled.
			if msg := down.Err.Error(); !(strings.HasPrefix(msg, tt.label+": ") || strings.HasPrefix(msg, tt.label+" (")) || strings.Count(msg, tt.label) != 1 {
				t.Errorf("error %q: want it to start with %s and name it once", msg, tt.label)
			}

			err := conns.Err()
			var merr *multierror.Error
			if !errors.As(err, &merr) || len(merr.Errors) != 1 {
				t.Fatalf("Conns.Err() = %#v, want a *multierror.Error of one host", err)
			}
			if !errors.Is(err, remote.ErrUnreachable) {
				t.Errorf("errors.Is(%v, remote.ErrUnreachable) = false", err)
			}
			var re *remote.Error
			if !errors.As(err, &re) || re.Host != tt.target.Address {
				t.Errorf("errors.As(%v, *remote.Error) = %v, want the transport's error for %s", err, re, tt.target.Address)
			}
			if msg := err.Error(); strings.Count(msg, tt.label) != 1 || strings.Contains(msg, "pve1") || strings.Contains(msg, "pve2") {
				t.Errorf("Conns.Err() %q: want %s named once and the reached hosts not at all", msg, tt.label)
			}

			// The others are unaffected.
			for i, s := range []*remotetest.Server{a, b} {
				c := conns.All()[i]
				if out, err := run(t, c.Client, "echo up"); err != nil || out != "up\n" {
					t.Errorf("%s: %q, %v", c.Name, out, err)
				}
				if s.Connections() != 1 {
					t.Errorf("%s: %d connections", c.Name, s.Connections())
				}
			}
		})
	}
}

func TestEachNamesEveryFailingHostOnce(t *testing.T) {
	h := newHosts(t)
	for _, alias := range []string{"host-a", "host-b", "host-c"} {
		h.server(t, alias, true)
	}
	h.alias("host-d", closedPort(t))
	conns := connect(t, &playbooks.Session{}, h.config(t),
		playbooks.Target{Name: "pve1", Address: "host-a"}, playbooks.Target{Name: "pve2", Address: "host-b"},
		playbooks.Target{Address: "host-c"}, playbooks.Target{Name: "pve4", Address: "host-d"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tests := []struct {
		name string
		fail map[string]bool // by label: these hosts' commands exit 3
	}{
		{name: "all succeed"},
		{name: "two fail", fail: map[string]bool{"pve1": true, "host-c": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var called []string
			err := conns.Each(ctx, func(ctx context.Context, c *playbooks.Conn) error {
				mu.Lock()
				called = append(called, c.Label())
				mu.Unlock()
				line := "true"
				if tt.fail[c.Label()] {
					line = "echo broken >&2; exit 3"
				}
				_, err := run(t, c.Client, line)
				return err
			})
			slices.Sort(called)
			if want := []string{"host-c", "pve1", "pve2"}; !slices.Equal(called, want) {
				t.Errorf("ran on %v, want the reached hosts %v", called, want)
			}
			if len(tt.fail) == 0 {
				if err != nil {
					t.Errorf("Each = %v, want nil", err)
				}
				return
			}
			var merr *multierror.Error
			if !errors.As(err, &merr) || len(merr.Errors) != len(tt.fail) {
				t.Fatalf("Each = %#v, want a *multierror.Error with one error per failing host", err)
			}
			var failed []string
			for _, e := range merr.Errors {
				var he *playbooks.HostError
				var exit *remote.ExitError
				if !errors.As(e, &he) || !errors.As(e, &exit) || exit.Code != 3 {
					t.Errorf("%v: want a *HostError reaching the command's *remote.ExitError", e)
					continue
				}
				failed = append(failed, he.Host)
				if msg := e.Error(); !strings.HasPrefix(msg, he.Host+": ") || strings.Count(msg, he.Host) != 1 {
					t.Errorf("%q: want it to start with %s and name it once", msg, he.Host)
				}
			}
			slices.Sort(failed)
			if !slices.Equal(failed, []string{"host-c", "pve1"}) {
				t.Errorf("failures of %v, want host-c and pve1", failed)
			}
			// The unreachable host is Err's to report, not Each's.
			if msg := err.Error(); strings.Contains(msg, "pve2") || strings.Contains(msg, "pve4") {
				t.Errorf("Each's error %q names a host that did not fail in it", msg)
			}
		})
	}
}

func TestConnectShowsANewHostKeyOnce(t *testing.T) {
	tests := []struct {
		name   string
		accept bool
		jump   bool // both new-key targets are reached through one jump host whose key is new
	}{
		{name: "a new host reached twice", accept: true},
		{name: "a new jump host shared by two targets", accept: true, jump: true},
		{name: "a new host without --accept-new-host-keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHosts(t)
			known := h.server(t, "host-b", true)
			var fresh, hop *remotetest.Server
			var targets []playbooks.Target
			if tt.jump {
				fresh = h.server(t, "host-a", true)
				h.server(t, "host-c", true)
				hop = h.server(t, "jump", false)
				targets = []playbooks.Target{{Name: "pve1", Address: "host-a"}, {Name: "pve3", Address: "host-c"}}
			} else {
				fresh = h.server(t, "host-a", false)
				h.alias("host-a2", fresh.Addr()) // the same host under a second alias
				targets = []playbooks.Target{{Name: "pve1", Address: "host-a"}, {Name: "pve1-again", Address: "host-a2"}}
			}
			cfg := h.config(t)
			cfg.AcceptNewHostKeys = tt.accept
			var notes bytes.Buffer
			s := &playbooks.Session{Notes: &notes}
			// The known host goes direct; the others through the jump host, when there is one.
			direct := connect(t, s, cfg, playbooks.Target{Name: "pve2", Address: "host-b"})
			if tt.jump {
				cfg.Jump = "jump"
			}
			conns := connect(t, s, cfg, targets...)

			if c := direct.All()[0]; c.Err != nil || c.NewKey {
				t.Errorf("the known host: err %v, new key %v", c.Err, c.NewKey)
			}
			newKey := fresh.HostKey()
			if tt.jump {
				newKey = hop.HostKey()
			}
			fp := remote.Fingerprint(newKey)
			if strings.Contains(notes.String(), remote.Fingerprint(known.HostKey())) {
				t.Errorf("the known key was shown:\n%s", notes.String())
			}
			if !tt.accept {
				if notes.Len() != 0 {
					t.Errorf("a key that is refused was shown as being recorded:\n%s", notes.String())
				}
				for _, c := range conns.All() {
					if !errors.Is(c.Err, remote.ErrHostKeyUnknown) || c.NewKey {
						t.Errorf("%s: err %v, new key %v; want the key refused", c.Label(), c.Err, c.NewKey)
					}
				}
				if strings.Contains(h.knownHosts(t), fp) || strings.Contains(h.knownHosts(t), strings.Fields(fresh.KnownHostsLine())[2]) {
					t.Errorf("known_hosts gained the refused key:\n%s", h.knownHosts(t))
				}
				return
			}
			if err := conns.Err(); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if n := strings.Count(notes.String(), fp); n != 1 {
				t.Errorf("the new key %s was shown %d times, want once:\n%s", fp, n, notes.String())
			}
			if !strings.Contains(notes.String(), "new host key "+newKey.Type()+" "+fp) {
				t.Errorf("the note does not say what it is:\n%s", notes.String())
			}
			for _, c := range conns.All() {
				if !c.NewKey {
					t.Errorf("%s: NewKey is false, but a key was recorded for it", c.Label())
				}
			}
			line := fresh.KnownHostsLine()
			if tt.jump {
				line = hop.KnownHostsLine()
			}
			if n := strings.Count(h.knownHosts(t), line); n != 1 {
				t.Errorf("known_hosts holds the new key %d times, want once:\n%s", n, h.knownHosts(t))
			}
		})
	}
}

func TestCloseEndsEveryConnection(t *testing.T) {
	h := newHosts(t)
	h.server(t, "host-a", true)
	h.server(t, "host-b", true)
	h.alias("host-c", closedPort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conns := (&playbooks.Session{}).Connect(ctx, h.config(t), []playbooks.Target{
		{Name: "pve1", Address: "host-a"}, {Name: "pve2", Address: "host-b"}, {Name: "pve3", Address: "host-c"}})
	conns.Close() // an unreachable host in the set is no reason to panic
	for _, c := range conns.All()[:2] {
		if _, err := run(t, c.Client, "true"); err == nil {
			t.Errorf("%s: a command ran after Close", c.Name)
		}
	}
}
