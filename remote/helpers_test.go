package remote_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
)

// fixture is one in-process server, a client identity it accepts, a known_hosts file that
// knows it, and a Config using all three (and nothing of the user running the tests).
type fixture struct {
	dir   string
	id    remotetest.Identity
	srv   *remotetest.Server
	known string
	cfg   remote.Config
	log   *syncBuffer
}

func newFixture(t *testing.T, opts remotetest.Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	id := remotetest.NewIdentity(t, dir, "id_ed25519", "")
	opts.AuthorizedKeys = append(opts.AuthorizedKeys, id.PublicKey())
	srv := remotetest.Start(t, opts)
	known := remotetest.WriteKnownHosts(t, filepath.Join(dir, "known_hosts"), srv.KnownHostsLine())
	logBuf := &syncBuffer{}
	return &fixture{
		dir: dir, id: id, srv: srv, known: known, log: logBuf,
		cfg: remote.Config{
			SSHConfigFile:  "none",
			AgentSocket:    "none",
			KnownHostsFile: known,
			IdentityFiles:  []string{id.File},
			DialTimeout:    3 * time.Second,
			Log:            slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		},
	}
}

func (f *fixture) dial(t *testing.T) *remote.Client {
	t.Helper()
	c, err := remote.Dial(context.Background(), f.srv.Addr(), f.cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
