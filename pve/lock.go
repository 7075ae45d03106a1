package pve

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quorate/quorate/remote"
)

// LockHeldError is another run holding the node's lock: Owner says who and since when.
type LockHeldError struct{ Owner string }

func (e *LockHeldError) Error() string {
	owner := e.Owner
	if owner == "" {
		owner = "an unknown owner"
	}
	return "another quorate run holds the lock on this node: " + owner +
		" (the lock ends with that run's SSH connection, so it is never stale: wait for it, or stop it)"
}

const lockFile = "/run/quorate.lock"

// Lock takes the node's quorate lock for as long as ctx lives or until release is called.
// It is an flock held by a remote shell in a session of this run's SSH connection that writes
// to the session every second: when the run ends, however it ends, the session's pipes break
// and the holder with them, so a lock is never left behind by a dead run. owner is what
// another run is shown.
func (n *Node) Lock(ctx context.Context, owner string, hold time.Duration) (release func(), err error) {
	token := rand.Text()[:10]
	stamp := fmt.Sprintf("%s (since %s, token %s)", owner, time.Now().UTC().Format(time.RFC3339), token)
	// The holder writes a byte a second to the session: sshd ends a session without a
	// terminal by closing its pipes, not by a signal, so a holder that only slept would
	// outlive a killed run. Writing, it dies of the broken pipe within a second.
	line := fmt.Sprintf("cd / && exec flock -n -E 75 %s sh -c 'printf \"%%s, pid %%s\\n\" \"$1\" $$ > %s.owner && i=0 && "+
		"while [ $i -lt \"$2\" ]; do printf . || exit 0; sleep 1; i=$((i+1)); done' quorate %s %d",
		lockFile, lockFile, remote.Quote(stamp), int(hold.Seconds())+1)
	holdCtx, cancel := context.WithCancel(ctx)
	ended := make(chan remote.Result, 1)
	go func() {
		res, _ := n.runner.Run(holdCtx, remote.Command{Line: line, Timeout: hold})
		ended <- res
	}()
	release = func() {
		// The holder is ended by its pid, checked against the token first, so that the
		// release is a clean exit rather than a cancelled command; cancel is the fallback.
		kill := fmt.Sprintf("cd / && pid=$(sed -n 's/.*token %s), pid \\([0-9]*\\)$/\\1/p' %s.owner) && [ -n \"$pid\" ] && kill \"$pid\"", token, lockFile)
		killCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer stop()
		n.run(killCtx, remote.Command{Line: kill}, 5*time.Second)
		select {
		case <-ended:
		case <-time.After(3 * time.Second):
		}
		cancel()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case res := <-ended:
			cancel()
			if res.ExitCode == 75 {
				return nil, n.wrap("lock", &LockHeldError{Owner: n.lockOwner(ctx)})
			}
			return nil, n.wrap("lock", fmt.Errorf("flock ended with exit status %d: %s", res.ExitCode, strings.TrimSpace(string(res.Stderr))))
		case <-time.After(50 * time.Millisecond):
		}
		if strings.Contains(n.lockOwner(ctx), token) {
			return release, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			release()
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, n.wrap("lock", errors.New("the lock was neither taken nor refused within 10s"))
		}
	}
}

func (n *Node) lockOwner(ctx context.Context) string {
	res, err := n.run(ctx, remote.Command{Line: "cat " + lockFile + ".owner 2>/dev/null"}, 5*time.Second)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(res.Stdout))
}
