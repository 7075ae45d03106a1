package bootstrap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/bootstrap"
	"github.com/quorate/quorate/pve/pvetest"
	"github.com/quorate/quorate/remote"
)

// relogins records the fresh SSH logins Verify asks for, failing with err.
type relogins struct {
	mu    sync.Mutex
	nodes []string
	err   error
}

func (r *relogins) login(ctx context.Context, node string) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("relogin without a deadline")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nodes = append(r.nodes, node)
	return r.err
}

func (r *relogins) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.nodes)
}

func TestVerifyPasses(t *testing.T) {
	tests := []struct {
		name    string
		newNode string // "" verifies an existing cluster: no API check, no login
	}{
		{name: "an existing cluster"},
		{name: "after pve3 joined", newNode: "pve3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			members := []string{"pve1", "pve2", "pve3"}
			c := newCluster(t, members...)
			for _, m := range members {
				v := healthy(m, members...)
				v.version = 7
				answer(c.runners[m], v, 1)
				writable(c.runners[m], 1).Required()
			}
			if tt.newNode != "" {
				// The API of the new node is asked for from a member that was there before.
				apiAnswers(c.runners["pve1"], tt.newNode, 1).Required()
			}
			login := &relogins{}
			e := &bootstrap.Engine{Inventory: clusterFile("demo", members...), Nodes: c.nodes, Relogin: login.login, VerifyTimeout: 5 * time.Second, PollInterval: time.Millisecond}
			v, err := e.Verify(context.Background(), bootstrap.Expect{Members: members, Votes: 3, NewNode: tt.newNode})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.ConfigVersion != 7 {
				t.Errorf("config version %d, want 7", v.ConfigVersion)
			}
			wantLogins := []string{tt.newNode}
			if tt.newNode == "" {
				wantLogins = nil
			}
			if got := login.got(); !slices.Equal(got, wantLogins) {
				t.Errorf("fresh SSH logins %v, want %v", got, wantLogins)
			}
		})
	}
}

