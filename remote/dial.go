package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Dial connects to host (an ssh config alias, a name or an address, optionally
// "user@host:port"), through any jump hosts, verifies every host key and authenticates. The
// returned Client is the one connection to host for the whole run. Errors match ErrUnreachable,
// ErrAuth, ErrHostKeyUnknown or ErrHostKeyChanged; only unreachable ones are retried.
//
// Its errors are *Error with Host set; their text leaves the host out (see Error).
func Dial(ctx context.Context, host string, cfg Config) (*Client, error) {
	r, err := resolve(host, cfg)
	if err != nil {
		return nil, &Error{Host: host, Err: err}
	}
	c, err := dial(ctx, host, r, cfg)
	if err != nil {
		return nil, &Error{Host: host, Addr: r.target.addr(), Err: err}
	}
	return c, nil
}

func dial(ctx context.Context, host string, r *route, cfg Config) (*Client, error) {
	cfg = r.withDefaults(cfg)
	log := cfg.logger().With("host", host)
	start := time.Now()
	var lastErr error
	for attempt := 0; attempt <= cfg.retries(); attempt++ {
		if attempt > 0 {
			if err := sleepCtx(ctx, backoff(attempt)); err != nil {
				return nil, fmt.Errorf("%w; gave up: %w", lastErr, err)
			}
		}
		c, err := dialOnce(ctx, host, r, cfg)
		if err == nil {
			c.log.Info("ssh connected", "addr", r.target.addr(), "user", r.target.user, "via", c.via,
				"host_key", Fingerprint(c.key), "auth", c.auth, "attempts", attempt+1,
				"duration", time.Since(start).Round(time.Millisecond))
			return c, nil
		}
		lastErr = err
		final := !isTransient(err) || ctx.Err() != nil || attempt == cfg.retries()
		// The last failure is returned to the caller, who reports it; logging it as a warning
		// as well would show it twice.
		level := slog.LevelWarn
		if final {
			level = slog.LevelInfo
		}
		log.Log(ctx, level, "ssh connect failed", "addr", r.target.addr(), "attempt", attempt+1, "error", err)
		if final {
			break
		}
	}
	return nil, lastErr
}

func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << (attempt - 1)
	return min(d, 2*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transientError marks a failure worth another attempt.
type transientError struct{ error }

func (e transientError) Unwrap() error { return e.error }

func isTransient(err error) bool {
	var t transientError
	return errors.As(err, &t)
}

// dialOnce makes one attempt through every hop; on failure everything opened is closed.
func dialOnce(ctx context.Context, host string, r *route, cfg Config) (*Client, error) {
	keys, err := newHostKeys(r.knownHosts, cfg)
	if err != nil {
		return nil, err
	}
	hops := append(append([]endpoint(nil), r.jumps...), r.target)
	var clients []*ssh.Client
	closeAll := func() {
		for i := len(clients) - 1; i >= 0; i-- {
			clients[i].Close()
		}
	}
	var via []string
	var targetKey ssh.PublicKey
	var creds *credentials
	for i, ep := range hops {
		isTarget := i == len(hops)-1
		var password func() (string, error)
		if isTarget {
			// The target's root password is never offered to a jump host.
			password = cfg.Password
		}
		creds = &credentials{}
		var seen ssh.PublicKey
		clientCfg := &ssh.ClientConfig{
			User:              ep.user,
			Auth:              creds.authMethods(ep, r.agentSocket, cfg.Passphrase, password),
			HostKeyCallback:   keys.callback(ep, &seen),
			HostKeyAlgorithms: keys.algorithms(ep.addr()),
			Timeout:           cfg.dialTimeout(),
		}
		var prev *ssh.Client
		if i > 0 {
			prev = clients[i-1]
		}
		c, err := handshake(ctx, prev, ep, clientCfg, creds, cfg.dialTimeout())
		creds.close()
		if err != nil {
			closeAll()
			err = classify(ctx, ep, seen, creds, err)
			if !isTarget {
				err = fmt.Errorf("jump host %s (%s): %w", ep.name, ep.addr(), err)
			}
			return nil, err
		}
		clients = append(clients, c)
		if !isTarget {
			via = append(via, ep.user+"@"+ep.addr())
		}
		targetKey = seen
	}
	if err := keys.record(); err != nil {
		closeAll()
		return nil, err
	}
	c := newClient(host, clients, targetKey, cfg)
	c.via = strings.Join(via, ",")
	c.auth = creds.used
	return c, nil
}

// handshake opens a TCP connection to ep (directly, or through prev) and runs the SSH
// handshake, bounded by ctx and by timeout, a budget that stops while the user is prompted.
func handshake(ctx context.Context, prev *ssh.Client, ep endpoint, clientCfg *ssh.ClientConfig,
	creds *credentials, timeout time.Duration) (*ssh.Client, error) {
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	var conn net.Conn
	var err error
	if prev == nil {
		var d net.Dialer
		conn, err = d.DialContext(dialCtx, "tcp", ep.addr())
	} else {
		conn, err = prev.DialContext(dialCtx, "tcp", ep.addr())
	}
	cancel()
	if err != nil {
		return nil, &connectError{err}
	}
	// x/crypto's handshake takes no context: closing the connection is what interrupts it.
	w := newWatchdog(timeout, conn)
	creds.watch = w
	stopCtx := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, ep.addr(), clientCfg)
	ctxFired := !stopCtx()
	timedOut := w.stop()
	switch {
	case err == nil && !ctxFired && !timedOut:
		return ssh.NewClient(sc, chans, reqs), nil
	case err == nil:
		sc.Close()
	default:
		conn.Close()
	}
	if ctxFired {
		return nil, ctx.Err()
	}
	if timedOut {
		return nil, fmt.Errorf("SSH handshake took longer than %v: %w", timeout, context.DeadlineExceeded)
	}
	return nil, err
}

// watchdog closes conn when the handshake outlives its budget; pause and resume bracket the
// time spent waiting for the user.
type watchdog struct {
	mu      sync.Mutex
	timer   *time.Timer
	budget  time.Duration
	fired   bool
	stopped bool
}

func newWatchdog(budget time.Duration, conn net.Conn) *watchdog {
	w := &watchdog{budget: budget}
	w.timer = time.AfterFunc(budget, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.stopped {
			w.fired = true
			conn.Close()
		}
	})
	return w
}

