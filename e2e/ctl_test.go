package e2e

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/playbooks"
	"github.com/quorate/quorate/pve"
	"github.com/quorate/quorate/remote"
)

// The inner side's tools: the connections to the lab's hosts, bounded calls and polling.

// cluster is what the inner scenario works with: the cluster file, one connection and one
// pve.Node per host, in the file's order.
type cluster struct {
	inv      *inventory.Inventory
	password string
	clients  []*remote.Client
	nodes    []*pve.Node
}

func (c *cluster) byName(name string) (*pve.Node, inventory.Node) {
	for i, n := range c.inv.Nodes {
		if n.Name == name {
			return c.nodes[i], n
		}
	}
	panic("no node " + name)
}

// call bounds one remote call; every call the scenario makes goes through it.
func call(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes; cond gets a context bounded
// by what is left and says why it does not hold yet.
func eventually(t *testing.T, what string, limit time.Duration, cond func(ctx context.Context) (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		ok, why := cond(ctx)
		cancel()
		if ok {
			return time.Since(start)
		}
		last = why
		// Pace the polls without sleeping through the deadline.
		select {
		case <-time.After(200 * time.Millisecond):
		case <-time.After(time.Until(deadline)):
		}
	}
	t.Fatalf("%s: not after %s: %s", what, limit, last)
	return 0
}

// timed logs how long a step took: these are the figures of the report.
func timed(t *testing.T, step string) func() {
	start := time.Now()
	return func() { t.Logf("timing: %-34s %s", step, time.Since(start).Round(time.Millisecond)) }
}

// connect reads the lab's cluster file as quorate would and dials every host with its key
// and known_hosts; remote logs JSON to the file the outer test reads.
func connect(t *testing.T) *cluster {
	defer timed(t, "dial 3 hosts")()
	inv, err := inventory.Load(os.Getenv(clusterEnv), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if probs := inv.Validate(); len(probs) > 0 {
		t.Fatalf("the lab's cluster file does not validate: %v", probs)
	}
	pw, ok := os.LookupEnv(inv.Cluster.PasswordEnv)
	if !ok || pw == "" {
		t.Fatalf("no root password in $%s", inv.Cluster.PasswordEnv)
	}
	logf, err := os.OpenFile(os.Getenv(logEnv), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cfg := playbooks.RemoteConfig(inv.SSH)
	cfg.SSHConfigFile, cfg.AgentSocket = "none", "none"
	cfg.Log = slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := &cluster{inv: inv, password: pw, clients: make([]*remote.Client, len(inv.Nodes)), nodes: make([]*pve.Node, len(inv.Nodes))}
	errs := make([]error, len(inv.Nodes))
	var wg sync.WaitGroup
	for i, n := range inv.Nodes {
		wg.Go(func() {
			c.clients[i], errs[i] = remote.Dial(call(t, 15*time.Second), n.Address, cfg)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, cl := range c.clients {
		t.Cleanup(func() { cl.Close() })
		c.nodes[i] = pve.NewNode(cl)
	}
	return c
}

// knownFingerprints reads the SSH host key fingerprints known_hosts holds for addr.
func knownFingerprints(t *testing.T, file, addr string) []string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, hosts, key, _, _, err := ssh.ParseKnownHosts(sc.Bytes())
		if err != nil {
			continue
		}
		if slices.Contains(hosts, addr) {
			fps = append(fps, ssh.FingerprintSHA256(key))
		}
	}
	sort.Strings(fps)
	return fps
}