// Quorum comes a moment after a join: Verify looks again until it is there.
func TestVerifyWaitsUntilQuorate(t *testing.T) {
	members := []string{"pve1", "pve2"}
	c := newCluster(t, members...)
	answer(c.runners["pve1"], healthy("pve1", members...), -1)
	writable(c.runners["pve1"], -1)
	joining := healthy("pve2", members...)
	joining.quorate, joining.total, joining.offline = false, 1, []string{"pve1"}
	// Exactly two answers queued: a third look at pve2 would be an unexpected command.
	c.runners["pve2"].On(pveshStatus).Reply(joining.pvesh()).Required()
	c.runners["pve2"].On(pvecmStatus).Reply(joining.pvecm()).Required()
	c.runners["pve2"].On(pveshStatus).Reply(healthy("pve2", members...).pvesh()).Required()
	c.runners["pve2"].On(pvecmStatus).Reply(healthy("pve2", members...).pvecm()).Required()
	writable(c.runners["pve2"], 1).Required()

	e := &bootstrap.Engine{Inventory: clusterFile("demo", members...), Nodes: c.nodes, VerifyTimeout: 10 * time.Second, PollInterval: time.Millisecond}
	if _, err := e.Verify(context.Background(), bootstrap.Expect{Members: members, Votes: 2}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if n := c.count("pve2", pveshStatus); n != 2 {
		t.Errorf("pve2's status was read %d times, want 2 (not quorate, then quorate)", n)
	}
}

func TestVerifyFailsAfterTheTimeout(t *testing.T) {
	members := []string{"pve1", "pve2"}
	const timeout = 30 * time.Millisecond
	tests := []struct {
		name    string
		newNode string
		login   error
		setup   func(c *cluster)
		want    string // one of the problems starts with it
	}{
		{
			name: "a member not quorate",
			setup: func(c *cluster) {
				v := healthy("pve2", members...)
				v.quorate, v.total, v.offline = false, 1, []string{"pve1"}
				answer(c.runners["pve2"], v, -1)
			},
			want: "pve2: not quorate",
		},
		{
			name: "votes short of what the plan says",
			setup: func(c *cluster) {
				v := healthy("pve2", members...)
				v.votes = 3 // an expected vote left over from a node that was removed
				v.total = 2
				answer(c.runners["pve2"], v, -1)
			},
			want: "pve2: total votes 2, expected votes 3; want both 2",
		},
		{
			name: "a member offline",
			setup: func(c *cluster) {
				v := healthy("pve2", members...)
				v.offline = []string{"pve1"}
				answer(c.runners["pve2"], v, -1)
			},
			want: "pve2: members offline: pve1",
		},
		{
			name: "a member missing",
			setup: func(c *cluster) {
				v := healthy("pve2", "pve2")
				v.votes = 2
				answer(c.runners["pve2"], v, -1)
			},
			want: "pve2: members online [pve2], want [pve1 pve2]",
		},
		{
			name: "members disagree on the config version",
			setup: func(c *cluster) {
				v := healthy("pve2", members...)
				v.version = 2
				answer(c.runners["pve2"], v, -1)
			},
			want: "members disagree on the corosync config version: version 1 on pve1; version 2 on pve2",
		},
		{
			name: "a status that cannot be read",
			setup: func(c *cluster) {
				c.runners["pve2"].On(pveshStatus).AnyTimes().Fail(&remote.Error{Host: "pve2", Err: fmt.Errorf("%w: connection lost", remote.ErrUnreachable)})
			},
			want: "pve2: status: host unreachable",
		},
		{
			name: "a read-only /etc/pve",
			setup: func(c *cluster) {
				answer(c.runners["pve2"], healthy("pve2", members...), -1)
				readOnly(c.runners["pve2"])
			},
			want: "pve2: write /etc/pve: /etc/pve is read-only",
		},
		{
			name: "the new node's API does not answer", newNode: "pve2",
			setup: func(c *cluster) {
				answer(c.runners["pve2"], healthy("pve2", members...), -1)
				writable(c.runners["pve2"], -1)
				c.runners["pve1"].On(curlLine("pve2")).AnyTimes().Reply(pvetest.Output{Stdout: "000", ExitCode: 7})
			},
			want: "pve1: the API of pve2: ",
		},
		{
			name: "a fresh SSH login fails", newNode: "pve2", login: remote.ErrAuth,
			setup: func(c *cluster) {
				answer(c.runners["pve2"], healthy("pve2", members...), -1)
				writable(c.runners["pve2"], -1)
				apiAnswers(c.runners["pve1"], "pve2", -1)
			},
			want: "pve2: a fresh SSH login fails",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, members...)
			answer(c.runners["pve1"], healthy("pve1", members...), -1)
			writable(c.runners["pve1"], -1)
			tt.setup(c)
			login := &relogins{err: tt.login}
			e := &bootstrap.Engine{Inventory: clusterFile("demo", members...), Nodes: c.nodes, Relogin: login.login, VerifyTimeout: timeout, PollInterval: time.Millisecond}
			start := time.Now()
			_, err := e.Verify(context.Background(), bootstrap.Expect{Members: members, Votes: 2, NewNode: tt.newNode})
			var nq *bootstrap.NotQuorateError
			if !errors.As(err, &nq) {
				t.Fatalf("Verify = %v, want a *NotQuorateError", err)
			}
			if nq.Waited < timeout || time.Since(start) < timeout {
				t.Errorf("gave up after %v, before the %v it was given", nq.Waited, timeout)
			}
			if !slices.ContainsFunc(nq.Problems, func(p string) bool { return strings.HasPrefix(p, tt.want) }) {
				t.Errorf("problems %q, want one starting %q", nq.Problems, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("the error the user reads does not show the problem %q: %v", tt.want, err)
			}
		})
	}
}

// An interrupted run stops verifying at once with the cause, rather than waiting out the
// timeout and blaming the cluster.
func TestVerifyStopsWhenCancelled(t *testing.T) {
	c := newCluster(t, "pve1")
	e := &bootstrap.Engine{Inventory: clusterFile("demo", "pve1"), Nodes: c.nodes, VerifyTimeout: time.Hour, PollInterval: time.Hour}
	ctx, cancel := context.WithCancelCause(context.Background())
	interrupted := errors.New("interrupted")
	cancel(interrupted)
	_, err := e.Verify(ctx, bootstrap.Expect{Members: []string{"pve1"}, Votes: 1})
	if !errors.Is(err, interrupted) {
		t.Errorf("Verify = %v, want the cause %v", err, interrupted)
	}
}