func (w *watchdog) pause() {
	if w != nil {
		w.timer.Stop()
	}
}

func (w *watchdog) resume() {
	if w != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.stopped && !w.fired {
			w.timer.Reset(w.budget)
		}
	}
}

// stop disarms the watchdog and reports whether it had fired.
func (w *watchdog) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
	return w.fired
}

// connectError is a failure to open the TCP connection, before any SSH was spoken.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// classify maps a handshake failure onto the sentinels. seen is the host key presented (nil
// when the failure came before it).
func classify(ctx context.Context, ep endpoint, seen ssh.PublicKey, creds *credentials, err error) error {
	var changed *HostKeyChangedError
	var unknown *HostKeyUnknownError
	if errors.As(err, &changed) {
		return changed // without x/crypto's "ssh: handshake failed" prefix
	}
	if errors.As(err, &unknown) {
		return unknown
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return fmt.Errorf("connect: %w", ctx.Err())
		}
		return fmt.Errorf("%w: %w", ErrUnreachable, ctx.Err())
	}
	var ce *connectError
	if errors.As(err, &ce) {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return fmt.Errorf("%w: %v", ErrUnreachable, err)
		}
		return transientError{fmt.Errorf("%w: %v", ErrUnreachable, withoutAddr(err))}
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return transientError{fmt.Errorf("%w: %v", ErrUnreachable, withoutAddr(err))}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.EPIPE) {
		// sshd drops connections beyond MaxStartups and while it restarts: try again.
		return transientError{fmt.Errorf("%w: connection closed during the SSH handshake: %v", ErrUnreachable, withoutAddr(err))}
	}
	if seen != nil {
		// The host key was verified; what fails after that is authentication (x/crypto's
		// "unable to authenticate", or one of our credentials failing, e.g. a bad passphrase).
		tried, detail := creds.describe(), trimSSHPrefix(err)
		if creds.causedBy(err) {
			// One of our credentials failed, and describe already says how.
			return fmt.Errorf("%w: %s@%s (tried %s)", ErrAuth, ep.user, ep.addr(), tried)
		}
		return fmt.Errorf("%w: %s@%s (tried %s): %v", ErrAuth, ep.user, ep.addr(), tried, detail)
	}
	return fmt.Errorf("%s: %w", ep.addr(), err)
}

// withoutAddr is a dial error without the address net puts in it ("dial tcp ADDR: connect:
// connection refused" becomes "connect: connection refused"): Error.Addr carries it once.
func withoutAddr(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func trimSSHPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "ssh: handshake failed: ")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
