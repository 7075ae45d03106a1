package remote

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Client is one SSH connection to one host, shared by every command of a run. Its methods
// are safe for concurrent use; each command, upload and download opens its own session.
type Client struct {
	host      string
	conn      *ssh.Client   // the target
	hops      []*ssh.Client // jump hosts, outermost first
	key       ssh.PublicKey
	via       string // jump chain, for the log
	auth      string // the credential that authenticated
	log       *slog.Logger
	slots     chan struct{} // one per open session, bounded by Config.MaxSessions
	maxOutput int           // per stream, see Config.MaxOutput

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}  // closed by Close; stops the keepalive
	stopping  sync.WaitGroup // timed-out commands still being stopped; Close waits for them
}

func newClient(host string, chain []*ssh.Client, key ssh.PublicKey, cfg Config) *Client {
	c := &Client{
		host:      host,
		conn:      chain[len(chain)-1],
		hops:      chain[:len(chain)-1],
		key:       key,
		log:       cfg.logger().With("host", host),
		slots:     make(chan struct{}, cfg.maxSessions()),
		maxOutput: cfg.maxOutput(),
		done:      make(chan struct{}),
	}
	if every := cfg.keepAlive(); every > 0 {
		go c.keepAlive(every)
	}
	return c
}

// Host implements Runner: the name given to Dial.
func (c *Client) Host() string { return c.host }

// HostKey is the key the host presented, already verified (or accepted).
func (c *Client) HostKey() ssh.PublicKey { return c.key }

// Close ends the connection and those to the jump hosts. Commands still running fail. It
// first waits (up to a few seconds) until timed-out or cancelled commands were told to stop,
// so that an interrupted run leaves nothing running on the host.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		stopped := make(chan struct{})
		go func() { c.stopping.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(killAfter + time.Second):
		}
		close(c.done)
		c.closeErr = c.conn.Close()
		for i := len(c.hops) - 1; i >= 0; i-- {
			c.hops[i].Close()
		}
		c.log.Info("ssh disconnected")
	})
	if errors.Is(c.closeErr, net.ErrClosed) {
		return nil // the keepalive got there first
	}
	return c.closeErr
}

// acquire takes a session slot, waiting while MaxSessions are open.
func (c *Client) acquire(ctx context.Context) (release func(), err error) {
	select {
	case c.slots <- struct{}{}:
		return func() { <-c.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, errors.New("connection closed")
	}
}

// keepAlive detects a dead connection: when a keepalive gets no answer within the interval
// the connection is closed, so that running and later commands fail instead of hanging.
func (c *Client) keepAlive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case <-c.done:
			return
		case err := <-answered:
			if err == nil {
				continue
			}
			c.log.Warn("ssh connection lost", "error", err)
		case <-time.After(every):
			c.log.Warn("ssh connection lost", "error", "no answer to keepalive within "+every.String())
		}
		c.conn.Close()
		return
	}
}
