package remote_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
	"golang.org/x/crypto/ssh"
)

// These benchmarks measure quorate's own transport overhead against the in-process server
// on 127.0.0.1: the SSH handshake, a session per command, the marker and supervisor that
// Run wraps every line in, and the server's sh -c. A real host adds the network and sshd.

// benchConfig is newFixture for benchmarks: a server, an identity it accepts, a
// known_hosts that knows it, and records logged nowhere (a run's log file costs the same
// whatever the transport does).
func benchConfig(b *testing.B) (*remotetest.Server, remote.Config) {
	b.Helper()
	dir := b.TempDir()
	id := remotetest.NewIdentity(b, dir, "id_ed25519", "")
	srv := remotetest.Start(b, remotetest.Options{AuthorizedKeys: []ssh.PublicKey{id.PublicKey()}})
	known := remotetest.WriteKnownHosts(b, filepath.Join(dir, "known_hosts"), srv.KnownHostsLine())
	return srv, remote.Config{
		SSHConfigFile:  "none",
		AgentSocket:    "none",
		KnownHostsFile: known,
		IdentityFiles:  []string{id.File},
		DialTimeout:    3 * time.Second,
		Log:            slog.New(slog.DiscardHandler),
	}
}

func benchDial(b *testing.B, srv *remotetest.Server, cfg remote.Config) *remote.Client {
	b.Helper()
	c, err := remote.Dial(context.Background(), srv.Addr(), cfg)
	if err != nil {
		b.Fatalf("Dial: %v", err)
	}
	return c
}

var benchCommand = remote.Command{Line: "echo ok"}

func benchRun(b *testing.B, c *remote.Client) {
	res, err := c.Run(context.Background(), benchCommand)
	if err != nil {
		b.Error(err)
		return
	}
	if string(res.Stdout) != "ok\n" {
		b.Errorf("stdout %q, want %q", res.Stdout, "ok\n")
	}
}

// BenchmarkRun is one command round trip on an open connection: session, marker,
// supervisor, exit status.
func BenchmarkRun(b *testing.B) {
	srv, cfg := benchConfig(b)
	c := benchDial(b, srv, cfg)
	defer c.Close()
	benchRun(b, c) // the first session of a connection is not the common case
	b.ReportAllocs()
	for b.Loop() {
		benchRun(b, c)
	}
}

// BenchmarkDialRun is what reaching a host costs before its first answer: handshake, host
// key check, publickey authentication, then one command, then Close.
func BenchmarkDialRun(b *testing.B) {
	srv, cfg := benchConfig(b)
	b.ReportAllocs()
	for b.Loop() {
		c := benchDial(b, srv, cfg)
		benchRun(b, c)
		c.Close()
	}
}

// BenchmarkRunConcurrent runs N commands at once on one connection (an op is the batch of
// N); ns/cmd is the cost per command. Past Config.MaxSessions (8) commands wait for a slot.
func BenchmarkRunConcurrent(b *testing.B) {
	srv, cfg := benchConfig(b)
	c := benchDial(b, srv, cfg)
	defer c.Close()
	benchRun(b, c)
	for _, n := range []int{2, 8, 32} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			ops := 0
			for b.Loop() {
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() { benchRun(b, c) })
				}
				wg.Wait()
				ops++
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(ops*n), "ns/cmd")
		})
	}
}
