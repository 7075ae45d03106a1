package playbooks

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-multierror"
	"golang.org/x/crypto/ssh"

	"github.com/quorate/quorate/remote"
)

// Target is one host a playbook reaches.
type Target struct {
	// Name is the PVE node name when quorate knows it (from the cluster file), else "".
	Name string
	// Address is where to connect: what the user gave, "[user@]host[:port]" or an alias.
	Address string
}

// Label is how errors and reports name the host: its node name when known, else its address.
func (t Target) Label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Address
}

// HostError is one host's failure, named once by its Label. errors.Is and errors.As reach
// the cause.
type HostError struct {
	Host string
	Err  error
}

// Error names the host once; the address it was dialled at is added when the host is named
// otherwise (a node name, an ssh config alias), since "unreachable" is about the address.
func (e *HostError) Error() string {
	var re *remote.Error
	if errors.As(e.Err, &re) && re.Addr != "" && errors.Is(e.Err, remote.ErrUnreachable) && !namesAddr(e.Host, re.Addr) {
		return e.Host + " (" + re.Addr + "): " + e.Err.Error()
	}
	return e.Host + ": " + e.Err.Error()
}

// namesAddr tells whether label already says addr ("198.51.100.11" for "198.51.100.11:22").
func namesAddr(label, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	return label == addr || (err == nil && port == "22" && label == host)
}
func (e *HostError) Unwrap() error { return e.Err }

// Conn is one host of the connection set: its one SSH connection for the whole run, or why
// there is none.
type Conn struct {
	Target
	Client *remote.Client // nil when Err is set
	Err    error          // why the host could not be reached, as a *HostError
	// NewKey is true when this Dial recorded a host key that was not known before (the
	// host's or a jump host's).
	NewKey bool
	index  int // in the targets given to Connect
}

// Conns is the connection set: every host dialled in parallel, one connection each, closed
// together at the end of the run.
type Conns struct {
	list []*Conn
}

// Connect dials every target at once. A host that cannot be reached does not stop the others:
// its Conn carries the error. A new host key (allowed only with cfg.AcceptNewHostKeys) is
// shown through the session once per host and key, even when several targets share a jump
// host.
func (s *Session) Connect(ctx context.Context, cfg remote.Config, targets []Target) *Conns {
	var shownMu sync.Mutex
	shown := map[string]bool{}
	announce := func(host string, key ssh.PublicKey) {
		shownMu.Lock()
		defer shownMu.Unlock()
		if id := host + " " + remote.Fingerprint(key); !shown[id] {
			shown[id] = true
			s.notef("%s: new host key %s %s; recording it in known_hosts once logged in", host, key.Type(), remote.Fingerprint(key))
		}
	}
	c := &Conns{list: make([]*Conn, len(targets))}
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.list[i] = dialOne(ctx, cfg, t, announce)
			c.list[i].index = i
		}()
	}
	wg.Wait()
	return c
}

func dialOne(ctx context.Context, cfg remote.Config, t Target, announce func(string, ssh.PublicKey)) *Conn {
	conn := &Conn{Target: t}
	var sawNew atomic.Bool
	cfg.OnNewHostKey = func(host string, key ssh.PublicKey) error {
		sawNew.Store(true) // a jump host's key counts too: something new was recorded for this run
		announce(host, key)
		return nil
	}
	client, err := remote.Dial(ctx, t.Address, cfg)
	if err != nil {
		conn.Err = &HostError{Host: t.Label(), Err: err}
		return conn
	}
	conn.Client, conn.NewKey = client, sawNew.Load()
	return conn
}

// All is every host, in the order of the targets.
func (c *Conns) All() []*Conn { return c.list }

// Err gathers the hosts that could not be reached, or is nil when all were.
func (c *Conns) Err() error {
	errs := &multierror.Error{ErrorFormat: oneLinePerHost}
	for _, conn := range c.list {
		if conn.Err != nil {
			errs = multierror.Append(errs, conn.Err)
		}
	}
	return errs.ErrorOrNil()
}

// Each runs fn on every reached host at once and gathers the failures, each named by its
// host (a *HostError inside a *multierror.Error).
func (c *Conns) Each(ctx context.Context, fn func(ctx context.Context, conn *Conn) error) error {
	var g multierror.Group
	for _, conn := range c.list {
		if conn.Client == nil {
			continue
		}
		g.Go(func() error {
			if err := fn(ctx, conn); err != nil {
				return &HostError{Host: conn.Label(), Err: err}
			}
			return nil
		})
	}
	errs := g.Wait()
	if errs != nil {
		errs.ErrorFormat = oneLinePerHost
	}
	return errs.ErrorOrNil()
}

// oneLinePerHost writes the hosts' errors one per line, each already naming its host.
func oneLinePerHost(errs []error) string {
	lines := make([]string, len(errs))
	for i, err := range errs {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Close ends every connection; commands still running on them are stopped.
func (c *Conns) Close() {
	for _, conn := range c.list {
		if conn.Client != nil {
			conn.Client.Close()
		}
	}
}
